package e2e

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/builtfast/vectord/catalog"
	"github.com/builtfast/vectord/vectorsim"
)

// The fault matrix: every way CONTRACT §1 lets the API, the presigned
// download, the disk and the operator misbehave, end to end against the
// real binary. Each cell asserts what a user relies on: the job's outcome
// as /metrics counts it (vectord_backup_runs_total{outcome} and
// vectord_backup_failures_total{reason}), no corrupt record (a stored
// backup's SHA-256 is the simulator's dump's, as `vectord cat` streams
// it), no stray file (no .partial, no backup or manifest without its
// record) and no second export request.

// dev is the environment name of a site configured without environments.
const dev = "development"

// globexOnly configures one site, globex, and its development database.
const globexOnly = "  - name: globex\n    id: \"1002\"\n"

// success is the outcome of a cell whose job must succeed; the other cells
// name the failure reason they must be counted under.
const success = "success"

// matrixCell is one fault given to one site's manual backup job.
type matrixCell struct {
	name string
	site string // configured site name, unique per cell
	env  string // YAML keys of the site's development environment besides its name
	// arm sets the fault up before the job is submitted.
	arm func(f *fixture, siteID string)
	// want is success or the failure reason of vectord_backup_failures_total.
	want string
	// errHas is a part of the failed job's error, as GET /api/v1/jobs shows it.
	errHas string
	// check asserts on the requests of the cell's job (arrived since).
	check func(t *testing.T, f *fixture, siteID string, since time.Time)
}

// matrixCells share one daemon: each has a site of its own, whose faults
// the simulator keeps apart from the other sites'.
var matrixCells = []matrixCell{
	{
		name: "export failed", site: "export-failed",
		arm: func(f *fixture, id string) {
			f.sim.SetFaults(id, vectorsim.Faults{FailExport: "mysqldump: Got error: 1045: Access denied"})
		},
		want: "export_failed", errHas: "Access denied",
	},
	{
		name: "stuck in processing past export_timeout", site: "stuck", env: "export_timeout: 1s",
		arm: func(f *fixture, id string) {
			f.sim.SetFaults(id, vectorsim.Faults{StuckProcessing: true})
		},
		want: "export_timeout", errHas: "export_timeout",
	},
	{
		name: "5xx storm on status polls", site: "storm-5xx",
		arm: func(f *fixture, id string) {
			// Four answers in a row, the simulator's whole cycle: 500 with
			// a JSON envelope, 502 and 503 proxy pages.
			f.tap.onExportAnswered(id, func() { f.sim.SetFaults(id, vectorsim.Faults{ServerErrors: 4}) })
		},
		want: success,
		check: func(t *testing.T, f *fixture, id string, since time.Time) {
			codes := map[int]int{}
			for _, r := range f.tap.requests(id, "status", since) {
				codes[r.Status]++
			}
			if codes[500]+codes[502]+codes[503] != 4 || codes[502] == 0 || codes[503] == 0 {
				t.Errorf("status queries answered %v, want 4 answers 500, 502 and 503 then 200s", codes)
			}
			if n := len(f.tap.requests(id, "export", since)); n != 1 {
				t.Errorf("export requests = %d, want 1", n)
			}
		},
	},
	{
		name: "export answer lost", site: "answer-lost",
		arm: func(f *fixture, id string) {
			f.sim.SetFaults(id, vectorsim.Faults{DropExportAnswer: true})
		},
		want: "api", errHas: "not re-sent",
		check: func(t *testing.T, f *fixture, id string, since time.Time) {
			if n := len(f.tap.requests(id, "export", since)); n != 1 {
				t.Errorf("export requests = %d, want 1: an export whose answer was lost is not sent again", n)
			}
		},
	},
	{
		name: "429 storm", site: "storm-429",
		arm: func(f *fixture, id string) {
			f.sim.SetFaults(id, vectorsim.Faults{RateLimited: 3})
		},
		want: success,
		check: func(t *testing.T, f *fixture, id string, since time.Time) {
			var all []tapRequest
			for _, op := range []string{"export", "status", "other"} {
				all = append(all, f.tap.requests(id, op, since)...)
			}
			slices.SortFunc(all, func(a, b tapRequest) int { return a.At.Compare(b.At) })
			limited := 0
			for i, r := range all {
				if r.Status != http.StatusTooManyRequests {
					continue
				}
				limited++
				// Retry-After: 1, measured between arrivals.
				if i+1 < len(all) && all[i+1].At.Sub(r.At) < 950*time.Millisecond {
					t.Errorf("request %d came %v after a 429 with Retry-After: 1", i+1, all[i+1].At.Sub(r.At))
				}
			}
			if limited != 3 {
				t.Errorf("429 answers = %d, want 3", limited)
			}
			if n := len(f.tap.requests(id, "export", since)); n != 4 {
				t.Errorf("export request attempts = %d, want 4 (three refused with 429, then one accepted)", n)
			}
		},
	},
	{
		name: "expired download URL", site: "url-expired",
		arm: func(f *fixture, id string) {
			f.sim.SetFaults(id, vectorsim.Faults{ExpiredURLs: 1})
		},
		want: success,
		check: func(t *testing.T, f *fixture, id string, since time.Time) {
			dl := f.tap.requests(id, "download", since)
			if len(dl) != 2 || dl[0].Status != http.StatusForbidden || dl[1].Status != http.StatusOK {
				t.Fatalf("downloads = %+v, want a 403 then a 200", dl)
			}
			fresh := 0
			for _, r := range f.tap.requests(id, "status", since) {
				if r.At.After(dl[0].At) && r.At.Before(dl[1].At) {
					fresh++
				}
			}
			if fresh != 1 {
				t.Errorf("status queries between the refused and the good download = %d, want 1 (the fresh URL)", fresh)
			}
		},
	},
	cutCell("connection cut at 0% of the body", "cut-0", 0),
	cutCell("connection cut at 50% of the body", "cut-50", 16<<10/2),
	cutCell("connection cut at 99% of the body", "cut-99", 16<<10*99/100),
	{
		name: "body shorter than Content-Length", site: "short-body",
		arm: func(f *fixture, id string) {
			f.sim.SetFaults(id, vectorsim.Faults{WrongLength: 100})
		},
		want: "download", errHas: "download",
	},
	{
		// The simulator cannot serve this: the tap announces 100 bytes
		// fewer than the body holds. Go's client stops at Content-Length,
		// so the dump lacks its end and the completeness check refuses it.
		name: "body longer than Content-Length", site: "long-body",
		arm: func(f *fixture, id string) {
			f.tap.announceShort(id, 100)
		},
		want: "verify", errHas: "incomplete",
	},
	{
		name: "corrupt gzip", site: "corrupt-gzip",
		arm: func(f *fixture, id string) {
			f.sim.SetFaults(id, vectorsim.Faults{CorruptGzip: true})
		},
		want: "verify",
	},
	{
		name: "gzip export", site: "gzip",
		arm: func(f *fixture, id string) {
			f.sim.SetFaults(id, vectorsim.Faults{Gzip: true})
		},
		want: success,
	},
	{
		name: "dump without trailer", site: "no-trailer",
		arm: func(f *fixture, id string) {
			f.sim.SetFaults(id, vectorsim.Faults{NoTrailer: true})
		},
		want: "verify", errHas: "Dump completed",
	},
}

