package mariadbtest_test

import (
	"bytes"
	"io"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/builtfast/vectord/internal/mariadbtest"
	"github.com/builtfast/vectord/vectorsim"
	"github.com/google/go-cmp/cmp"
)

func TestServer(t *testing.T) {
	s := mariadbtest.Start(t)
	if !strings.Contains(s.Version, "MariaDB") {
		t.Errorf("Version = %q, want a MariaDB version", s.Version)
	}

	// What Export hands the simulator is a complete MariaDB dump, and an
	// Import of it restores the tables exactly.
	t.Run("round trip", func(t *testing.T) {
		ctx := t.Context()
		if err := s.CreateWordPress(ctx, "wp", mariadbtest.WordPress{Posts: 200, Options: 50, LargeRows: 1, LargeSize: 1 << 20}); err != nil {
			t.Fatal(err)
		}
		before, err := s.Checksums(ctx, "wp")
		if err != nil {
			t.Fatal(err)
		}
		wantTables := []string{"wp_comments", "wp_options", "wp_postmeta", "wp_posts", "wp_users"}
		if got := slices.Sorted(maps.Keys(before)); !cmp.Equal(got, wantTables) {
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

		change := "DELETE FROM wp_posts WHERE ID % 7 = 0; DROP TABLE wp_options; CREATE TABLE extra (id INT); CREATE VIEW extra_view AS SELECT * FROM extra;"
		if err := s.Exec(ctx, "wp", strings.NewReader(change)); err != nil {
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
		// Tables and views created after the export are gone, as with the
		// API's drop_tables.
		if diff := cmp.Diff(before, after); diff != "" {
			t.Errorf("checksums after import (-before +after):\n%s", diff)
		}
		if rows, err := s.Query(ctx, "wp", "SHOW FULL TABLES WHERE Table_type = 'VIEW'"); err != nil || len(rows) != 0 {
			t.Errorf("views after import: %v, %v; want none", rows, err)
		}
		rows, err := s.Query(ctx, "wp", "SELECT wp_published_posts(), (SELECT COUNT(*) FROM information_schema.triggers WHERE trigger_schema = 'wp')")
		if err != nil || len(rows) != 1 || rows[0][0] == "0" || rows[0][1] != "1" {
			t.Errorf("after import: function and trigger query = %v, %v; want a post count and 1 trigger", rows, err)
		}
	})

	t.Run("errors", func(t *testing.T) {
		ctx := t.Context()
		if err := s.Exec(ctx, "", strings.NewReader("CREATE DATABASE other;")); err != nil {
			t.Fatal(err)
		}
		b := s.Backend(map[vectorsim.EnvKey]string{{Site: "1001"}: "other"})
		_, exportErr := b.Export(ctx, "1001", "2001")
		tests := []struct {
			name string
			err  error
			want string
		}{
			{"import of bad SQL", b.Import(ctx, "1001", "", strings.NewReader("CREATE TABLE t (id INT);\nINSRT INTO t VALUES (1);\n")), "ERROR 1064 (42000) at line 2"},
			{"import into an unknown site", b.Import(ctx, "9", "", strings.NewReader("SELECT 1;")), "no database for site 9"},
			{"export of an unknown environment", exportErr, `no database for site 1001 environment "2001"`},
			{"query of a missing table", func() error { _, err := s.Query(ctx, "other", "SELECT * FROM nope"); return err }(), "doesn't exist"},
		}
		for _, tt := range tests {
			if tt.err == nil || !strings.Contains(tt.err.Error(), tt.want) {
				t.Errorf("%s: err = %v, want one containing %q", tt.name, tt.err, tt.want)
			}
		}
	})
}
