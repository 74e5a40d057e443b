package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/builtfast/vectord/catalog"
	"github.com/builtfast/vectord/internal/failpoint"
	"github.com/builtfast/vectord/vectorsim"
)

// The crash-consistency matrix, in the style of Kopia's crash tests: for
// every write boundary vectord has (internal/failpoint), a daemon with a
// local and an S3 target is killed with SIGKILL exactly there, then
// started again without the failpoint. Whatever the point, the restarted
// daemon settles into a state `vectord check --read-data` finds nothing
// wrong with — beside it and after it stopped — and every backup that was
// acknowledged before the crash is still listed and verifies, unless
// retention (keep_last 1) deleted it in favour of a newer listed one.

// keepLast1 keeps one backup: the second backup of an environment makes
// retention delete the first, on both targets.
const keepLast1 = "{keep_last: 1, keep_hourly: 0, keep_daily: 0, keep_weekly: 0, keep_monthly: 0}"

// crashPoint is one failpoint and what reaching it leaves.
type crashPoint struct {
	name string
	// archive: the point is reached by the start-up archive copy of a
	// backup stored while S3 refused it, not by a manual backup.
	archive bool
	// exported: the manual backup's export was requested before the
	// crash (so the API carried out one more export).
	exported bool
	// recorded: after the restart the manual backup is listed — resumed
	// by the restarted daemon, or committed before the crash.
	recorded bool
}

// crashPoints are every failpoint internal/failpoint names (grep -rn
// 'failpoint.Hit' lists them), in the order a backup reaches them.
var crashPoints = []crashPoint{
	{name: "job.put.queued"},
	{name: "job.put.exporting", exported: true, recorded: true},
	{name: "job.put.downloading", exported: true, recorded: true},
	{name: "job.put.storing", exported: true, recorded: true},
	{name: "store.commit.local", exported: true, recorded: true},
	{name: "store.commit.s3", exported: true, recorded: true},
	{name: "manifest.write.local", exported: true, recorded: true},
	{name: "manifest.write.s3", exported: true, recorded: true},
	{name: "catalog.commit", exported: true, recorded: true},
	{name: "retention.mark", exported: true, recorded: true},
	{name: "retention.delete_manifest.local", exported: true, recorded: true},
	{name: "retention.delete_file.local", exported: true, recorded: true},
	{name: "retention.delete_manifest.s3", exported: true, recorded: true},
	{name: "retention.delete_file.s3", exported: true, recorded: true},
	{name: "retention.remove", exported: true, recorded: true},
	{name: "archive.record", archive: true},
}

