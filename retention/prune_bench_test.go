package retention_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/builtfast/vectord/catalog"
	"github.com/builtfast/vectord/retention"
	"github.com/builtfast/vectord/storage"
	"github.com/builtfast/vectord/storage/local"
)

// Shape of the catalog BenchmarkPrune builds: 1,000 environments (100
// sites of 10) with 1,000 daily backups each, 1,000,000 records.
const (
	pruneSites       = 100
	pruneEnvsPerSite = 10
	pruneEnvs        = pruneSites * pruneEnvsPerSite
	prunePerEnv      = 1000
)

// defaultPolicy is the retention vectord applies when the configuration
// sets none (CONTRACT §5): keep_last 7, keep_daily 14, keep_weekly 8,
// keep_monthly 12, pre-import snapshots for 30 days.
var defaultPolicy = retention.Policy{Last: 7, Daily: 14, Weekly: 8, Monthly: 12, PreImport: 720 * time.Hour}

// pruneEnv names one environment of the fixture.
type pruneEnv struct{ site, env string }

func pruneEnvAt(i int) pruneEnv {
	return pruneEnv{fmt.Sprintf("site%03d", i/pruneEnvsPerSite), fmt.Sprintf("env%d", i%pruneEnvsPerSite)}
}

// pruneRecord returns the valid catalog record of the daily backup of e
// started at at, stored on the local target.
func pruneRecord(e pruneEnv, at time.Time) catalog.Record {
	exportID := fmt.Sprintf("exp-%d", at.UnixNano())
	sum := sha256.Sum256([]byte(e.site + "/" + e.env + "/" + exportID))
	key := storage.BackupKey(e.site, e.env, at, exportID, ".zst")
	return catalog.Record{
		ID:            catalog.NewID(at),
		Site:          e.site,
		Environment:   e.env,
		SiteID:        "10042",
		EnvironmentID: "20042",
		ExportID:      exportID,
		Trigger:       catalog.TriggerSchedule,
		Reason:        "schedule",
		StartedAt:     at,
		CompletedAt:   at.Add(3 * time.Minute),
		SizeBytes:     512 << 20,
		SHA256:        hex.EncodeToString(sum[:]),
		StoredBytes:   64 << 20,
		Compression:   catalog.CompressionZstd,
		Locations:     []catalog.Location{{Target: catalog.TargetLocal, URI: "file:///var/lib/vectord/backups/" + key}},
	}
}

// timedCatalog measures the time the Enforcer spends in catalog calls.
// Apply calls it from one goroutine, so the counters need no lock.
type timedCatalog struct {
	*catalog.DB
	list, deleting, mark, remove time.Duration
	markCalls, removeCalls       int
}

func (c *timedCatalog) List(ctx context.Context, f catalog.Filter) ([]catalog.Record, error) {
	start := time.Now()
	defer func() { c.list += time.Since(start) }()
	return c.DB.List(ctx, f)
}

func (c *timedCatalog) Deleting(ctx context.Context) ([]catalog.Record, error) {
	start := time.Now()
	defer func() { c.deleting += time.Since(start) }()
	return c.DB.Deleting(ctx)
}

func (c *timedCatalog) MarkDeletingBatch(ctx context.Context, ids []string) error {
	start := time.Now()
	defer func() { c.mark += time.Since(start); c.markCalls++ }()
	return c.DB.MarkDeletingBatch(ctx, ids)
}

func (c *timedCatalog) RemoveBatch(ctx context.Context, ids []string) error {
	start := time.Now()
	defer func() { c.remove += time.Since(start); c.removeCalls++ }()
	return c.DB.RemoveBatch(ctx, ids)
}

// timedTarget measures the time the Enforcer spends deleting from a target.
type timedTarget struct {
	*local.Target
	delete  time.Duration
	deletes int
}

func (t *timedTarget) Delete(ctx context.Context, key string) error {
	start := time.Now()
	defer func() { t.delete += time.Since(start); t.deletes++ }()
	return t.Target.Delete(ctx, key)
}

// heapPeak samples runtime.MemStats.HeapInuse every interval until stop is
// called, which returns the largest value seen.
func heapPeak(interval time.Duration) (stop func() uint64) {
	done := make(chan struct{})
	result := make(chan uint64)
	go func() {
		var ms runtime.MemStats
		var peak uint64
		sample := func() {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
		}
		sample()
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				sample()
			case <-done:
				sample()
				result <- peak
				return
			}
		}
	}()
	return func() uint64 { close(done); return <-result }
}