// cutCell closes the connection after `at` bytes of the first download:
// the rest comes with a Range request from that byte (from 0, without one).
func cutCell(name, site string, at int64) matrixCell {
	return matrixCell{
		name: name, site: site,
		arm: func(f *fixture, id string) {
			f.sim.SetFaults(id, vectorsim.Faults{CutAfter: at, CutTimes: 1})
		},
		want: success,
		check: func(t *testing.T, f *fixture, id string, since time.Time) {
			wantRange := ""
			if at > 0 {
				wantRange = fmt.Sprintf("bytes=%d-", at)
			}
			dl := f.tap.requests(id, "download", since)
			if len(dl) != 2 || dl[0].Range != "" || dl[1].Range != wantRange {
				t.Errorf("downloads = %+v, want a whole one cut at byte %d, then one with Range %q", dl, at, wantRange)
			}
		},
	}
}

func cellSiteID(i int) string { return fmt.Sprint(3001 + i) }

// TestFaultMatrix runs every cell of matrixCells at once on one daemon: a
// first backup of every site (the start-up catch-up), then one manual job
// per site with the cell's fault.
func TestFaultMatrix(t *testing.T) {
	var sites strings.Builder
	for i, c := range matrixCells {
		fmt.Fprintf(&sites, "  - name: %s\n    id: %q\n", c.site, cellSiteID(i))
		if c.env != "" {
			fmt.Fprintf(&sites, "    environments:\n      - name: %s\n        %s\n", dev, c.env)
		}
	}
	f := newFixture(t, options{sites: sites.String(), extra: "concurrency:\n  exports: 16\n  downloads: 16\n"})
	for i := range matrixCells {
		f.sim.AddSite(cellSiteID(i))
	}
	p := f.start()
	before := waitBaseline(t, f, matrixCells)

	since := time.Now()
	jobs := make([]string, len(matrixCells))
	for i, c := range matrixCells {
		if c.arm != nil {
			c.arm(f, cellSiteID(i))
		}
		jobs[i] = f.submit(c.site, dev)
	}
	added := map[string]string{} // backup id → the simulator's dump's SHA-256
	for i, c := range matrixCells {
		t.Run(c.name, func(t *testing.T) {
			st := f.waitJob(t, jobs[i], 45*time.Second, "to end", jobStatus.done)
			for _, r := range checkOutcome(t, f, c.site, cellSiteID(i), st, c.want, c.errHas, before[c.site]) {
				added[r.ID] = f.dumps.last(cellSiteID(i), "")
			}
			if c.check != nil {
				c.check(t, f, cellSiteID(i), since)
			}
		})
	}
	p.stopClean(t)
	t.Run("after the daemon stopped", func(t *testing.T) {
		for _, c := range matrixCells {
			live, deleting := f.catalogState(c.site, dev)
			if len(deleting) != 0 {
				t.Errorf("%s: backups marked deleting: %v", c.site, ids(deleting))
			}
			checkFiles(t, f, c.site, dev, live)
		}
		// `vectord cat` beside a running daemon waits a second for the
		// catalog's lock before asking the daemon: it runs here instead.
		for id, sum := range added {
			checkSQL(t, f, id, sum)
		}
		if code, out, errs := f.vectord(t, "verify"); code != 0 {
			t.Errorf("vectord verify = %d, want 0 (every record good):\n%s%s", code, out, errs)
		}
	})
	f.assertInvariants(t)
}

