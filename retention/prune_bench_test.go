package retention_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/builtfast/vectord/catalog"
	"github.com/builtfast/vectord/retention"
	"github.com/builtfast/vectord/storage"
	"github.com/builtfast/vectord/storage/local"
)

// Shape of the catalog BenchmarkPrune aims for: 1,000 environments (100
// sites of 10) with 1,000 daily backups each, 1,000,000 records.
const (
	pruneSites       = 100
	pruneEnvsPerSite = 10
	pruneEnvs        = pruneSites * pruneEnvsPerSite
	prunePerEnv      = 1000
	// pruneBuildBudget bounds the fixture's build. catalog.DB.Add commits
	// one fsynced bbolt transaction per record, so on a slow disk the build
	// stops at the last whole environment added within the budget and the
	// figures for the full catalog are extrapolated, in metrics named so.
	pruneBuildBudget = 2 * time.Minute
	// prunePruned is how many environments the real prune deletes from.
	prunePruned = 10
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
	marks, removes               int
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

func (c *timedCatalog) MarkDeleting(ctx context.Context, id string) error {
	start := time.Now()
	defer func() { c.mark += time.Since(start); c.marks++ }()
	return c.DB.MarkDeleting(ctx, id)
}

func (c *timedCatalog) Remove(ctx context.Context, id string) error {
	start := time.Now()
	defer func() { c.remove += time.Since(start); c.removes++ }()
	return c.DB.Remove(ctx, id)
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

// BenchmarkPrune measures retention over a catalog of 1,000 environments ×
// 1,000 daily backups under the default policy: a dry run of every
// environment (time and peak heap), and a real prune of prunePruned
// environments (time per deleted backup, extrapolated to the catalog). The
// stored files do not exist, so the local target's deletes find nothing to
// remove, and the prune's cost is the catalog's.
//
// Run with: go test -run '^$' -bench Prune -benchtime 1x -timeout 30m ./retention/
func BenchmarkPrune(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	db, err := catalog.Open(filepath.Join(dir, "catalog.db"), catalog.Options{})
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

	// Build environment by environment, each in time order: Add offers no
	// batch, so every record is its own fsynced transaction.
	start := time.Now()
	built := 0
	var lastEnv time.Duration
	for built < pruneEnvs && time.Since(start) < pruneBuildBudget {
		e := pruneEnvAt(built)
		envStart := time.Now()
		for d := range prunePerEnv {
			at := first.AddDate(0, 0, d).Add(time.Duration(built) * time.Second)
			if err := db.Add(ctx, pruneRecord(e, at)); err != nil {
				b.Fatal(err)
			}
		}
		lastEnv = time.Since(envStart)
		built++
		if built%50 == 0 {
			b.Logf("built %d environments, %d records: %v, last environment %v/record",
				built, built*prunePerEnv, time.Since(start).Round(time.Second), lastEnv/prunePerEnv)
		}
	}
	buildTime := time.Since(start)
	records := built * prunePerEnv
	addPerRecord := buildTime / time.Duration(records)
	scale := float64(pruneEnvs) / float64(built) // 1 when the whole catalog was built
	fixture := fmt.Sprintf("fixture: %d environments × %d backups = %d records in %v: %v/record on average, %v/record for the last environment",
		built, prunePerEnv, records, buildTime.Round(time.Millisecond), addPerRecord, lastEnv/prunePerEnv)
	if built < pruneEnvs {
		fixture += fmt.Sprintf("; EXTRAPOLATED: building all %d records one Add at a time would take ≥ %v (at the average rate measured here)",
			pruneEnvs*prunePerEnv, (time.Duration(pruneEnvs*prunePerEnv) * addPerRecord).Round(time.Second))
	}
	reportFixture := func(b *testing.B) {
		b.Log(fixture)
		b.ReportMetric(float64(records), "records")
		b.ReportMetric(float64(built), "envs")
		b.ReportMetric(float64(addPerRecord.Microseconds()), "add-µs/record")
		b.ReportMetric(float64(pruneEnvs*prunePerEnv)*addPerRecord.Seconds(), "extrap-build-1M-s")
	}

	wouldDelete := 0 // backups the dry run would delete, over all built environments
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
			for i := range built {
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
		b.ReportMetric(float64(elapsed.Microseconds())/float64(built)/1000, "dryrun-ms/env")
		b.ReportMetric(float64(cat.list.Microseconds())/float64(built*b.N)/1000, "list-ms/env")
		b.ReportMetric(elapsed.Seconds()*scale, "extrap-dryrun-1M-s")
		b.ReportMetric(float64(peak)/mib, "peak-heap-MiB")
		b.ReportMetric(float64(base)/mib, "base-heap-MiB")
		b.ReportMetric(float64(wouldDelete)/float64(built), "would-delete/env")
		b.Logf("dry run of %d environments (%d records): %v, peak HeapInuse %.1f MiB (%.1f MiB before); would delete %d",
			built, records, elapsed.Round(time.Millisecond), float64(peak)/mib, float64(base)/mib, wouldDelete)
	})
	if wouldDelete == 0 {
		b.Fatal("the dry run did not run or would delete nothing")
	}

	pruned := 0 // environments pruned by earlier iterations
	b.Run(fmt.Sprintf("prune %d environments", prunePruned), func(b *testing.B) {
		cat := &timedCatalog{DB: db}
		tgt := &timedTarget{Target: target}
		enf := &retention.Enforcer{Catalog: cat, Targets: map[string]retention.Target{catalog.TargetLocal: tgt}, Now: func() time.Time { return now }}
		deleted := 0
		var elapsed time.Duration
		for b.Loop() {
			// Environments spread over the catalog, new ones each iteration.
			step := built / prunePruned
			if step == 0 || pruned >= step {
				b.Fatalf("no environments left to prune (%d built, %d pruned per iteration)", built, prunePruned)
			}
			start := time.Now()
			for j := range prunePruned {
				e := pruneEnvAt(j*step + pruned)
				res, err := enf.Apply(ctx, e.site, e.env, defaultPolicy, false)
				if err != nil {
					b.Fatal(err)
				}
				if len(res.Failed) != 0 {
					b.Fatalf("prune of %s/%s: %d failed", e.site, e.env, len(res.Failed))
				}
				kept, err := db.List(ctx, catalog.Filter{Site: e.site, Environment: e.env})
				if err != nil || len(kept)+len(res.Deleted) != prunePerEnv {
					b.Fatalf("after prune of %s/%s: %d listed, %v; want %d", e.site, e.env, len(kept), err, prunePerEnv-len(res.Deleted))
				}
				deleted += len(res.Deleted)
			}
			elapsed += time.Since(start)
			pruned++
		}
		b.StopTimer()
		if pending, err := db.Deleting(ctx); err != nil || len(pending) != 0 {
			b.Fatalf("after prune: %d marked deleting, %v; want 0", len(pending), err)
		}
		perDeleted := elapsed.Seconds() / float64(deleted)
		per := func(d time.Duration) float64 { return d.Seconds() * 1e6 / float64(deleted) }
		reportFixture(b)
		b.ReportMetric(float64(deleted), "deleted")
		b.ReportMetric(perDeleted*1e6, "µs/deleted")
		b.ReportMetric(per(cat.mark), "mark-µs/deleted")
		b.ReportMetric(per(cat.remove), "remove-µs/deleted")
		b.ReportMetric(per(tgt.delete), "target-µs/deleted")
		b.ReportMetric(per(cat.list+cat.deleting), "list-µs/deleted")
		b.ReportMetric(perDeleted*float64(wouldDelete)*scale, "extrap-prune-1M-s")
		b.Logf("pruned %d environments: %d deleted in %v, %.0f µs/deleted (mark %.0f, target deletes %.0f, remove %.0f, list %.0f); "+
			"EXTRAPOLATED to all %d environments (%d deletes): %v",
			pruned*prunePruned, deleted, elapsed.Round(time.Millisecond), perDeleted*1e6,
			per(cat.mark), per(tgt.delete), per(cat.remove), per(cat.list+cat.deleting),
			pruneEnvs, int(float64(wouldDelete)*scale), time.Duration(perDeleted*float64(wouldDelete)*scale*float64(time.Second)).Round(time.Second))
	})
}