// TestCrashPointsCoverEveryFailpoint: every failpoint.Hit in vectord's
// source names a point crashPoints has a cell for (a name built as
// "prefix." + target matches a cell by its prefix), so a new write boundary
// cannot go without its crash cell.
func TestCrashPointsCoverEveryFailpoint(t *testing.T) {
	hit := regexp.MustCompile(`failpoint\.Hit\("([^"]+)"(\s*\+)?`)
	found := 0
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") && path != "..") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range hit.FindAllStringSubmatch(string(src), -1) {
			found++
			name, prefix := m[1], m[2] != ""
			if !slices.ContainsFunc(crashPoints, func(cp crashPoint) bool {
				return cp.name == name || prefix && strings.HasPrefix(cp.name, name)
			}) {
				t.Errorf("%s: failpoint %q has no cell in crashPoints", path, name)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if found == 0 {
		t.Fatal("no failpoint.Hit found in the source")
	}
	t.Logf("%d failpoint.Hit calls, %d crash cells", found, len(crashPoints))
}

// TestCrashConsistency runs one cell per failpoint (crashCell), two at a
// time on two cores.
func TestCrashConsistency(t *testing.T) {
	for _, cp := range crashPoints {
		t.Run(cp.name, func(t *testing.T) {
			t.Parallel()
			crashCell(t, cp)
		})
	}
}

// crashCell:
//
//  1. A daemon for globex (local + S3, keep_last 1) takes its start-up
//     backup A, which the control API lists: acknowledged. For
//     archive.record, S3 refuses the daemon's secret, so A is stored
//     locally only.
//  2. The daemon starts again with VECTORD_FAILPOINT=<point> (and, for
//     archive.record, the right secret: its start-up archive copy of A
//     reaches the point); otherwise a manual backup B through the control
//     API reaches it — B's own writes, or the retention run that deletes
//     A. The daemon must die by SIGKILL: a point not reached fails the
//     cell.
//  3. It starts again without the failpoint and settles: no job running or
//     queued, no archive copy pending, B listed where it was exported.
//  4. `vectord check --read-data` finds nothing, beside the daemon and
//     after it stopped (then also no .partial file); every acknowledged
//     backup is listed with the record it had and verifies, or retention
//     deleted it for a newer listed one; the API carried out no export
//     for the restart (a resumed job polls the export it had requested);
//     no two records share a file.
func crashCell(t *testing.T, cp crashPoint) {
	s3 := newS3Prefix(t)
	o := options{sites: globexOnly, retention: keepLast1, storage: s3.config(s3.secret())}
	good := o
	if cp.archive {
		o.storage = s3.config("wrong-secret-" + s3.secret()[:8])
	}
	f := newFixture(t, o)

	// 1. The first backup, acknowledged.
	p := f.start()
	waitFor(t, "the start-up backup", 30*time.Second, func() bool {
		return len(f.apiBackups("globex", dev)) == 1 && f.idle() && archiveSettled(f, !cp.archive)
	})
	first := f.apiBackups("globex", dev)[0]
	acked := map[string]catalog.Record{first.ID: first}
	wantLocs := 2
	if cp.archive {
		wantLocs = 1
	}
	if len(first.Locations) != wantLocs {
		t.Fatalf("the first backup's locations = %+v, want %d", first.Locations, wantLocs)
	}
	p.stopClean(t)
	exports := f.sim.Stats().ExportRequests[vectorsim.EnvKey{Site: globexID}]
	if cp.archive {
		f.writeConfig(good)
	}

	// 2. The crash.
	armed := failpoint.Env + "=" + cp.name
	var second string // the manual job's backup id, once the API names it
	if cp.archive {
		p = f.launch(armed)
	} else {
		p = f.start(armed)
		job := f.submitDying(t)
		waitFor(t, "vectord to die at failpoint "+cp.name, 30*time.Second, func() bool {
			if st, ok := f.tryJob(job); job != "" && ok && st.State == "succeeded" && st.BackupID != "" && second == "" {
				// Acknowledged: the API reported the job succeeded.
				second = st.BackupID
				t.Logf("the API reported backup %s before the crash", second)
			}
			return p.exited()
		})
	}
	waitFor(t, "vectord to die at failpoint "+cp.name, 30*time.Second, p.exited)
	assertKilled(t, p, cp.name)

	// 3. The restart, without the failpoint.
	p = f.start()
	var live []catalog.Record
	waitFor(t, "the restarted daemon to settle", 30*time.Second, func() bool {
		live = f.apiBackups("globex", dev)
		if cp.recorded && len(newRecords([]catalog.Record{first}, live)) == 0 {
			return false
		}
		return f.idle() && archiveSettled(f, true) && f.idle()
	})
	if cp.recorded {
		if added := newRecords([]catalog.Record{first}, live); len(added) != 1 {
			t.Errorf("new backups after the restart: %v, want one: the manual backup", ids(added))
		} else if second != "" && added[0].ID != second {
			t.Errorf("the new backup is %s, want %s, the one the API acknowledged", added[0].ID, second)
		}
	} else if added := newRecords([]catalog.Record{first}, live); len(added) != 0 {
		t.Errorf("new backups after the restart: %v, want none (the job never requested its export)", ids(added))
	}
	if second != "" {
		acked[second] = catalog.Record{ID: second}
	}
	f.assertInvariants(t)
	p.stopClean(t)

	// 4. Checked again without the daemon.
	f.assertInvariants(t)
	live, deleting := f.catalogState("globex", dev)
	if len(deleting) != 0 {
		t.Errorf("backups still marked deleting after the restart settled: %v", ids(deleting))
	}
	checkAcknowledged(t, f, acked, live)
	wantExports := exports
	if cp.exported {
		wantExports++
	}
	if n := f.sim.Stats().ExportRequests[vectorsim.EnvKey{Site: globexID}]; n != wantExports {
		t.Errorf("exports the API carried out = %d, want %d: a restarted daemon polls the export it requested", n, wantExports)
	}
	if cp.archive {
		if len(live) != 1 || len(live[0].Locations) != 2 {
			t.Errorf("after the archive copy's crash and restart: %+v, want the first backup on local and s3", live)
		}
	}
}

// checkAcknowledged asserts that every acknowledged backup is listed with
// the record it had when acknowledged (its SHA-256, sizes and id) and that
// `vectord verify` passes it — or that retention was entitled to delete it:
// a newer backup is listed.
func checkAcknowledged(t *testing.T, f *fixture, acked map[string]catalog.Record, live []catalog.Record) {
	t.Helper()
	newest := ""
	for _, r := range live {
		newest = max(newest, r.ID)
	}
	for _, id := range slices.Sorted(maps.Keys(acked)) {
		want := acked[id]
		i := slices.IndexFunc(live, func(r catalog.Record) bool { return r.ID == id })
		if i < 0 {
			if newest > id {
				t.Logf("acknowledged backup %s was deleted by retention (keep_last 1) in favour of %s", id, newest)
				continue
			}
			t.Errorf("acknowledged backup %s is lost: listed are %v", id, ids(live))
			continue
		}
		got := live[i]
		if want.SHA256 != "" && (got.SHA256 != want.SHA256 || got.SizeBytes != want.SizeBytes || got.StoredBytes != want.StoredBytes) {
			t.Errorf("acknowledged backup %s changed: sha256 %s, %d/%d bytes; was %s, %d/%d", id,
				got.SHA256, got.SizeBytes, got.StoredBytes, want.SHA256, want.SizeBytes, want.StoredBytes)
		}
		if code, out, errs := f.vectord(t, "verify", id); code != 0 {
			t.Errorf("vectord verify %s = %d, want 0:\n%s%s", id, code, out, errs)
		}
	}
}

// assertKilled fails the test unless the daemon died by SIGKILL — which,
// as nothing else signals it, the failpoint sent.
func assertKilled(t *testing.T, p *proc, point string) {
	t.Helper()
	ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("vectord with failpoint %s ended with %v, want killed by SIGKILL at the point:\n%s",
			point, p.cmd.ProcessState, tail(p.stderr.String(), 30))
	}
}