// waitBaseline waits for the start-up catch-up to back up every cell's
// site once and returns each site's records.
func waitBaseline(t *testing.T, f *fixture, cells []matrixCell) map[string][]catalog.Record {
	t.Helper()
	waitFor(t, "a first backup of every site", 30*time.Second, func() bool {
		fs := f.scrape()
		for _, c := range cells {
			if fs.sum("vectord_backup_runs_total", "site", c.site, "outcome", "success") < 1 {
				return false
			}
		}
		return f.idle()
	})
	before := map[string][]catalog.Record{}
	for _, c := range cells {
		before[c.site] = f.apiBackups(c.site, dev)
		if len(before[c.site]) != 1 {
			t.Fatalf("%s: %d backups after the first run, want 1", c.site, len(before[c.site]))
		}
	}
	return before
}

// checkOutcome asserts what one job left, the daemon still running: its
// state and counters, its record (or none) and that it describes the
// simulator's dump, the files on disk and the export requests.
// It returns the record the job added, if any.
func checkOutcome(t *testing.T, f *fixture, site, siteID string, st jobStatus, want, errHas string, before []catalog.Record) []catalog.Record {
	t.Helper()
	ok := want == success
	wantState, outcome, other := "failed", "failure", "success"
	if ok {
		wantState, outcome, other = "succeeded", "success", "failure"
	}
	if st.State != wantState {
		t.Errorf("job state = %q (error %q), want %q", st.State, st.Error, wantState)
	}
	if errHas != "" && !strings.Contains(st.Error, errHas) {
		t.Errorf("job error = %q, want it to mention %q", st.Error, errHas)
	}
	if strings.Contains(st.Error, testToken) || strings.Contains(st.Error, "X-Amz-Signature") {
		t.Errorf("job error reveals a secret: %q", st.Error)
	}

	fs := f.scrape()
	labels := []string{"site", site, "environment", dev, "trigger", "manual"}
	if n := fs.sum("vectord_backup_runs_total", append(labels, "outcome", outcome)...); n != 1 {
		t.Errorf("vectord_backup_runs_total{outcome=%q} = %v, want 1", outcome, n)
	}
	if n := fs.sum("vectord_backup_runs_total", append(labels, "outcome", other)...); n != 0 {
		t.Errorf("vectord_backup_runs_total{outcome=%q} = %v, want 0", other, n)
	}
	failures := fs.sum("vectord_backup_failures_total", "site", site, "environment", dev)
	switch {
	case ok && failures != 0:
		t.Errorf("vectord_backup_failures_total = %v, want 0", failures)
	case !ok && (failures != 1 || fs.sum("vectord_backup_failures_total", "site", site, "environment", dev, "reason", want) != 1):
		t.Errorf("vectord_backup_failures_total = %v, want 1 with reason %q; by reason: %v", failures, want, failureReasons(fs, site))
	}

	if n := f.sim.Stats().ExportRequests[vectorsim.EnvKey{Site: siteID}]; n != len(before)+1 {
		t.Errorf("exports the API carried out = %d, want %d (one for this job)", n, len(before)+1)
	}

	recs := f.apiBackups(site, dev)
	added := newRecords(before, recs)
	switch {
	case !ok && len(added) != 0:
		t.Errorf("a failed job left records: %+v", added)
	case ok && len(added) != 1:
		t.Errorf("records added = %d, want 1", len(added))
	case ok:
		r := added[0]
		if r.ID != st.BackupID || r.Trigger != catalog.TriggerManual {
			t.Errorf("record %s (trigger %s), want the job's backup %s (trigger manual)", r.ID, r.Trigger, st.BackupID)
		}
		if want := f.dumps.last(siteID, ""); r.SHA256 != want || r.SizeBytes != f.dumps.size.Load() {
			t.Errorf("record %s: %d bytes with sha256 %s, want the simulator's dump: %d bytes with sha256 %s",
				r.ID, r.SizeBytes, r.SHA256, f.dumps.size.Load(), want)
		}
	}
	checkFiles(t, f, site, dev, recs)
	return added
}

