package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/builtfast/vectord/catalog"
	"github.com/builtfast/vectord/integrity"
	"github.com/builtfast/vectord/vectorsim"
)

// These tests run the real vectord binary as a daemon against a simulator
// served by the test process.

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

func vectordBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "vectord-e2e-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "vectord")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// e2e is a simulator plus a config for a daemon, in a temp dir.
type e2e struct {
	t      *testing.T
	sim    *vectorsim.Server
	dir    string
	cfg    string
	listen string
}

type e2eOptions struct {
	sim      vectorsim.Options
	sites    string // YAML of the sites list
	extra    string // YAML added at the top level
	defaults string // YAML under defaults:
}

func newE2E(t *testing.T, o e2eOptions) *e2e {
	t.Helper()
	dir := t.TempDir()
	o.sim.Token = testToken
	o.sim.TempDir = dir
	sim := vectorsim.New(o.sim)
	sim.AddSite("1001", "2001")
	sim.AddSite("1002")
	sim.AddSite("1003")
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	e := &e2e{t: t, sim: sim, dir: dir, cfg: filepath.Join(dir, "config.yaml"), listen: freeAddr(t)}
	if o.sites == "" {
		o.sites = `  - name: acme
    id: "1001"
    environments:
      - name: development
      - name: production
        id: "2001"
  - name: globex
    id: "1002"
`
	}
	cfg := fmt.Sprintf(`api:
  base_url: %s/api/v1/vector
  token: %s
  poll_interval: 20ms
  poll_max_interval: 100ms
  requests_per_minute: 6000
  db_operations_per_hour: 1000
state_dir: %s/state
storage:
  local:
    path: %s/backups
server:
  listen: %s
defaults:
  jitter: 0s
%s%s
sites:
%s`, srv.URL, testToken, dir, dir, e.listen, indent(o.defaults), o.extra, o.sites)
	if err := os.WriteFile(e.cfg, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return e
}

func indent(s string) string {
	if s == "" {
		return ""
	}
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		b.WriteString("  " + l + "\n")
	}
	return b.String()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// daemonProc is a running `vectord run`.
type daemonProc struct {
	cmd    *exec.Cmd
	stderr *syncBuf
	done   chan struct{}
	err    error
}

func (e *e2e) start() *daemonProc {
	e.t.Helper()
	p := &daemonProc{stderr: &syncBuf{}, done: make(chan struct{})}
	p.cmd = exec.Command(vectordBinary(e.t), "run", "--config", e.cfg)
	p.cmd.Stderr = p.stderr
	p.cmd.Env = append(os.Environ(), "VECTORD_CONFIG=")
	if err := p.cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	e.t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	e.waitFor("daemon ready", 10*time.Second, func() bool {
		select {
		case <-p.done:
			e.t.Fatalf("daemon exited early: %v\n%s", p.err, p.stderr)
		default:
		}
		resp, err := http.Get("http://" + e.listen + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	return p
}

// stop sends sig and waits for the exit status.
func (p *daemonProc) stop(t *testing.T, sig syscall.Signal, within time.Duration) int {
	t.Helper()
	p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(within):
		t.Fatalf("daemon did not exit within %v after %v\n%s", within, sig, p.stderr)
	}
	return p.cmd.ProcessState.ExitCode()
}

func (e *e2e) waitFor(what string, d time.Duration, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// records reads the catalog directly (the daemon must not be running).
func (e *e2e) records() []catalog.Record {
	e.t.Helper()
	db, err := catalog.Open(filepath.Join(e.dir, "state", "catalog.db"), catalog.Options{ReadOnly: true})
	if err != nil {
		e.t.Fatal(err)
	}
	defer db.Close()
	recs, err := db.List(context.Background(), catalog.Filter{})
	if err != nil {
		e.t.Fatal(err)
	}
	return recs
}

// apiRecords reads the catalog through the running daemon's control API.
func (e *e2e) apiRecords() []catalog.Record {
	e.t.Helper()
	resp, err := http.Get("http://" + e.listen + "/api/v1/backups")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var recs []catalog.Record
	json.NewDecoder(resp.Body).Decode(&recs)
	return recs
}

func (e *e2e) partials() []string {
	var out []string
	filepath.WalkDir(filepath.Join(e.dir, "backups"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".partial") {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// assertInvariants checks CONTRACT §4's invariants at the end of a test,
// whether the daemon runs or not: `vectord check --read-data --json` (which
// asks a running daemon, leaving out the files of jobs in flight) must find
// nothing, and with no daemon serving no .partial file may remain under the
// backup root. Every finding fails the test.
func (e *e2e) assertInvariants() {
	t := e.t
	t.Helper()
	running := false
	if resp, err := http.Get("http://" + e.listen + "/healthz"); err == nil {
		resp.Body.Close()
		running = resp.StatusCode == http.StatusOK
	}
	var out, errb bytes.Buffer
	cmd := exec.Command(vectordBinary(t), "check", "--read-data", "--json", "--config", e.cfg)
	cmd.Env = append(os.Environ(), "VECTORD_CONFIG=")
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatalf("run vectord check: %v", err)
	}
	code := cmd.ProcessState.ExitCode()
	var rep integrity.Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Errorf("vectord check --read-data --json = exit %d without a report (%v):\nstdout: %s\nstderr: %s", code, err, out.String(), errb.String())
		return
	}
	where := "without a daemon"
	if running {
		where = "beside the running daemon"
	}
	t.Logf("vectord check --read-data (%s): %d records, %d copies read in full, %d findings", where, rep.Records, rep.Verified, len(rep.Findings))
	for _, f := range rep.Findings {
		t.Errorf("vectord check --read-data (%s) found: %s", where, f)
	}
	switch {
	case code != 0 && len(rep.Findings) == 0:
		t.Errorf("vectord check --read-data (%s) = exit %d with no finding:\n%s", where, code, errb.String())
	case code == 0 && len(rep.Findings) > 0:
		t.Errorf("vectord check --read-data (%s) = exit 0 with %d findings, want exit 1", where, len(rep.Findings))
	}
	if !running {
		for _, p := range e.partials() {
			t.Errorf(".partial file left with no daemon running: %s", p)
		}
	}
}

func (e *e2e) exportRequests() int {
	n := 0
	for _, c := range e.sim.Stats().ExportRequests {
		n += c
	}
	return n
}

func TestDaemonBacksUpEveryEnvironment(t *testing.T) {
	e := newE2E(t, e2eOptions{defaults: `schedule: "@every 1s"`})
	p := e.start()
	e.waitFor("two backups of each of the three environments", 30*time.Second, func() bool {
		per := map[string]int{}
		for _, r := range e.apiRecords() {
			per[r.Site+"/"+r.Environment]++
		}
		return per["acme/development"] >= 2 && per["acme/production"] >= 2 && per["globex/development"] >= 2
	})
	// `vectord list` works while the daemon holds the catalog.
	var out, errb bytes.Buffer
	cmd := exec.Command(vectordBinary(t), "list", "--json", "--config", e.cfg)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("vectord list beside a running daemon: %v %s", err, errb.String())
	}
	var listed []catalog.Record
	if err := json.Unmarshal(out.Bytes(), &listed); err != nil || len(listed) < 6 {
		t.Fatalf("list --json beside the daemon = %d records (%v)", len(listed), err)
	}
	// `vectord backup` asks the daemon.
	out.Reset()
	errb.Reset()
	cmd = exec.Command(vectordBinary(t), "backup", "--site", "globex", "--reason", "e2e", "--config", e.cfg)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("vectord backup beside a running daemon: %v %s", err, errb.String())
	}
	id := strings.TrimSpace(out.String())
	if code := p.stop(t, syscall.SIGTERM, 20*time.Second); code != 0 {
		t.Fatalf("exit status after SIGTERM = %d\n%s", code, p.stderr)
	}
	found := false
	for _, r := range e.records() {
		if r.ID == id && r.Trigger == "manual" && r.Reason == "e2e" {
			found = true
		}
	}
	if !found {
		t.Errorf("the daemon's manual backup %s is not in the catalog", id)
	}
	if ps := e.partials(); len(ps) != 0 {
		t.Errorf(".partial files after shutdown: %v", ps)
	}
	if strings.Contains(p.stderr.String(), testToken) || strings.Contains(p.stderr.String(), "X-Amz-Signature") {
		t.Error("the daemon's log contains the API token or a URL signature")
	}
	e.assertInvariants()
}

// slowDownload configures one environment whose download takes seconds.
func slowDownload(t *testing.T, shutdown string) *e2e {
	return newE2E(t, e2eOptions{
		sim:      vectorsim.Options{DumpSize: 3 << 20},
		extra:    "shutdown_timeout: " + shutdown + "\n",
		defaults: `schedule: "@every 1h"`,
		sites: `  - name: globex
    id: "1002"
`,
	})
}

func (e *e2e) waitDownloading() {
	e.t.Helper()
	e.waitFor("a download in progress", 15*time.Second, func() bool { return len(e.partials()) > 0 })
}

func TestSIGTERMMidDownload(t *testing.T) {
	t.Run("short shutdown_timeout cancels cleanly", func(t *testing.T) {
		e := slowDownload(t, "300ms")
		e.sim.SetFaults("", vectorsim.Faults{SlowBody: 512 << 10})
		p := e.start()
		e.waitDownloading()
		if code := p.stop(t, syscall.SIGTERM, 10*time.Second); code != 0 {
			t.Fatalf("exit status = %d, want 0\n%s", code, p.stderr)
		}
		if recs := e.records(); len(recs) != 0 {
			t.Errorf("records after a canceled download: %v", recs)
		}
		if ps := e.partials(); len(ps) != 0 {
			t.Errorf(".partial files after a canceled download: %v", ps)
		}
		e.assertInvariants()
	})
	t.Run("long shutdown_timeout lets the download finish", func(t *testing.T) {
		e := slowDownload(t, "60s")
		e.sim.SetFaults("", vectorsim.Faults{SlowBody: 2 << 20})
		p := e.start()
		e.waitDownloading()
		if code := p.stop(t, syscall.SIGTERM, 30*time.Second); code != 0 {
			t.Fatalf("exit status = %d, want 0\n%s", code, p.stderr)
		}
		if recs := e.records(); len(recs) != 1 {
			t.Errorf("records = %d, want the finished download recorded", len(recs))
		}
		if ps := e.partials(); len(ps) != 0 {
			t.Errorf(".partial files: %v", ps)
		}
		e.assertInvariants()
	})
}

func TestKillMidDownloadResumesSameExport(t *testing.T) {
	e := slowDownload(t, "5s")
	e.sim.SetFaults("", vectorsim.Faults{SlowBody: 512 << 10})
	p := e.start()
	e.waitDownloading()
	p.stop(t, syscall.SIGKILL, 5*time.Second)
	if e.exportRequests() != 1 {
		t.Fatalf("export requests before restart = %d, want 1", e.exportRequests())
	}
	e.sim.SetFaults("", vectorsim.Faults{})
	p = e.start()
	e.waitFor("the resumed backup", 30*time.Second, func() bool { return len(e.apiRecords()) >= 1 })
	if ps := e.partials(); len(ps) != 0 {
		t.Errorf(".partial files after restart: %v", ps)
	}
	if code := p.stop(t, syscall.SIGTERM, 20*time.Second); code != 0 {
		t.Fatalf("exit status = %d\n%s", code, p.stderr)
	}
	recs := e.records()
	if len(recs) != 1 {
		t.Fatalf("records = %d, want 1", len(recs))
	}
	if n := e.exportRequests(); n != 1 {
		t.Errorf("export requests = %d, want 1: the restarted daemon must poll the export it had requested", n)
	}
	if !strings.Contains(p.stderr.String(), "resuming") {
		t.Errorf("the restarted daemon did not log resuming the job:\n%s", p.stderr)
	}
	e.assertInvariants()
}

// TestBudgetAvoids429: with the API enforcing the same database-operation
// budget as the client, the daemon's export requests never meet a 429.
func TestBudgetAvoids429(t *testing.T) {
	e := newE2E(t, e2eOptions{
		sim:      vectorsim.Options{DBOpsPerHour: 3},
		defaults: `schedule: "@every 1s"`,
		extra:    "",
		sites: `  - name: acme
    id: "1001"
  - name: globex
    id: "1002"
  - name: initech
    id: "1003"
`,
	})
	cfg, _ := os.ReadFile(e.cfg)
	os.WriteFile(e.cfg, bytes.Replace(cfg, []byte("db_operations_per_hour: 1000"), []byte("db_operations_per_hour: 3"), 1), 0o600)
	p := e.start()
	e.waitFor("the first admitted backup", 15*time.Second, func() bool { return len(e.apiRecords()) >= 1 })
	// Give the scheduler time to run many @every 1s cycles.
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		if st := e.sim.Stats(); st.RateLimited > 0 {
			t.Fatalf("the API answered 429 %d times", st.RateLimited)
		}
		time.Sleep(100 * time.Millisecond)
	}
	p.stop(t, syscall.SIGTERM, 20*time.Second)
	st := e.sim.Stats()
	if st.RateLimited != 0 || st.DBOperations > 3 {
		t.Errorf("429s = %d, database operations = %d; want 0 and at most 3", st.RateLimited, st.DBOperations)
	}
	e.assertInvariants()
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestFailedArchiveIsRetried: with local and S3 storage, an S3 upload that
// fails leaves the backup stored locally and recorded with its local
// location, counts in the metrics, and is copied by the next daemon.
func TestFailedArchiveIsRetried(t *testing.T) {
	s3cfg := s3Config(t)
	e := newE2E(t, e2eOptions{defaults: `schedule: "@every 1h"`, sites: `  - name: globex
    id: "1002"
`})
	raw, _ := os.ReadFile(e.cfg)
	good := strings.Replace(string(raw), "storage:\n  local:\n", "storage:\n"+s3cfg+"  local:\n", 1)
	secret := os.Getenv("VECTORD_S3_SECRET_KEY")
	bad := strings.Replace(good, "secret_access_key: "+secret, "secret_access_key: wrong-secret-0000", 1)
	os.WriteFile(e.cfg, []byte(bad), 0o600)

	p := e.start()
	e.waitFor("the start-up backup", 20*time.Second, func() bool { return len(e.apiRecords()) == 1 })
	metrics := scrape("http://" + e.listen + "/metrics")
	// The job's own upload and the retry after it both fail.
	if !regexp.MustCompile(`(?m)^vectord_archive_upload_failures_total\{environment="development",site="globex",target="s3"\} [1-9]`).MatchString(metrics) {
		t.Errorf("/metrics shows no archive upload failure:\n%s", metrics)
	}
	if want := `vectord_archive_pending_backups{environment="development",site="globex",target="s3"} 1`; !strings.Contains(metrics, want) {
		t.Errorf("/metrics lacks %s", want)
	}
	p.stop(t, syscall.SIGTERM, 20*time.Second)
	recs := e.records()
	if len(recs) != 1 || len(recs[0].Locations) != 1 || recs[0].Locations[0].Target != "local" {
		t.Fatalf("after a failed upload: %+v, want one backup stored locally", recs)
	}
	if strings.Contains(p.stderr.String(), "wrong-secret-0000") {
		t.Error("the S3 secret reached the log")
	}

	os.WriteFile(e.cfg, []byte(good), 0o600)
	p = e.start()
	e.waitFor("the archive copy", 20*time.Second, func() bool {
		r := e.apiRecords()
		return len(r) == 1 && len(r[0].Locations) == 2
	})
	e.waitFor("the pending gauge to clear", 5*time.Second, func() bool {
		return strings.Contains(scrape("http://"+e.listen+"/metrics"),
			`vectord_archive_pending_backups{environment="development",site="globex",target="s3"} 0`)
	})
	p.stop(t, syscall.SIGTERM, 20*time.Second)
	if recs := e.records(); len(recs) != 1 || recs[0].Locations[1].Target != "s3" {
		t.Errorf("after the retry: %+v, want local and s3", recs)
	}
	e.assertInvariants()
}
