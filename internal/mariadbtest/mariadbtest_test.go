package mariadbtest_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/builtfast/vectord/internal/mariadbtest"
	"github.com/builtfast/vectord/vectorsim"
	"github.com/google/go-cmp/cmp"
)

// TestBackend: what Export hands the simulator is a complete MariaDB dump,
// and Import of it restores the tables exactly.
func TestBackend(t *testing.T) {
	s := mariadbtest.Start(t)
	ctx := t.Context()
	if err := s.CreateWordPress(ctx, "wp", mariadbtest.WordPress{Posts: 200, Options: 50, LargeRows: 1, LargeSize: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	before, err := s.Checksums(ctx, "wp")
	if err != nil {
		t.Fatal(err)
	}
	wantTables := []string{"wp_comments", "wp_options", "wp_postmeta", "wp_posts", "wp_users"}
	if got := keys(before); !cmp.Equal(got, wantTables) {
		t.Fatalf("Checksums() tables = %v, want %v", got, wantTables)
	}

	b := s.Backend(map[vectorsim.EnvKey]string{{Site: "1001"}: "wp"})
	body, err := b.Export(ctx, "1001", "")
	if err != nil {
		t.Fatal(err)
	}
	sql, err := io.ReadAll(io.NewSectionReader(body, 0, body.Size()))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"-- MariaDB dump", "CREATE TABLE `wp_posts`", "TRIGGER", "FUNCTION `wp_published_posts`", "🎉", "-- Dump completed on "} {
		if !bytes.Contains(sql, []byte(want)) {
			t.Errorf("the exported dump (%d bytes) lacks %q", len(sql), want)
		}
	}

	if err := s.Exec(ctx, "wp", strings.NewReader("DELETE FROM wp_posts WHERE ID % 7 = 0; DROP TABLE wp_options;")); err != nil {
		t.Fatal(err)
	}
	if changed, _ := s.Checksums(ctx, "wp"); cmp.Equal(changed, before) {
		t.Fatal("the change did not change the checksums")
	}
	if err := b.Import(ctx, "1001", "", bytes.NewReader(sql)); err != nil {
		t.Fatal(err)
	}
	after, err := s.Checksums(ctx, "wp")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("checksums after import (-before +after):\n%s", diff)
	}
	rows, err := s.Query(ctx, "wp", "SELECT wp_published_posts(), (SELECT COUNT(*) FROM information_schema.triggers WHERE trigger_schema = 'wp')")
	if err != nil || len(rows) != 1 || rows[0][0] == "0" || rows[0][1] != "1" {
		t.Errorf("after import: function and trigger query = %v, %v; want a post count and 1 trigger", rows, err)
	}
}

func TestBackendErrors(t *testing.T) {
	s := mariadbtest.Start(t)
	ctx := t.Context()
	if err := s.Exec(ctx, "", strings.NewReader("CREATE DATABASE wp;")); err != nil {
		t.Fatal(err)
	}
	b := s.Backend(map[vectorsim.EnvKey]string{{Site: "1001"}: "wp"})
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"import of bad SQL", b.Import(ctx, "1001", "", strings.NewReader("CREATE TABLE t (id INT);\nINSRT INTO t VALUES (1);\n")), "ERROR 1064"},
		{"import into an unknown site", b.Import(ctx, "9", "", strings.NewReader("SELECT 1;")), "no database for site 9"},
		{"export of an unknown environment", exportErr(b.Export(ctx, "1001", "2001")), "no database for site 1001"},
		{"emoji without utf8mb4 would fail", s.Exec(ctx, "wp", strings.NewReader("CREATE TABLE e (s TEXT) CHARSET utf8mb4; INSERT INTO e VALUES ('🎉');")), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.want == "" {
				if tt.err != nil {
					t.Errorf("err = %v, want nil", tt.err)
				}
				return
			}
			if tt.err == nil || !strings.Contains(tt.err.Error(), tt.want) {
				t.Errorf("err = %v, want one containing %q", tt.err, tt.want)
			}
		})
	}
}

func exportErr(_ vectorsim.Body, err error) error {
	if err == nil {
		return errors.New("export succeeded")
	}
	return err
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slicesSort(out)
	return out
}

func slicesSort(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

var _ = context.Background
