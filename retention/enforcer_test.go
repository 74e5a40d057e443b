package retention

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/builtfast/vectord/catalog"
	"github.com/builtfast/vectord/storage"
	"github.com/builtfast/vectord/storage/local"
)

var (
	_ Catalog = (*catalog.DB)(nil)
	_ Target  = storage.Target(nil)
	_ Target  = (*local.Target)(nil)
)

// eventLog records catalog and storage changes in the order they happen.
type eventLog struct {
	mu     sync.Mutex
	events []string
}

func (l *eventLog) add(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, fmt.Sprintf(format, args...))
}

func (l *eventLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	ev := l.events
	l.events = nil
	return ev
}

// loggingCatalog records the real catalog's successful changes, one event
// per call.
type loggingCatalog struct {
	*catalog.DB
	log *eventLog
}

func (c loggingCatalog) MarkDeletingBatch(ctx context.Context, ids []string) error {
	err := c.DB.MarkDeletingBatch(ctx, ids)
	if err == nil {
		c.log.add("mark %s", strings.Join(ids, " "))
	}
	return err
}

func (c loggingCatalog) RemoveBatch(ctx context.Context, ids []string) error {
	err := c.DB.RemoveBatch(ctx, ids)
	if err == nil {
		c.log.add("remove %s", strings.Join(ids, " "))
	}
	return err
}

// checkingTarget records the real target's deletes and checks, at each,
// that no listed record still points at the object being deleted.
type checkingTarget struct {
	*local.Target
	db  *catalog.DB
	log *eventLog
	tb  testing.TB
}

func (t checkingTarget) Delete(ctx context.Context, key string) error {
	recs, err := t.db.List(ctx, catalog.Filter{})
	if err != nil {
		t.tb.Errorf("List during delete of %s: %v", key, err)
	}
	for _, r := range recs {
		k := keyOf(t.tb, r)
		if key == k || key == storage.ManifestKey(k) {
			t.tb.Errorf("deleting %s while backup %s is still listed", key, r.ID)
		}
	}
	err = t.Target.Delete(ctx, key)
	if err == nil {
		t.log.add("delete %s", key)
	}
	return err
}

// countingObserver counts Observer calls by "site/env/target".
type countingObserver struct {
	mu      sync.Mutex
	deleted map[string]int
	failed  map[string]int
}

func (o *countingObserver) Deleted(site, env, target string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.deleted[site+"/"+env+"/"+target]++
}

func (o *countingObserver) DeleteFailed(site, env, target string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.failed[site+"/"+env+"/"+target]++
}

func (o *countingObserver) counts() (deleted, failed map[string]int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return maps.Clone(o.deleted), maps.Clone(o.failed)
}

type fixture struct {
	db     *catalog.DB
	target *local.Target
	root   string
	log    *eventLog
	obs    *countingObserver
	enf    *Enforcer
}