// archiveSettled reports whether /metrics says no backup of globex waits
// for its S3 copy (settled true) or one does (false).
func archiveSettled(f *fixture, settled bool) bool {
	v, ok := f.scrape().value("vectord_archive_pending_backups", "site", "globex", "environment", dev, "target", "s3")
	if settled {
		return ok && v == 0
	}
	return ok && v > 0
}

// submitDying is submit for a daemon that may die at a failpoint before
// it answers: it returns the job's id, or "" when the connection closed
// without an answer.
func (f *fixture) submitDying(t *testing.T) string {
	t.Helper()
	body := `{"site":"globex","environment":"development","trigger":"manual"}`
	resp, err := http.Post("http://"+f.listen+"/api/v1/backups", "application/json", strings.NewReader(body))
	if err != nil {
		t.Logf("POST /api/v1/backups got no answer (the daemon may be dying): %v", err)
		return ""
	}
	defer resp.Body.Close()
	var out struct {
		JobID string `json:"job_id"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusAccepted || out.JobID == "" {
		t.Fatalf("POST /api/v1/backups = %d, %+v, %v; want 202 with a job id", resp.StatusCode, out, err)
	}
	return out.JobID
}

// tryJob asks the daemon for a job's state; ok is false when the daemon
// does not answer (it may be dying).
func (f *fixture) tryJob(id string) (st jobStatus, ok bool) {
	resp, err := http.Get("http://" + f.listen + "/api/v1/jobs/" + url.PathEscape(id))
	if err != nil {
		return st, false
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&st) != nil {
		return st, false
	}
	return st, true
}

// s3Prefix is a prefix of its own on the test script's S3 server
// (scripts/s3server.sh).
type s3Prefix struct {
	endpoint, prefix string
}

// newS3Prefix returns a fresh prefix; without an S3 server the test is
// skipped, except in CI, where that fails it.
func newS3Prefix(t *testing.T) *s3Prefix {
	t.Helper()
	endpoint := os.Getenv("VECTORD_S3_ENDPOINT")
	if endpoint == "" {
		if os.Getenv("CI") != "" {
			t.Fatal(`no S3 server: run eval "$(scripts/s3server.sh start)" first (CI is set, so the test may not be skipped)`)
		}
		t.Skip(`no S3 server: run eval "$(scripts/s3server.sh start)" to include the tests with an S3 target`)
	}
	b := make([]byte, 6)
	rand.Read(b)
	return &s3Prefix{endpoint: endpoint, prefix: "crash-" + hex.EncodeToString(b) + "/"}
}

func (s *s3Prefix) secret() string { return os.Getenv("VECTORD_S3_SECRET_KEY") }

// config is the storage.s3 section with secret as the secret access key.
func (s *s3Prefix) config(secret string) string {
	return fmt.Sprintf(`  s3:
    endpoint: %s
    region: %s
    bucket: %s
    prefix: %s
    access_key_id: %s
    secret_access_key: %s
    force_path_style: true
`, s.endpoint, os.Getenv("VECTORD_S3_REGION"), os.Getenv("VECTORD_S3_BUCKET"), s.prefix,
		os.Getenv("VECTORD_S3_ACCESS_KEY"), secret)
}