func failureReasons(fs families, site string) map[string]float64 {
	out := map[string]float64{}
	for _, m := range fs.series("vectord_backup_failures_total", "site", site) {
		for _, l := range m.GetLabel() {
			if l.GetName() == "reason" {
				out[l.GetValue()] = m.GetCounter().GetValue()
			}
		}
	}
	return out
}

// newRecords returns the records of after whose ids before lacks.
func newRecords(before, after []catalog.Record) []catalog.Record {
	var out []catalog.Record
	for _, r := range after {
		if !slices.ContainsFunc(before, func(b catalog.Record) bool { return b.ID == r.ID }) {
			out = append(out, r)
		}
	}
	return out
}

// checkSQL asserts that `vectord cat` streams the SQL whose SHA-256 is
// wantSHA for backup id.
func checkSQL(t *testing.T, f *fixture, id, wantSHA string) {
	t.Helper()
	code, out, errs := f.vectord(t, "cat", id)
	sum := sha256.Sum256([]byte(out))
	if code != 0 || wantSHA == "" || hex.EncodeToString(sum[:]) != wantSHA {
		t.Errorf("vectord cat %s = exit %d, %d bytes with sha256 %x; want exit 0 and the simulator's dump, sha256 %s\n%s",
			id, code, len(out), sum, wantSHA, errs)
	}
}

// checkFiles asserts that the files of site/env on the local target are
// exactly those of recs: each backup beside its manifest, nothing else, no
// .partial.
func checkFiles(t *testing.T, f *fixture, site, env string, recs []catalog.Record) {
	t.Helper()
	var wantBackups, wantManifests []string
	for _, r := range recs {
		p := localPath(t, r)
		wantBackups = append(wantBackups, p)
		wantManifests = append(wantManifests, p+".json")
	}
	slices.Sort(wantBackups)
	slices.Sort(wantManifests)
	backups, manifests := f.storedFiles(site, env)
	if diff := cmp.Diff(wantBackups, backups); diff != "" {
		t.Errorf("%s/%s backup files differ from the records (-records +disk):\n%s", site, env, diff)
	}
	if diff := cmp.Diff(wantManifests, manifests); diff != "" {
		t.Errorf("%s/%s manifests differ from the records (-records +disk):\n%s", site, env, diff)
	}
	if ps := f.partials(filepath.Join(site, env)); len(ps) != 0 {
		t.Errorf(".partial files left: %v", ps)
	}
}

