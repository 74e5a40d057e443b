package e2e

import (
	"os"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/builtfast/vectord/catalog"
	"github.com/builtfast/vectord/vectorsim"
)

// keepLast2 overrides every count rule of the built-in default retention.
const keepLast2 = "{keep_last: 2, keep_hourly: 0, keep_daily: 0, keep_weekly: 0, keep_monthly: 0}"

// TestRetention: with keep_last 2 and a backup every second, each
// environment ends with exactly two backups in the catalog and on disk.
// When retention cannot delete a backup's files, the backup is marked (no
// longer listed), its files stay, the failure is counted in
// vectord_retention_delete_errors_total, and a later retention run finishes
// the delete once it can: nothing lost, nothing listed without its file.
//
// While deletes fail and globex's exports fail, the test also checks that
// /metrics holds every metric family of CONTRACT §8 with its type: by then
// the daemon has seen a success, a failure, a retention delete and a failed
// delete.
func TestRetention(t *testing.T) {
	f := newFixture(t, options{schedule: "@every 1s", retention: keepLast2})

	// 1. At least four backups of every environment: two remain.
	p := f.start()
	waitFor(t, "four successful backups of every environment", 25*time.Second, func() bool {
		fs := f.scrape()
		for _, e := range allEnvs {
			if fs.sum("vectord_backup_runs_total", "site", e[0], "environment", e[1], "outcome", "success") < 4 {
				return false
			}
		}
		return true
	})
	p.stopClean(t)
	for _, e := range allEnvs {
		live, deleting := checkStored(t, f, e[0], e[1])
		if len(live) != 2 || len(deleting) != 0 {
			t.Errorf("%s/%s after 4+ backups with keep_last 2: %d listed, %d being deleted; want 2 and 0",
				e[0], e[1], len(live), len(deleting))
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	// 2. acme/production's two backups cannot be deleted; globex's
	// exports fail.
	old, _ := f.catalogState("acme", "production")
	oldIDs := ids(old)
	var paths []string
	for _, r := range old {
		paths = append(paths, localPath(t, r), localPath(t, r)+".json")
	}
	allow := forbidDeletes(t, paths...)
	f.sim.SetFaults(globexID, vectorsim.Faults{FailExport: "mysqldump: Got error: 1045"})
	p = f.start()
	waitFor(t, "retention to mark acme/production's undeletable backups and count the failed deletes", 20*time.Second, func() bool {
		listed := ids(f.apiBackups("acme", "production"))
		fs := f.scrape()
		errs, _ := fs.value("vectord_retention_delete_errors_total", "site", "acme", "environment", "production", "target", "local")
		return !slices.Contains(listed, oldIDs[0]) && !slices.Contains(listed, oldIDs[1]) && errs > 0
	})
	for _, path := range paths {
		if _, err := os.Stat(path); err != nil {
			t.Errorf("a backup whose delete failed lost its file: %v", err)
		}
	}
	for _, r := range f.apiBackups("acme", "production") {
		for _, path := range []string{localPath(t, r), localPath(t, r) + ".json"} {
			if _, err := os.Stat(path); err != nil {
				t.Errorf("listed backup %s: %v", r.ID, err)
			}
		}
	}
	t.Run("every CONTRACT §8 metric family on /metrics", func(t *testing.T) {
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			missing := missingFamilies(f.scrape())
			if len(missing) == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("/metrics lacks CONTRACT §8 families after a success, a failure, a delete and a failed delete: %v", missing)
			}
		}
	})
	p.stopClean(t)
	live, deleting := checkStored(t, f, "acme", "production")
	if got := ids(deleting); !cmp.Equal(got, oldIDs) {
		t.Errorf("backups marked deleting = %v, want the undeletable %v", got, oldIDs)
	}
	if len(live) != 2 {
		t.Errorf("listed acme/production backups = %d, want 2 beside the undeletable ones", len(live))
	}

	// 3. Deletes work again: the next retention run finishes them.
	allow()
	f.sim.SetFaults(globexID, vectorsim.Faults{})
	p = f.start()
	waitFor(t, "the unfinished deletes to be retried", 20*time.Second, func() bool {
		backups, manifests := f.storedFiles("acme", "production")
		if len(backups) != 2 || len(manifests) != 2 {
			return false
		}
		for _, path := range paths {
			if _, err := os.Stat(path); err == nil {
				return false
			}
		}
		return true
	})
	p.stopClean(t)
	for _, e := range allEnvs {
		live, deleting := checkStored(t, f, e[0], e[1])
		if len(live) != 2 || len(deleting) != 0 {
			t.Errorf("%s/%s at the end: %d listed, %d being deleted; want 2 and 0", e[0], e[1], len(live), len(deleting))
		}
	}
	f.assertInvariants(t)
}

// checkStored reads the catalog of a stopped daemon and checks that the
// files of site/env on disk are exactly those of its listed backups and of
// its backups marked deleting: every backup file beside its manifest, no
// listed backup without its file, no file that no record accounts for.
func checkStored(t *testing.T, f *fixture, site, env string) (live, deleting []catalog.Record) {
	t.Helper()
	live, deleting = f.catalogState(site, env)
	var wantBackups, wantManifests []string
	for _, r := range append(slices.Clone(live), deleting...) {
		p := localPath(t, r)
		wantBackups = append(wantBackups, p)
		wantManifests = append(wantManifests, p+".json")
	}
	slices.Sort(wantBackups)
	slices.Sort(wantManifests)
	backups, manifests := f.storedFiles(site, env)
	if diff := cmp.Diff(wantBackups, backups); diff != "" {
		t.Errorf("%s/%s backup files differ from the catalog's records (-catalog +disk):\n%s", site, env, diff)
	}
	if diff := cmp.Diff(wantManifests, manifests); diff != "" {
		t.Errorf("%s/%s manifests differ from the catalog's records (-catalog +disk):\n%s", site, env, diff)
	}
	return live, deleting
}

// ids returns the records' ids, sorted.
func ids(recs []catalog.Record) []string {
	out := make([]string, 0, len(recs))
	for _, r := range recs {
		out = append(out, r.ID)
	}
	slices.Sort(out)
	return out
}
