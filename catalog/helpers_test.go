package catalog

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// openTest opens a new catalog in a temporary directory, closed at the end
// of the test.
func openTest(tb testing.TB) *DB {
	tb.Helper()
	db, err := Open(filepath.Join(tb.TempDir(), "state", "catalog.db"), Options{})
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return db
}

// rec returns a valid record of site/env started at started.
func rec(site, env string, started time.Time) Record {
	sum := sha256.Sum256([]byte(site + env + started.String()))
	return Record{
		ID:            NewID(started),
		Site:          site,
		Environment:   env,
		SiteID:        "12345",
		EnvironmentID: "67890",
		ExportID:      fmt.Sprintf("exp-%d", started.UnixNano()),
		Source:        SourceExport,
		Trigger:       TriggerSchedule,
		StartedAt:     started.UTC(),
		CompletedAt:   started.Add(90 * time.Second).UTC(),
		SizeBytes:     1 << 20,
		SHA256:        hex.EncodeToString(sum[:]),
		StoredBytes:   200 << 10,
		Compression:   CompressionZstd,
		Locations: []Location{{
			Target: TargetLocal,
			URI:    "file:///var/lib/vectord/backups/" + site + "/" + env + "/dump.sql.zst",
		}},
	}
}

// mustAdd adds records, failing the test on error.
func mustAdd(tb testing.TB, db *DB, rs ...Record) {
	tb.Helper()
	for _, r := range rs {
		if err := db.Add(context.Background(), r); err != nil {
			tb.Fatalf("Add(%s): %v", r.ID, err)
		}
	}
}

// ids returns the ids of rs in order.
func ids(rs []Record) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

var t0 = time.Date(2025, 3, 14, 2, 0, 0, 0, time.UTC)