var fixtureNow = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func newFixture(tb testing.TB) *fixture {
	tb.Helper()
	dir := tb.TempDir()
	db, err := catalog.Open(filepath.Join(dir, "state", "catalog.db"), catalog.Options{})
	if err != nil {
		tb.Fatalf("open catalog: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	root := filepath.Join(dir, "backups")
	target, err := local.New(root)
	if err != nil {
		tb.Fatalf("local.New: %v", err)
	}
	f := &fixture{
		db: db, target: target, root: root, log: &eventLog{},
		obs: &countingObserver{deleted: map[string]int{}, failed: map[string]int{}},
	}
	f.enf = &Enforcer{
		Catalog:  loggingCatalog{DB: db, log: f.log},
		Targets:  map[string]Target{"local": checkingTarget{Target: target, db: db, log: f.log, tb: tb}},
		Observer: f.obs,
		Now:      func() time.Time { return fixtureNow },
	}
	return f
}

func keyOf(tb testing.TB, r catalog.Record) string {
	tb.Helper()
	ext, err := extension(r.Compression)
	if err != nil {
		tb.Fatalf("record %s: %v", r.ID, err)
	}
	return storage.BackupKey(r.Site, r.Environment, r.StartedAt, r.ExportID, ext)
}

// store writes a backup file and its manifest to the local target and adds
// its record, as a completed backup job does.
func (f *fixture) store(tb testing.TB, site, env string, started time.Time, trigger string) catalog.Record {
	tb.Helper()
	ctx := context.Background()
	body := []byte(fmt.Sprintf("-- dump of %s/%s at %v\n", site, env, started))
	sum := sha256.Sum256(body)
	r := catalog.Record{
		ID:          catalog.NewID(started),
		Site:        site,
		Environment: env,
		SiteID:      "12345",
		ExportID:    fmt.Sprintf("exp%d", started.Unix()),
		Trigger:     trigger,
		StartedAt:   started.UTC(),
		CompletedAt: started.Add(time.Minute).UTC(),
		SizeBytes:   int64(len(body)),
		SHA256:      hex.EncodeToString(sum[:]),
		StoredBytes: int64(len(body)),
		Compression: catalog.CompressionNone,
	}
	key := keyOf(tb, r)
	r.Locations = []catalog.Location{{Target: catalog.TargetLocal, URI: f.target.URI(key)}}
	manifest, err := json.Marshal(r)
	if err != nil {
		tb.Fatal(err)
	}
	for k, data := range map[string][]byte{key: body, storage.ManifestKey(key): manifest} {
		w, err := f.target.Create(ctx, k)
		if err != nil {
			tb.Fatalf("create %s: %v", k, err)
		}
		if _, err := w.Write(data); err != nil {
			tb.Fatalf("write %s: %v", k, err)
		}
		if _, err := w.Commit(ctx); err != nil {
			tb.Fatalf("commit %s: %v", k, err)
		}
	}
	if err := f.db.Add(ctx, r); err != nil {
		tb.Fatalf("add %s: %v", r.ID, err)
	}
	return r
}

// storeDays stores one scheduled backup a day at 02:00 UTC from
// 2026-11-20, oldest first.
func (f *fixture) storeDays(tb testing.TB, site, env string, n int) []catalog.Record {
	tb.Helper()
	var rs []catalog.Record
	for i := range n {
		rs = append(rs, f.store(tb, site, env, time.Date(2026, 11, 20+i, 2, 0, 0, 0, time.UTC), catalog.TriggerSchedule))
	}
	return rs
}

// filesPresent reports, for each record, whether its file and manifest
// exist ("both", "none", or which one is left).
func (f *fixture) filesPresent(tb testing.TB, rs ...catalog.Record) []string {
	tb.Helper()
	var out []string
	for _, r := range rs {
		key := keyOf(tb, r)
		var have []string
		for _, k := range []string{key, storage.ManifestKey(key)} {
			_, err := f.target.Stat(context.Background(), k)
			switch {
			case err == nil:
				have = append(have, k)
			case !errors.Is(err, storage.ErrNotExist):
				tb.Fatalf("stat %s: %v", k, err)
			}
		}
		switch len(have) {
		case 0:
			out = append(out, "none")
		case 2:
			out = append(out, "both")
		default:
			out = append(out, "only "+have[0])
		}
	}
	return out
}

func (f *fixture) listed(tb testing.TB, site, env string) []string {
	tb.Helper()
	recs, err := f.db.List(context.Background(), catalog.Filter{Site: site, Environment: env})
	if err != nil {
		tb.Fatalf("List: %v", err)
	}
	return idsOf(recs)
}

func (f *fixture) deleting(tb testing.TB) []string {
	tb.Helper()
	recs, err := f.db.Deleting(context.Background())
	if err != nil {
		tb.Fatalf("Deleting: %v", err)
	}
	return idsOf(recs)
}

func idsOf(rs []catalog.Record) []string {
	out := []string{}
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return out
}

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

func TestApplyDeletesInContractOrder(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	rs := f.storeDays(t, "acme", "production", 5)
	other := f.storeDays(t, "acme", "staging", 2)

	res, err := f.enf.Apply(ctx, "acme", "production", Policy{Last: 2}, false)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}

	if want := idsOf(rs[:3]); !slices.Equal(res.Deleted, want) {
		t.Errorf("Apply(...).Deleted = %v, want %v (oldest first)", res.Deleted, want)
	}
	if len(res.Failed) != 0 {
		t.Errorf("Apply(...).Failed = %v, want none", res.Failed)
	}
	if len(res.Decisions) != 5 {
		t.Errorf("Apply(...) made %d decisions, want 5", len(res.Decisions))
	}
	// One batch marks them all before any file is touched; one batch
	// removes the records once their files are gone.
	doomed := strings.Join(idsOf(rs[:3]), " ")
	wantEvents := []string{"mark " + doomed}
	for _, r := range rs[:3] {
		key := keyOf(t, r)
		wantEvents = append(wantEvents, "delete "+storage.ManifestKey(key), "delete "+key)
	}
	wantEvents = append(wantEvents, "remove "+doomed)
	if diff := cmp.Diff(wantEvents, f.log.take()); diff != "" {
		t.Errorf("changes out of order (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"none", "none", "none", "both", "both"}, f.filesPresent(t, rs...)); diff != "" {
		t.Errorf("files after Apply (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"both", "both"}, f.filesPresent(t, other...)); diff != "" {
		t.Errorf("another environment's files touched (-want +got):\n%s", diff)
	}
	if got, want := f.listed(t, "acme", "production"), []string{rs[4].ID, rs[3].ID}; !slices.Equal(got, want) {
		t.Errorf("listed after Apply = %v, want %v", got, want)
	}
	if got := f.deleting(t); len(got) != 0 {
		t.Errorf("still marked deleting: %v", got)
	}
	deleted, failed := f.obs.counts()
	if diff := cmp.Diff(map[string]int{"acme/production/local": 3}, deleted); diff != "" {
		t.Errorf("Observer.Deleted calls (-want +got):\n%s", diff)
	}
	if len(failed) != 0 {
		t.Errorf("Observer.DeleteFailed calls: %v", failed)
	}

	// Applying again deletes nothing more.
	res, err = f.enf.Apply(ctx, "acme", "production", Policy{Last: 2}, false)
	if err != nil || len(res.Deleted)+len(res.Failed) != 0 {
		t.Errorf("second Apply = deleted %v, failed %v, %v; want nothing", res.Deleted, res.Failed, err)
	}
}

func TestApplyKeepsPreImportByAge(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	sched := f.storeDays(t, "acme", "production", 2)
	oldPre := f.store(t, "acme", "production", fixtureNow.AddDate(0, 0, -40), catalog.TriggerPreImport)
	midPre := f.store(t, "acme", "production", fixtureNow.AddDate(0, 0, -35), catalog.TriggerPreImport)
	newPre := f.store(t, "acme", "production", fixtureNow.AddDate(0, 0, -1), catalog.TriggerPreImport)

	res, err := f.enf.Apply(ctx, "acme", "production", Policy{Last: 1, PreImport: 720 * time.Hour}, false)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if want := []string{oldPre.ID, midPre.ID, sched[0].ID}; !sameSet(res.Deleted, want) {
		t.Errorf("Apply(...).Deleted = %v, want %v", res.Deleted, want)
	}
	if got, want := f.listed(t, "acme", "production"), []string{newPre.ID, sched[1].ID}; !slices.Equal(got, want) {
		t.Errorf("listed after Apply = %v, want %v", got, want)
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func TestApplyDryRunChangesNothing(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	rs := f.storeDays(t, "acme", "production", 4)
	// An unfinished delete from an earlier run is left alone too.
	if err := f.db.MarkDeleting(ctx, rs[0].ID); err != nil {
		t.Fatal(err)
	}
	f.log.take()

	res, err := f.enf.Apply(ctx, "acme", "production", Policy{Last: 1}, true)
	if err != nil {
		t.Fatalf("Apply(dry run): %v", err)
	}
	var keep, del []string
	for _, d := range res.Decisions {
		if d.Keep {
			keep = append(keep, d.Backup.ID)
		} else {
			del = append(del, d.Backup.ID)
		}
	}
	if want := []string{rs[3].ID}; !slices.Equal(keep, want) {
		t.Errorf("dry run keeps %v, want %v", keep, want)
	}
	if want := []string{rs[2].ID, rs[1].ID}; !slices.Equal(del, want) {
		t.Errorf("dry run would delete %v, want %v", del, want)
	}
	if len(res.Deleted)+len(res.Failed) != 0 {
		t.Errorf("dry run reports deleted %v, failed %v", res.Deleted, res.Failed)
	}
	if ev := f.log.take(); len(ev) != 0 {
		t.Errorf("dry run changed catalog or storage: %v", ev)
	}
	if diff := cmp.Diff(repeat("both", 4), f.filesPresent(t, rs...)); diff != "" {
		t.Errorf("files after dry run (-want +got):\n%s", diff)
	}
	if got, want := f.listed(t, "acme", "production"), []string{rs[3].ID, rs[2].ID, rs[1].ID}; !slices.Equal(got, want) {
		t.Errorf("listed after dry run = %v, want %v", got, want)
	}
	if got := f.deleting(t); !slices.Equal(got, []string{rs[0].ID}) {
		t.Errorf("marked after dry run = %v, want %v", got, []string{rs[0].ID})
	}
	if deleted, failed := f.obs.counts(); len(deleted)+len(failed) != 0 {
		t.Errorf("dry run told the Observer: deleted %v, failed %v", deleted, failed)
	}
}

func TestApplyFailedDeleteIsRetried(t *testing.T) {
	for _, retry := range []string{"RetryPending", "Apply"} {
		t.Run(retry, func(t *testing.T) {
			f := newFixture(t)
			ctx := context.Background()
			rs := f.storeDays(t, "acme", "production", 3)
			envDir := filepath.Join(f.root, "acme", "production")
			allow := forbidDeletes(t, envDir)

			res, err := f.enf.Apply(ctx, "acme", "production", Policy{Last: 1}, false)
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			if len(res.Deleted) != 0 {
				t.Errorf("Apply(...).Deleted = %v in an undeletable directory", res.Deleted)
			}
			failedIDs := []string{rs[0].ID, rs[1].ID}
			if !slices.Equal(res.Failed, failedIDs) {
				t.Errorf("Apply(...).Failed = %v, want %v", res.Failed, failedIDs)
			}
			if got := f.listed(t, "acme", "production"); !slices.Equal(got, []string{rs[2].ID}) {
				t.Errorf("listed after failed delete = %v, want only %s", got, rs[2].ID)
			}
			if got := f.deleting(t); !slices.Equal(got, failedIDs) {
				t.Errorf("marked deleting = %v, want %v", got, failedIDs)
			}
			if diff := cmp.Diff(repeat("both", 3), f.filesPresent(t, rs...)); diff != "" {
				t.Errorf("files after failed delete (-want +got):\n%s", diff)
			}
			deleted, failed := f.obs.counts()
			if diff := cmp.Diff(map[string]int{"acme/production/local": 2}, failed); diff != "" {
				t.Errorf("Observer.DeleteFailed calls (-want +got):\n%s", diff)
			}
			if len(deleted) != 0 {
				t.Errorf("Observer.Deleted calls: %v", deleted)
			}
			// Retrying while the directory is still undeletable fails again.
			if err := f.enf.RetryPending(ctx); err == nil || !strings.Contains(err.Error(), "2 of 2") {
				t.Errorf("RetryPending() = %v, want an error counting 2 of 2 unfinished", err)
			}

			allow()
			switch retry {
			case "RetryPending":
				if err := f.enf.RetryPending(ctx); err != nil {
					t.Fatalf("RetryPending: %v", err)
				}
			case "Apply":
				res, err := f.enf.Apply(ctx, "acme", "production", Policy{Last: 1}, false)
				if err != nil {
					t.Fatalf("Apply: %v", err)
				}
				if !slices.Equal(res.Deleted, failedIDs) || len(res.Failed) != 0 {
					t.Errorf("Apply(...) = deleted %v, failed %v; want deleted %v", res.Deleted, res.Failed, failedIDs)
				}
			}
			if diff := cmp.Diff([]string{"none", "none", "both"}, f.filesPresent(t, rs...)); diff != "" {
				t.Errorf("files after retry (-want +got):\n%s", diff)
			}
			if got := f.deleting(t); len(got) != 0 {
				t.Errorf("still marked after retry: %v", got)
			}
			if got := f.listed(t, "acme", "production"); !slices.Equal(got, []string{rs[2].ID}) {
				t.Errorf("listed after retry = %v, want only %s", got, rs[2].ID)
			}
			deleted, _ = f.obs.counts()
			if diff := cmp.Diff(map[string]int{"acme/production/local": 2}, deleted); diff != "" {
				t.Errorf("Observer.Deleted calls after retry (-want +got):\n%s", diff)
			}
		})
	}
}

// A crash can leave a backup marked with its files in place, or with its
// files already gone; RetryPending finishes both.
func TestRetryPendingAfterCrash(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	rs := f.storeDays(t, "acme", "production", 3)
	other := f.storeDays(t, "beta", "development", 1)
	for _, r := range []catalog.Record{rs[0], rs[1], other[0]} {
		if err := f.db.MarkDeleting(ctx, r.ID); err != nil {
			t.Fatal(err)
		}
	}
	key := keyOf(t, rs[1])
	for _, k := range []string{storage.ManifestKey(key), key} {
		if err := f.target.Delete(ctx, k); err != nil {
			t.Fatal(err)
		}
	}

	if err := f.enf.RetryPending(ctx); err != nil {
		t.Fatalf("RetryPending: %v", err)
	}
	if got := f.deleting(t); len(got) != 0 {
		t.Errorf("still marked after RetryPending: %v", got)
	}
	if diff := cmp.Diff([]string{"none", "none", "both", "none"}, f.filesPresent(t, rs[0], rs[1], rs[2], other[0])); diff != "" {
		t.Errorf("files after RetryPending (-want +got):\n%s", diff)
	}
	if got := f.listed(t, "", ""); !slices.Equal(got, []string{rs[2].ID}) {
		t.Errorf("listed after RetryPending = %v, want only %s", got, rs[2].ID)
	}
}

func TestApplyUnconfiguredTargetTouchesNothing(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	rs := f.storeDays(t, "acme", "production", 2)
	// The oldest backup also has a copy in S3, which is not configured.
	s3 := f.store(t, "acme", "production", time.Date(2026, 11, 19, 2, 0, 0, 0, time.UTC), catalog.TriggerSchedule)
	if err := f.db.MarkDeleting(ctx, s3.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.db.Remove(ctx, s3.ID); err != nil {
		t.Fatal(err)
	}
	s3.Locations = append(s3.Locations, catalog.Location{Target: catalog.TargetS3, URI: "s3://bucket/x"})
	if err := f.db.Add(ctx, s3); err != nil {
		t.Fatal(err)
	}
	f.log.take()

	res, err := f.enf.Apply(ctx, "acme", "production", Policy{Last: 1}, false)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if !slices.Equal(res.Deleted, []string{rs[0].ID}) || !slices.Equal(res.Failed, []string{s3.ID}) {
		t.Errorf("Apply(...) = deleted %v, failed %v; want deleted [%s], failed [%s]", res.Deleted, res.Failed, rs[0].ID, s3.ID)
	}
	if diff := cmp.Diff([]string{"both"}, f.filesPresent(t, s3)); diff != "" {
		t.Errorf("files of the backup with an unconfigured target (-want +got):\n%s", diff)
	}
	if got := f.listed(t, "acme", "production"); !slices.Equal(got, []string{rs[1].ID, s3.ID}) {
		t.Errorf("listed = %v, want %v", got, []string{rs[1].ID, s3.ID})
	}
	if _, failed := f.obs.counts(); !cmp.Equal(failed, map[string]int{"acme/production/s3": 1}) {
		t.Errorf("Observer.DeleteFailed calls = %v, want one for s3", failed)
	}
}

func TestApplyErrors(t *testing.T) {
	t.Run("canceled context", func(t *testing.T) {
		f := newFixture(t)
		rs := f.storeDays(t, "acme", "production", 3)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := f.enf.Apply(ctx, "acme", "production", Policy{Last: 1}, false)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Apply(canceled) error = %v, want context.Canceled", err)
		}
		if diff := cmp.Diff(repeat("both", 3), f.filesPresent(t, rs...)); diff != "" {
			t.Errorf("files after canceled Apply (-want +got):\n%s", diff)
		}
	})
	t.Run("closed catalog", func(t *testing.T) {
		f := newFixture(t)
		rs := f.storeDays(t, "acme", "production", 3)
		if err := f.db.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := f.enf.Apply(context.Background(), "acme", "production", Policy{Last: 1}, false); err == nil {
			t.Error("Apply on a closed catalog succeeded")
		}
		if err := f.enf.RetryPending(context.Background()); err == nil {
			t.Error("RetryPending on a closed catalog succeeded")
		}
		if diff := cmp.Diff(repeat("both", 3), f.filesPresent(t, rs...)); diff != "" {
			t.Errorf("files after failed Apply (-want +got):\n%s", diff)
		}
	})
}

// failingTarget fails the deletes of the keys in fail.
type failingTarget struct {
	Target
	fail map[string]bool
}

func (t failingTarget) Delete(ctx context.Context, key string) error {
	if t.fail[key] {
		return fmt.Errorf("delete %s: injected failure", key)
	}
	return t.Target.Delete(ctx, key)
}

// Only the backups whose files are all gone lose their records; the others
// stay marked and are counted as failed.
func TestApplyRemovesOnlyDeletedBackups(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	rs := f.storeDays(t, "acme", "production", 4)
	stuck := keyOf(t, rs[1])
	f.enf.Targets["local"] = failingTarget{Target: f.enf.Targets["local"], fail: map[string]bool{stuck: true}}

	res, err := f.enf.Apply(ctx, "acme", "production", Policy{Last: 1}, false)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if want := []string{rs[0].ID, rs[2].ID}; !slices.Equal(res.Deleted, want) {
		t.Errorf("Apply(...).Deleted = %v, want %v", res.Deleted, want)
	}
	if want := []string{rs[1].ID}; !slices.Equal(res.Failed, want) {
		t.Errorf("Apply(...).Failed = %v, want %v", res.Failed, want)
	}
	var wantEvents []string
	wantEvents = append(wantEvents, "mark "+strings.Join(idsOf(rs[:3]), " "))
	for _, r := range rs[:3] {
		key := keyOf(t, r)
		wantEvents = append(wantEvents, "delete "+storage.ManifestKey(key))
		if key != stuck {
			wantEvents = append(wantEvents, "delete "+key)
		}
	}
	wantEvents = append(wantEvents, "remove "+rs[0].ID+" "+rs[2].ID)
	if diff := cmp.Diff(wantEvents, f.log.take()); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	if got := f.deleting(t); !slices.Equal(got, []string{rs[1].ID}) {
		t.Errorf("marked deleting = %v, want [%s]", got, rs[1].ID)
	}
	if got := f.listed(t, "acme", "production"); !slices.Equal(got, []string{rs[3].ID}) {
		t.Errorf("listed = %v, want [%s]", got, rs[3].ID)
	}
	deleted, failed := f.obs.counts()
	if !cmp.Equal(deleted, map[string]int{"acme/production/local": 2}) || !cmp.Equal(failed, map[string]int{"acme/production/local": 1}) {
		t.Errorf("Observer calls: deleted %v, failed %v; want 2 and 1", deleted, failed)
	}
}

// racingCatalog runs before once, just before the first call of the named
// method, as another process changing the catalog would.
type racingCatalog struct {
	Catalog
	method string
	before func()
	once   *sync.Once
}

func (c racingCatalog) MarkDeletingBatch(ctx context.Context, ids []string) error {
	if c.method == "MarkDeletingBatch" {
		c.once.Do(c.before)
	}
	return c.Catalog.MarkDeletingBatch(ctx, ids)
}

func (c racingCatalog) RemoveBatch(ctx context.Context, ids []string) error {
	if c.method == "RemoveBatch" {
		c.once.Do(c.before)
	}
	return c.Catalog.RemoveBatch(ctx, ids)
}

// A backup removed from the catalog meanwhile fails the batch; Apply goes
// on with the others one by one.
func TestApplyBackupRemovedMeanwhile(t *testing.T) {
	tests := []struct {
		method      string
		wantDeleted []int // indexes into the stored backups
		wantFiles   []string
	}{
		// Not marked by this Apply: its files are not touched.
		{"MarkDeletingBatch", []int{0, 2}, []string{"none", "both", "none", "both"}},
		// Its files were deleted by this Apply before its record went.
		{"RemoveBatch", []int{0, 1, 2}, []string{"none", "none", "none", "both"}},
	}
	for _, tt := range tests {
		t.Run(tt.method, func(t *testing.T) {
			f := newFixture(t)
			ctx := context.Background()
			rs := f.storeDays(t, "acme", "production", 4)
			f.enf.Catalog = racingCatalog{Catalog: f.enf.Catalog, method: tt.method, once: &sync.Once{}, before: func() {
				if err := f.db.Remove(ctx, rs[1].ID); err != nil {
					t.Errorf("Remove: %v", err)
				}
			}}

			res, err := f.enf.Apply(ctx, "acme", "production", Policy{Last: 1}, false)
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			var want []string
			for _, i := range tt.wantDeleted {
				want = append(want, rs[i].ID)
			}
			if !slices.Equal(res.Deleted, want) || len(res.Failed) != 0 {
				t.Errorf("Apply(...) = deleted %v, failed %v; want deleted %v", res.Deleted, res.Failed, want)
			}
			if diff := cmp.Diff(tt.wantFiles, f.filesPresent(t, rs...)); diff != "" {
				t.Errorf("files after Apply (-want +got):\n%s", diff)
			}
			if got := f.listed(t, "acme", "production"); !slices.Equal(got, []string{rs[3].ID}) {
				t.Errorf("listed = %v, want [%s]", got, rs[3].ID)
			}
			if got := f.deleting(t); len(got) != 0 {
				t.Errorf("still marked: %v", got)
			}
		})
	}
}

func TestForgetDeletesWhateverThePolicyAndRefusesPinned(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	recs := f.storeDays(t, "acme", "production", 3) // oldest first
	newest := recs[2]
	pinned := recs[1]
	if err := f.db.SetPinned(ctx, pinned.ID, true); err != nil {
		t.Fatal(err)
	}
	pinned.Pinned = true
	// A pinned one among them: nothing is deleted.
	if _, err := f.enf.Forget(ctx, []catalog.Record{newest, pinned}); !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), pinned.ID) {
		t.Fatalf("Forget(with pinned) = %v, want ErrRefused naming %s", err, pinned.ID)
	}
	if got := f.listed(t, "acme", "production"); len(got) != 3 {
		t.Fatalf("after a refused forget %v are listed, want all 3", got)
	}
	// The newest one, which retention never deletes, goes.
	res, err := f.enf.Forget(ctx, []catalog.Record{newest})
	if err != nil || len(res.Deleted) != 1 {
		t.Fatalf("Forget = %+v, %v", res, err)
	}
	if got := f.listed(t, "acme", "production"); slices.Contains(got, newest.ID) || len(got) != 2 {
		t.Fatalf("listed after forget = %v, want the two older ones", got)
	}
	if got := f.filesPresent(t, newest); got[0] != "none" {
		t.Fatalf("files of the forgotten backup: %v, want none", got)
	}
}
