package restore_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/builtfast/vectord/catalog"
	"github.com/builtfast/vectord/codec"
	"github.com/builtfast/vectord/exporter"
	"github.com/builtfast/vectord/internal/mariadbtest"
	"github.com/builtfast/vectord/restore"
	"github.com/builtfast/vectord/storage"
	"github.com/builtfast/vectord/storage/local"
	"github.com/builtfast/vectord/vectorapi"
	"github.com/builtfast/vectord/vectorsim"
	"github.com/google/go-cmp/cmp"
)

// TestRoundTrip backs a real MariaDB database up through the exporter,
// changes it, restores the backup through the Importer and finds every
// table as it was; then restores the pre-import snapshot and finds the
// changed database again.
func TestRoundTrip(t *testing.T) {
	db := mariadbtest.Start(t)
	ctx := t.Context()
	const name = "wordpress"
	if err := db.CreateWordPress(ctx, name, mariadbtest.WordPress{}); err != nil {
		t.Fatal(err)
	}
	original := checksums(t, db, name)
	shape, err := db.Query(ctx, name, "SELECT COUNT(*), SUM(LENGTH(post_content) >= 1048576), SUM(post_content LIKE '%🎉%' COLLATE utf8mb4_bin), (SELECT COUNT(*) FROM wp_postmeta) FROM wp_posts")
	if err != nil || len(shape) != 1 || atoi(shape[0][1]) < 3 || atoi(shape[0][2]) == 0 {
		t.Fatalf("database shape (posts, posts ≥ 1 MiB, posts with 🎉, postmeta rows) = %v, %v; want ≥ 3 large posts and emoji", shape, err)
	}

	dir := t.TempDir()
	sim := vectorsim.New(vectorsim.Options{
		Token:   token,
		TempDir: dir,
		Backend: db.Backend(map[vectorsim.EnvKey]string{{Site: siteID}: name}),
	})
	sim.AddSite(siteID)
	srv := httptest.NewServer(sim)
	t.Cleanup(func() { srv.Close(); sim.Close() })
	client, err := vectorapi.New(vectorapi.Options{BaseURL: srv.URL + "/api/v1/vector", Token: token, RequestsPerMinute: 6000})
	if err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.Open(filepath.Join(dir, "state", "catalog.db"), catalog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Close() })
	store, err := local.New(filepath.Join(dir, "backups"))
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	ex := &exporter.Exporter{API: client, Catalog: cat, Targets: []storage.Target{store}, Codec: codec.Zstd,
		PollInterval: time.Millisecond, PollMaxInterval: 10 * time.Millisecond, Logger: log}
	snap := exporterSnapshotter{ex: ex, siteID: siteID}
	im := &restore.Importer{API: client, Snapshot: snap, Logger: log,
		PollInterval: time.Millisecond, PollMaxInterval: 10 * time.Millisecond}

	start := time.Now()
	backup, err := ex.Run(ctx, exporter.Request{Site: "acme", Environment: "development", SiteID: siteID,
		Trigger: catalog.TriggerManual, ExportTimeout: time.Hour})
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	backupTime := time.Since(start)

	change := `UPDATE wp_posts SET post_content = CONCAT(post_content, ' edited 🛠'), post_title = 'Überarbeitet' WHERE ID % 5 = 0;
DELETE FROM wp_posts WHERE ID % 11 = 0;
DELETE FROM wp_postmeta WHERE post_id > 2500;
UPDATE wp_options SET option_value = 'broken' WHERE option_name = 'rewrite_rules_cache';
DROP TABLE wp_comments;
CREATE TABLE wp_cache_leftover (id INT PRIMARY KEY);`
	if err := db.Exec(ctx, name, strings.NewReader(change)); err != nil {
		t.Fatal(err)
	}
	changed := checksums(t, db, name)
	if cmp.Equal(changed, original) {
		t.Fatal("changing the database left its checksums as they were")
	}

	start = time.Now()
	res, err := im.Import(ctx, restore.Target{Site: "acme", Environment: "development", SiteID: siteID},
		backupSource(store, backup), restore.Options{DirectLimit: -1, Reason: "restore " + backup.ID})
	if err != nil {
		t.Fatalf("restore: %v", err)
	}
	restoreTime := time.Since(start)
	restored := checksums(t, db, name)
	if diff := cmp.Diff(original, restored); diff != "" {
		t.Errorf("CHECKSUM TABLE after the restore (-backup +restored):\n%s", diff)
	}
	if res.SHA256 != backup.SHA256 || res.Bytes != backup.SizeBytes || res.Direct {
		t.Errorf("restore sent %d bytes with SHA-256 %s (direct %v), want the backup's %d bytes with %s through a session",
			res.Bytes, res.SHA256, res.Direct, backup.SizeBytes, backup.SHA256)
	}
	if got := sim.Stats().Imports[vectorsim.EnvKey{Site: siteID}]; got.LastSHA256 != backup.SHA256 {
		t.Errorf("the API imported SQL with SHA-256 %s, want the backup's %s", got.LastSHA256, backup.SHA256)
	}

	// The pre-import snapshot holds the changed database: restoring it
	// undoes the restore.
	snapshot, err := cat.Get(ctx, res.SnapshotID)
	if err != nil {
		t.Fatalf("the pre-import snapshot %q is not in the catalog: %v", res.SnapshotID, err)
	}
	if snapshot.Trigger != catalog.TriggerPreImport || snapshot.Reason != "restore "+backup.ID {
		t.Errorf("snapshot record has trigger %q reason %q, want %q and %q", snapshot.Trigger, snapshot.Reason, catalog.TriggerPreImport, "restore "+backup.ID)
	}
	if _, err := im.Import(ctx, restore.Target{Site: "acme", Environment: "development", SiteID: siteID},
		backupSource(store, snapshot), restore.Options{NoSnapshot: true}); err != nil {
		t.Fatalf("restore of the snapshot: %v", err)
	}
	if diff := cmp.Diff(changed, checksums(t, db, name)); diff != "" {
		t.Errorf("CHECKSUM TABLE after restoring the snapshot (-before the restore +now):\n%s", diff)
	}

	t.Logf("%s; %s posts (%s ≥ 1 MiB), %s postmeta rows; dump %s MiB, stored %s MiB (zstd); backup %s, restore (snapshot, upload, import) %s",
		db.Version, shape[0][0], shape[0][1], shape[0][3], mib(backup.SizeBytes), mib(backup.StoredBytes),
		backupTime.Round(time.Millisecond), restoreTime.Round(time.Millisecond))
}