// TestFaultExportRequest502: a 502 to the export request comes from a proxy
// that may have passed the request on, so the export may have started. The
// request is not sent again (a second one would start a second export and
// spend budget); the job fails with reason api.
func TestFaultExportRequest502(t *testing.T) {
	f := newFixture(t, options{sites: globexOnly})
	// The simulator's injected 5xx answers cycle 500, 502, 500, 503: spend
	// the 500 so that the daemon's first request, the catch-up's export
	// request, meets the 502.
	f.sim.SetFaults(globexID, vectorsim.Faults{ServerErrors: 1})
	req, _ := http.NewRequest(http.MethodGet, f.apiURL+"/sites/"+globexID+"/database/export/none", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("spend the simulator's first 5xx: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	f.sim.SetFaults(globexID, vectorsim.Faults{ServerErrors: 1})
	since := time.Now()

	p := f.start()
	waitFor(t, "the catch-up job to fail", 20*time.Second, func() bool {
		return f.scrape().sum("vectord_backup_runs_total", "site", "globex") >= 1 && f.idle()
	})
	fs := f.scrape()
	if n := fs.sum("vectord_backup_runs_total", "site", "globex", "trigger", "schedule", "outcome", "failure"); n != 1 {
		t.Errorf("vectord_backup_runs_total{outcome=failure} = %v, want 1", n)
	}
	if n := fs.sum("vectord_backup_failures_total", "site", "globex", "reason", "api"); n != 1 {
		t.Errorf("vectord_backup_failures_total{reason=api} = %v, want 1; by reason: %v", n, failureReasons(fs, "globex"))
	}
	exports := f.tap.requests(globexID, "export", since)
	if len(exports) != 1 || exports[0].Status != http.StatusBadGateway {
		t.Errorf("export requests = %+v, want exactly one, answered 502", exports)
	}
	if n := f.sim.Stats().ExportRequests[vectorsim.EnvKey{Site: globexID}]; n != 0 {
		t.Errorf("exports carried out = %d, want 0", n)
	}
	if recs := f.apiBackups("globex", dev); len(recs) != 0 {
		t.Errorf("records after a failed job: %+v", recs)
	}
	checkFiles(t, f, "globex", dev, nil)
	p.stopClean(t)
	if !strings.Contains(p.stderr.String(), "not re-sent") {
		t.Errorf("the daemon's log does not say the export request was not re-sent:\n%s", tail(p.stderr.String(), 20))
	}
	f.assertInvariants(t)
}

// TestFaultDiskFull: the local target's file system fills up during the
// write. The job fails with reason storage, and its partial file is gone:
// the space is free again and the next backup succeeds.
func TestFaultDiskFull(t *testing.T) {
	f := newFixture(t, options{sites: globexOnly, storage: "  compression: none\n"})
	root := f.backupRoot()
	if err := os.MkdirAll(root, 0o700); err != nil {
		t.Fatal(err)
	}
	// A 2 MiB file system under storage.local.path; unmounted after the
	// daemon is stopped (cleanups run last-registered first).
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", root).CombinedOutput(); err != nil {
		t.Skipf("mount a 2 MiB tmpfs (needs root and CAP_SYS_ADMIN): %v %s; exporter's TestStorageFailureLeavesNothing covers ENOSPC with an injected writer", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", root).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", root, err, out)
		}
	})
	p := f.start()
	before := waitBaseline(t, f, []matrixCell{{site: "globex"}})["globex"]
	free := freeBytes(t, root)

	f.dumps.setSize(3 << 20) // plain and uncompressed: more than the file system holds
	st := f.waitJob(t, f.submit("globex", dev), 30*time.Second, "to end", jobStatus.done)
	checkOutcome(t, f, "globex", globexID, st, "storage", "no space left", before)
	if got := freeBytes(t, root); got != free {
		t.Errorf("free space after the failed job = %d bytes, want %d as before it: the partial file must be gone", got, free)
	}

	f.dumps.setSize(16 << 10)
	st = f.waitJob(t, f.submit("globex", dev), 30*time.Second, "to end", jobStatus.done)
	if st.State != "succeeded" {
		t.Errorf("the next backup, with room for it: %+v, want succeeded", st)
	}
	p.stopClean(t)
	live, _ := f.catalogState("globex", dev)
	checkFiles(t, f, "globex", dev, live)
	f.assertInvariants(t)
}

func freeBytes(t *testing.T, path string) uint64 {
	t.Helper()
	var s syscall.Statfs_t
	if err := syscall.Statfs(path, &s); err != nil {
		t.Fatal(err)
	}
	return s.Bfree * uint64(s.Bsize)
}