const mib = 1 << 20

// fileMiB returns the size of the file at path in MiB.
func fileMiB(tb testing.TB, path string) float64 {
	tb.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		tb.Fatal(err)
	}
	return float64(fi.Size()) / mib
}

// BenchmarkPrune measures retention over a catalog of 1,000 environments ×
// 1,000 daily backups, 1,000,000 records, under the default policy: the
// catalog's build (one AddBatch per environment), a dry run of every
// environment, and a real prune of every environment (time, peak heap,
// backups deleted). The stored files do not exist, so the local target's
// deletes find nothing to remove, and the prune's cost is the catalog's.
// The real prune empties the fixture, so it runs once: use -benchtime 1x.
//
// Run with: go test -run '^$' -bench Prune -benchtime 1x -timeout 30m ./retention/
func BenchmarkPrune(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	dbPath := filepath.Join(dir, "catalog.db")
	db, err := catalog.Open(dbPath, catalog.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	target, err := local.New(filepath.Join(dir, "backups"))
	if err != nil {
		b.Fatal(err)
	}

	// One backup a day at 02:00 UTC (plus a few seconds per environment)
	// for prunePerEnv days; now is half a day after the last one.
	first := time.Date(2023, 3, 1, 2, 0, 0, 0, time.UTC)
	now := first.AddDate(0, 0, prunePerEnv-1).Add(12 * time.Hour)

	// Build environment by environment, each in time order: one AddBatch
	// (one transaction) per environment.
	start := time.Now()
	batch := make([]catalog.Record, prunePerEnv)
	for i := range pruneEnvs {
		e := pruneEnvAt(i)
		for d := range batch {
			batch[d] = pruneRecord(e, first.AddDate(0, 0, d).Add(time.Duration(i)*time.Second))
		}
		if err := db.AddBatch(ctx, batch); err != nil {
			b.Fatal(err)
		}
		if (i+1)%100 == 0 {
			b.Logf("built %d environments, %d records: %v", i+1, (i+1)*prunePerEnv, time.Since(start).Round(time.Millisecond))
		}
	}
	buildTime := time.Since(start)
	const records = pruneEnvs * prunePerEnv
	builtMiB := fileMiB(b, dbPath)
	fixture := fmt.Sprintf("fixture: %d environments × %d backups = %d records built with AddBatch in %v (%v/record), catalog file %.0f MiB",
		pruneEnvs, prunePerEnv, records, buildTime.Round(time.Millisecond), buildTime/records, builtMiB)
	reportFixture := func(b *testing.B) {
		b.Log(fixture)
		b.ReportMetric(float64(records), "records")
		b.ReportMetric(buildTime.Seconds(), "build-s")
		b.ReportMetric(float64(buildTime.Microseconds())/records, "add-µs/record")
	}

	wouldDelete := 0 // backups the dry run would delete
	b.Run("dry-run all environments", func(b *testing.B) {
		cat := &timedCatalog{DB: db}
		enf := &retention.Enforcer{Catalog: cat, Targets: map[string]retention.Target{catalog.TargetLocal: target}, Now: func() time.Time { return now }}
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		base := ms.HeapInuse
		stop := heapPeak(2 * time.Millisecond)
		var elapsed time.Duration
		for b.Loop() {
			wouldDelete = 0
			start := time.Now()
			for i := range pruneEnvs {
				e := pruneEnvAt(i)
				res, err := enf.Apply(ctx, e.site, e.env, defaultPolicy, true)
				if err != nil {
					b.Fatal(err)
				}
				if len(res.Decisions) != prunePerEnv || len(res.Deleted) != 0 {
					b.Fatalf("dry run of %s/%s: %d decisions, %d deleted; want %d, 0", e.site, e.env, len(res.Decisions), len(res.Deleted), prunePerEnv)
				}
				for _, d := range res.Decisions {
					if !d.Keep {
						wouldDelete++
					}
				}
			}
			elapsed = time.Since(start)
		}
		peak := stop()
		b.StopTimer()
		reportFixture(b)
		b.ReportMetric(elapsed.Seconds(), "dryrun-s")
		b.ReportMetric(float64(elapsed.Microseconds())/pruneEnvs/1000, "dryrun-ms/env")
		b.ReportMetric(float64(cat.list.Microseconds())/float64(pruneEnvs*b.N)/1000, "list-ms/env")
		b.ReportMetric(float64(peak)/mib, "peak-heap-MiB")
		b.ReportMetric(float64(base)/mib, "base-heap-MiB")
		b.ReportMetric(float64(wouldDelete), "would-delete")
		b.Logf("dry run of %d environments (%d records): %v, peak HeapInuse %.1f MiB (%.1f MiB before); would delete %d",
			pruneEnvs, records, elapsed.Round(time.Millisecond), float64(peak)/mib, float64(base)/mib, wouldDelete)
	})
	if wouldDelete == 0 {
		b.Fatal("the dry run did not run or would delete nothing")
	}

	pruned := false
	b.Run("prune all environments", func(b *testing.B) {
		cat := &timedCatalog{DB: db}
		tgt := &timedTarget{Target: target}
		enf := &retention.Enforcer{Catalog: cat, Targets: map[string]retention.Target{catalog.TargetLocal: tgt}, Now: func() time.Time { return now }}
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		base := ms.HeapInuse
		stop := heapPeak(5 * time.Millisecond)
		deleted := 0
		var elapsed time.Duration
		for b.Loop() {
			if pruned {
				b.Fatal("the catalog is pruned already: run with -benchtime 1x")
			}
			start := time.Now()
			for i := range pruneEnvs {
				e := pruneEnvAt(i)
				res, err := enf.Apply(ctx, e.site, e.env, defaultPolicy, false)
				if err != nil {
					b.Fatal(err)
				}
				if len(res.Failed) != 0 {
					b.Fatalf("prune of %s/%s: %d failed", e.site, e.env, len(res.Failed))
				}
				deleted += len(res.Deleted)
			}
			elapsed = time.Since(start)
			pruned = true
		}
		peak := stop()
		b.StopTimer()

		// What is left is what the dry run said would be kept.
		if deleted != wouldDelete {
			b.Errorf("pruned %d backups, the dry run would delete %d", deleted, wouldDelete)
		}
		if pending, err := db.Deleting(ctx); err != nil || len(pending) != 0 {
			b.Fatalf("after prune: %d marked deleting, %v; want 0", len(pending), err)
		}
		kept, err := db.List(ctx, catalog.Filter{})
		if err != nil || len(kept)+deleted != records {
			b.Fatalf("after prune: %d listed, %v; want %d", len(kept), err, records-deleted)
		}
		if cat.markCalls != pruneEnvs || cat.removeCalls != pruneEnvs {
			b.Errorf("catalog batches: %d marks, %d removes; want one of each per environment (%d)", cat.markCalls, cat.removeCalls, pruneEnvs)
		}

		per := func(d time.Duration) float64 { return d.Seconds() * 1e6 / float64(deleted) }
		reportFixture(b)
		b.ReportMetric(elapsed.Seconds(), "prune-s")
		b.ReportMetric(float64(deleted), "deleted")
		b.ReportMetric(per(elapsed), "µs/deleted")
		b.ReportMetric(per(cat.mark), "mark-µs/deleted")
		b.ReportMetric(per(cat.remove), "remove-µs/deleted")
		b.ReportMetric(per(tgt.delete), "target-µs/deleted")
		b.ReportMetric(per(cat.list+cat.deleting), "list-µs/deleted")
		b.ReportMetric(float64(peak)/mib, "peak-heap-MiB")
		b.ReportMetric(float64(base)/mib, "base-heap-MiB")
		b.Logf("pruned %d environments: %d of %d backups deleted in %v, %.0f µs/deleted (mark %.0f, target deletes %.0f, remove %.0f, list %.0f); "+
			"peak HeapInuse %.1f MiB (%.1f MiB before); catalog file %.0f MiB",
			pruneEnvs, deleted, records, elapsed.Round(time.Millisecond), per(elapsed),
			per(cat.mark), per(tgt.delete), per(cat.remove), per(cat.list+cat.deleting),
			float64(peak)/mib, float64(base)/mib, fileMiB(b, dbPath))
	})
}