// exporterSnapshotter takes pre-import snapshots with the exporter, as
// vectord does.
type exporterSnapshotter struct {
	ex     *exporter.Exporter
	siteID string
}

func (s exporterSnapshotter) Snapshot(ctx context.Context, site, env, reason string) (string, error) {
	rec, err := s.ex.Run(ctx, exporter.Request{Site: site, Environment: env, SiteID: s.siteID,
		Trigger: catalog.TriggerPreImport, Reason: reason, ExportTimeout: time.Hour})
	return rec.ID, err
}

// backupSource reads a stored backup back as plain SQL.
func backupSource(store storage.Target, rec catalog.Record) restore.Source {
	return restore.Source{Name: "backup " + rec.ID, Size: rec.SizeBytes, SHA256: rec.SHA256,
		Open: func(ctx context.Context) (io.ReadCloser, error) {
			c, err := codec.Parse(rec.Compression)
			if err != nil {
				return nil, err
			}
			f, err := store.Open(ctx, storage.BackupKey(rec.Site, rec.Environment, rec.StartedAt, rec.ExportID, c.Ext()))
			if err != nil {
				return nil, err
			}
			r, err := codec.NewReader(f, c)
			if err != nil {
				f.Close()
				return nil, err
			}
			return readCloser{r, func() error { return errors.Join(r.Close(), f.Close()) }}, nil
		}}
}

type readCloser struct {
	io.Reader
	close func() error
}

func (r readCloser) Close() error { return r.close() }

func checksums(t *testing.T, db *mariadbtest.Server, name string) map[string]string {
	t.Helper()
	sums, err := db.Checksums(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	if len(sums) == 0 {
		t.Fatalf("database %s has no tables", name)
	}
	return sums
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

func mib(n int64) string { return fmt.Sprintf("%.1f", float64(n)/(1<<20)) }
