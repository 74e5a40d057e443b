package exporter_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/builtfast/vectord/catalog"
	"github.com/builtfast/vectord/codec"
	"github.com/builtfast/vectord/exporter"
	"github.com/builtfast/vectord/vectorsim"
)

func (h *harness) backupRequest(source string) exporter.Request {
	r := h.request()
	r.Source = source
	return r
}

// TestSourceBackupStoresTheArchivesDump: a platform backup, its download,
// the .tar.gz read as a stream: the stored SQL is exactly the dump inside,
// recorded with source backup and the platform backup's id; one backup
// creation at the API, which counts as a database operation.
func TestSourceBackupStoresTheArchivesDump(t *testing.T) {
	for _, f := range []struct {
		name   string
		faults vectorsim.Faults
	}{
		{"plain member", vectorsim.Faults{}},
		{"gzipped member", vectorsim.Faults{ArchiveSQLGzip: true}},
		{"cut download resumed", vectorsim.Faults{CutAfter: 40 << 10, CutTimes: 2}},
		{"expired URL renewed", vectorsim.Faults{ExpiredURLs: 1}},
	} {
		t.Run(f.name, func(t *testing.T) {
			h := newHarness(t, harnessOptions{})
			h.ex.Backups = h.client
			h.sim.SetFaults("", f.faults)
			rec, err := h.ex.Run(context.Background(), h.backupRequest(catalog.SourceBackup))
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			h.assertStored(rec, codec.Zstd)
			if rec.Source != catalog.SourceBackup || rec.PlatformBackupID == "" || rec.ExportID == "" {
				t.Errorf("record source %q platform_backup_id %q export_id %q; want backup with both ids", rec.Source, rec.PlatformBackupID, rec.ExportID)
			}
			st := h.sim.Stats()
			if n := st.BackupRequests[vectorsim.EnvKey{Site: "1001", Env: "2001"}]; n != 1 || st.DBOperations != 1 {
				t.Errorf("backup creations %d, database operations %d; want 1 and 1", n, st.DBOperations)
			}
		})
	}
}

// TestSourceBackupArchiveFaults: an archive with no dump or with two, a
// failed backup, a failed download: the job fails with what went wrong and
// leaves nothing.
func TestSourceBackupArchiveFaults(t *testing.T) {
	for _, tc := range []struct {
		name   string
		faults vectorsim.Faults
		reason string
		errHas []string
	}{
		{"two dumps", vectorsim.Faults{ArchiveTwoSQL: true}, exporter.ReasonVerify, []string{"several .sql dumps", "db_2001.sql", "db_2001-previous.sql"}},
		{"no dump", vectorsim.Faults{ArchiveNoSQL: true}, exporter.ReasonVerify, []string{"no .sql dump", "database/"}},
		{"backup failed", vectorsim.Faults{FailBackup: "disk quota exceeded"}, exporter.ReasonExportFailed, []string{"disk quota exceeded"}},
		{"download failed", vectorsim.Faults{FailBackupDownload: "archive too large"}, exporter.ReasonExportFailed, []string{"archive too large"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, harnessOptions{})
			h.ex.Backups = h.client
			h.sim.SetFaults("", tc.faults)
			_, err := h.ex.Run(context.Background(), h.backupRequest(catalog.SourceBackup))
			if err == nil || exporter.Reason(err) != tc.reason {
				t.Fatalf("Run = %v (reason %q), want a %s failure", err, exporter.Reason(err), tc.reason)
			}
			for _, s := range tc.errHas {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not name %q", err, s)
				}
			}
			h.assertNothingStored()
		})
	}
}

// TestSourceMirrorDownloadsAnExistingBackup: a mirror job stores a
// platform backup the platform took itself, spending no database
// operation, and never creates one.
func TestSourceMirrorDownloadsAnExistingBackup(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.ex.Backups = h.client
	id := h.sim.AddPlatformBackup("1001", "2001", "full")
	req := h.backupRequest(catalog.SourceMirror)
	req.PlatformBackupID = id
	rec, err := h.ex.Run(context.Background(), req)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	h.assertStored(rec, codec.Zstd)
	if rec.Source != catalog.SourceMirror || rec.PlatformBackupID != id {
		t.Errorf("record source %q platform backup %q, want mirror of %s", rec.Source, rec.PlatformBackupID, id)
	}
	if st := h.sim.Stats(); st.DBOperations != 0 || len(st.BackupRequests) != 0 {
		t.Errorf("database operations %d, backup creations %v; want none", st.DBOperations, st.BackupRequests)
	}
	// A mirror of a backup that vanished is not replaced by a new backup.
	req.PlatformBackupID = "01jfgxk4nqrst5vwx9yz0zzzzz"
	req.JobID = ""
	if _, err := h.ex.Run(context.Background(), req); err == nil || !errors.Is(err, err) {
		t.Fatal("mirror of an unknown platform backup succeeded")
	}
	if st := h.sim.Stats(); len(st.BackupRequests) != 0 {
		t.Errorf("a mirror created a backup: %v", st.BackupRequests)
	}
}