// TestFaultCatalogLocked: a second vectord on the same state_dir meets the
// catalog locked by another process. It fails with exit status 1 and an
// error naming the catalog and the lock, and changes nothing: no export
// requested, no record, no file.
func TestFaultCatalogLocked(t *testing.T) {
	f := newFixture(t, options{sites: globexOnly})
	dbPath := filepath.Join(f.dir, "state", "catalog.db")
	// The same configuration on another listen address, where no daemon
	// answers.
	cfg, err := os.ReadFile(f.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(f.dir, "other.yaml")
	if err := os.WriteFile(other, []byte(strings.Replace(string(cfg), f.listen, freeAddr(t), 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	p := f.start()
	before := waitBaseline(t, f, []matrixCell{{site: "globex"}})["globex"]
	exports := f.sim.Stats().ExportRequests

	tests := []struct {
		name   string
		holder string // "daemon": a running vectord run; "process": another process's open catalog
		args   []string
		errHas []string
	}{
		{"second vectord run beside a daemon", "daemon", []string{"run", "--config", other},
			[]string{"catalog locked by another vectord", dbPath}},
		// backup asks a daemon holding the catalog to take the backup: the
		// error names the lock and where no daemon answered.
		{"vectord backup that cannot reach the daemon", "daemon", []string{"backup", "--site", "globex", "--config", other},
			[]string{"catalog locked by another vectord", "server.listen"}},
		{"vectord run while another process holds the catalog", "process", []string{"run"},
			[]string{"catalog locked by another vectord", dbPath}},
		{"vectord backup while another process holds the catalog", "process", []string{"backup", "--site", "globex"},
			[]string{"catalog locked by another vectord", "server.listen " + f.listen}},
	}
	var held *catalog.DB
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.holder == "process" && held == nil {
				if !p.exited() {
					p.stopClean(t)
				}
				if held, err = catalog.Open(dbPath, catalog.Options{}); err != nil {
					t.Fatalf("hold the catalog: %v", err)
				}
			}
			start := time.Now()
			code, out, errs := f.vectord(t, tt.args...)
			if code != 1 {
				t.Errorf("vectord %s = exit %d, want 1 (the operation failed)\nstdout: %s\nstderr: %s", tt.args[0], code, out, errs)
			}
			for _, s := range tt.errHas {
				if !strings.Contains(errs, s) {
					t.Errorf("stderr = %q, want it to name %q", errs, s)
				}
			}
			if n := strings.Count(strings.TrimSpace(errs), "\n"); n > 0 {
				t.Errorf("stderr holds %d lines, want one sentence:\n%s", n+1, errs)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("vectord %s took %v to give up, want it to fail fast", tt.args[0], d)
			}
			if got := f.sim.Stats().ExportRequests; !cmp.Equal(got, exports) {
				t.Errorf("export requests = %v, want %v as before", got, exports)
			}
			if tt.holder == "daemon" {
				if code := httpStatus("http://" + f.listen + "/readyz"); code != http.StatusOK {
					t.Errorf("the running daemon's /readyz = %d after the second vectord, want 200", code)
				}
				checkFiles(t, f, "globex", dev, f.apiBackups("globex", dev))
			}
		})
	}
	if held != nil {
		if err := held.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if !p.exited() {
		p.stopClean(t)
	}
	live, _ := f.catalogState("globex", dev)
	if diff := cmp.Diff(ids(before), ids(live)); diff != "" {
		t.Errorf("records changed (-before +after):\n%s", diff)
	}
	checkFiles(t, f, "globex", dev, live)
	f.assertInvariants(t)
}

// signalPhase holds a manual job in one phase of its life.
type signalPhase struct {
	name string
	opts options
	s3   bool // the phase needs an S3 archive target (storing)
	// enter submits the job and returns once it is in the phase; release
	// lifts whatever holds it there.
	enter func(t *testing.T, f *fixture, st *s3Stall) (jobID string, release func())
	// exported: the export was requested before the signal. resumes: a
	// restarted daemon polls that export and stores it.
	exported, resumes bool
}

var signalPhases = []signalPhase{
	{
		// One database operation an hour, spent on the first backup: the
		// manual job waits for budget.
		name: "queued", opts: options{dbOpsPerHour: 1},
		enter: func(t *testing.T, f *fixture, _ *s3Stall) (string, func()) {
			id := f.submit("globex", dev)
			waitFor(t, "the job queued for budget", 10*time.Second, func() bool {
				fs := f.scrape()
				running, _ := fs.value("vectord_jobs_running")
				queued, _ := fs.value("vectord_jobs_queued")
				return running == 0 && queued == 1 && f.job(t, id).State == "queued"
			})
			return id, func() {}
		},
	},
	{
		// The API has carried out the export request; its answer has not
		// reached the daemon.
		name: "export request in flight",
		enter: func(t *testing.T, f *fixture, _ *s3Stall) (string, func()) {
			held, release := f.tap.holdExportAnswers(globexID)
			id := f.submit("globex", dev)
			select {
			case <-held:
			case <-time.After(10 * time.Second):
				release()
				t.Fatal("the export request did not arrive within 10s")
			}
			return id, release
		},
		exported: true,
	},
	{
		name: "exporting, waiting on polls",
		enter: func(t *testing.T, f *fixture, _ *s3Stall) (string, func()) {
			f.sim.SetFaults(globexID, vectorsim.Faults{StuckProcessing: true})
			since := time.Now()
			id := f.submit("globex", dev)
			f.waitJob(t, id, 10*time.Second, "to poll its export", func(s jobStatus) bool {
				return s.State == "exporting" && len(f.tap.requests(globexID, "status", since)) >= 2
			})
			return id, func() { f.sim.SetFaults(globexID, vectorsim.Faults{}) }
		},
		exported: true, resumes: true,
	},
	{
		name: "downloading",
		enter: func(t *testing.T, f *fixture, _ *s3Stall) (string, func()) {
			f.dumps.setSize(512 << 10)
			f.sim.SetFaults(globexID, vectorsim.Faults{SlowBody: 64 << 10})
			id := f.submit("globex", dev)
			f.waitJob(t, id, 10*time.Second, "to download", func(s jobStatus) bool {
				return s.State == "downloading" && len(f.partials("")) == 1
			})
			return id, func() { f.sim.SetFaults(globexID, vectorsim.Faults{}) }
		},
		exported: true, resumes: true,
	},
	{
		// The local copy is committed; its archive copy to S3 is held.
		name: "storing", s3: true,
		enter: func(t *testing.T, f *fixture, st *s3Stall) (string, func()) {
			st.arm()
			id := f.submit("globex", dev)
			select {
			case <-st.held:
			case <-time.After(10 * time.Second):
				st.release()
				t.Fatal("the archive upload did not start within 10s")
			}
			f.waitJob(t, id, 10*time.Second, "to store", func(s jobStatus) bool { return s.State == "storing" })
			return id, st.release
		},
		exported: true, resumes: true,
	},
}

// TestFaultSignals stops the daemon with SIGTERM (a short shutdown_timeout
// cancels the job) or SIGKILL while a manual job is in each phase, then
// starts it again. After SIGTERM the daemon exits 0 and leaves no record
// and no partial file. After either signal the restarted daemon removes
// partial files, resumes an export it had requested (polls it: the API's
// export count stays one) and ends with exactly one good record of it; a
// job whose export was never requested is dropped.
func TestFaultSignals(t *testing.T) {
	for _, ph := range signalPhases {
		for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
			t.Run(ph.name+"/"+sig.String(), func(t *testing.T) {
				t.Parallel()
				signalCell(t, ph, sig)
			})
		}
	}
}

func signalCell(t *testing.T, ph signalPhase, sig syscall.Signal) {
	o := ph.opts
	o.sites = globexOnly
	o.shutdownTimeout = "200ms"
	var stall *s3Stall
	if ph.s3 {
		stall = newS3Stall(t)
		o.storage = stall.config()
	}
	f := newFixture(t, o)
	p := f.start()
	before := waitBaseline(t, f, []matrixCell{{site: "globex"}})["globex"]
	exports := f.sim.Stats().ExportRequests[vectorsim.EnvKey{Site: globexID}]

	began := time.Now()
	id, release := ph.enter(t, f, stall)
	t.Logf("job %s in phase %s: the control API reports %q", id, ph.name, f.job(t, id).State)
	code := p.stop(t, sig)
	release()
	left := f.partials("")
	if sig == syscall.SIGTERM && code != 0 {
		t.Errorf("exit status after SIGTERM = %d, want 0", code)
	}
	live, _ := f.catalogState("globex", dev)
	if diff := cmp.Diff(ids(before), ids(live)); diff != "" {
		t.Errorf("records after %v (-before +after):\n%s", sig, diff)
	}
	if sig == syscall.SIGTERM {
		checkFiles(t, f, "globex", dev, live)
	}

	// A backup's file name holds the second its job began: restart in a
	// later second, as a real restart would, so that a file the first job
	// left cannot pass for the resumed job's.
	for time.Since(began) < 1100*time.Millisecond {
		time.Sleep(20 * time.Millisecond)
	}
	p = f.start()
	for _, ps := range left {
		if _, err := os.Stat(ps); err == nil {
			t.Errorf("the restarted daemon left the partial file %s", ps)
		}
	}
	want := len(before)
	if ph.resumes {
		want++
	}
	waitFor(t, "the restarted daemon to settle", 20*time.Second, func() bool {
		return len(f.apiBackups("globex", dev)) >= want && f.idle()
	})
	if ph.resumes {
		fs := f.scrape()
		if n := fs.sum("vectord_backup_runs_total", "site", "globex", "trigger", "manual", "outcome", "success"); n != 1 {
			t.Errorf("the restarted daemon's vectord_backup_runs_total{trigger=manual,outcome=success} = %v, want 1", n)
		}
	}
	p.stopClean(t)

	live, _ = f.catalogState("globex", dev)
	added := newRecords(before, live)
	if len(live) != want || len(added) != want-len(before) {
		t.Errorf("records at the end: %d (%d new), want %d (%d new)", len(live), len(added), want, want-len(before))
	}
	wantExports := exports
	if ph.exported {
		wantExports++
	}
	if n := f.sim.Stats().ExportRequests[vectorsim.EnvKey{Site: globexID}]; n != wantExports {
		t.Errorf("exports the API carried out = %d, want %d: the restarted daemon must poll the export it requested", n, wantExports)
	}
	checkFiles(t, f, "globex", dev, live)
	for _, r := range added {
		if want := f.dumps.last(globexID, ""); r.SHA256 != want {
			t.Errorf("record %s: sha256 %s, want the simulator's dump's %s", r.ID, r.SHA256, want)
		}
		checkSQL(t, f, r.ID, f.dumps.last(globexID, ""))
	}
	if code, out, errs := f.vectord(t, "verify"); code != 0 {
		t.Errorf("vectord verify = %d, want 0:\n%s%s", code, out, errs)
	}
	f.assertInvariants(t)
}

// s3Stall is a reverse proxy in front of the test script's S3 server
// (scripts/s3server.sh) that can hold the upload of a backup file (not of
// a manifest), to keep a job in its storing phase.
type s3Stall struct {
	url    string
	prefix string

	mu      sync.Mutex
	armed   bool
	held    chan struct{}
	gate    chan struct{}
	relOnce sync.Once
}

// newS3Stall starts the proxy; without an S3 server the test is skipped,
// except in CI.
func newS3Stall(t *testing.T) *s3Stall {
	t.Helper()
	endpoint := os.Getenv("VECTORD_S3_ENDPOINT")
	if endpoint == "" {
		if os.Getenv("CI") != "" {
			t.Fatal(`no S3 server: run eval "$(scripts/s3server.sh start)" first (CI is set, so the test may not be skipped)`)
		}
		t.Skip(`no S3 server: run eval "$(scripts/s3server.sh start)" to hold a job in its storing phase`)
	}
	target, err := url.Parse(endpoint)
	if err != nil {
		t.Fatalf("VECTORD_S3_ENDPOINT: %v", err)
	}
	b := make([]byte, 6)
	rand.Read(b)
	s := &s3Stall{prefix: "faults-" + hex.EncodeToString(b) + "/", held: make(chan struct{}, 16), gate: make(chan struct{})}
	// The Host header stays the proxy's: the client signed it.
	rp := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(target)
		pr.Out.Host = pr.In.Host
	}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.holds(r) {
			s.held <- struct{}{}
			select {
			case <-s.gate:
			case <-r.Context().Done():
				return
			}
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(s.release)
	s.url = srv.URL
	return s
}

// config is the storage.s3 section for the proxy.
func (s *s3Stall) config() string {
	return fmt.Sprintf(`  s3:
    endpoint: %s
    region: %s
    bucket: %s
    prefix: %s
    access_key_id: %s
    secret_access_key: %s
    force_path_style: true
`, s.url, os.Getenv("VECTORD_S3_REGION"), os.Getenv("VECTORD_S3_BUCKET"), s.prefix,
		os.Getenv("VECTORD_S3_ACCESS_KEY"), os.Getenv("VECTORD_S3_SECRET_KEY"))
}

// arm makes the proxy hold every upload request of a backup file until
// release.
func (s *s3Stall) arm() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.armed = true
}

func (s *s3Stall) release() {
	s.mu.Lock()
	s.armed = false
	s.mu.Unlock()
	s.relOnce.Do(func() { close(s.gate) })
}

func (s *s3Stall) holds(r *http.Request) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.armed && (r.Method == http.MethodPut || r.Method == http.MethodPost) &&
		strings.Contains(r.URL.Path, ".sql") && !strings.HasSuffix(r.URL.Path, ".json")
}
