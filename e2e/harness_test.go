package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
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

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/builtfast/vectord/catalog"
	"github.com/builtfast/vectord/vectorsim"
)

// vectordBin is the vectord binary TestMain builds for this test binary.
var vectordBin string

func TestMain(m *testing.M) { os.Exit(runTests(m)) }

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "vectord-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "create build directory:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	vectordBin = filepath.Join(dir, "vectord")
	args := []string{"build", "-o", vectordBin}
	if raceEnabled {
		// The daemon is built with the race detector too when the tests
		// are, so a data race in it fails the test that provoked it (the
		// binary then exits with status 66).
		args = append(args, "-race")
	}
	out, err := exec.Command("go", append(args, "../cmd/vectord")...).CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build vectord: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

const testToken = "e2e-token-5f1c9a"

// The simulated account: site 1001 (acme) has a development database and
// environment 2001 (production); site 1002 (globex) has a development
// database only.
const (
	acmeID   = "1001"
	globexID = "1002"
)

// defaultSites configures three environments: acme/development,
// acme/production and globex/development.
const defaultSites = `  - name: acme
    id: "1001"
    environments:
      - name: development
      - name: production
        id: "2001"
  - name: globex
    id: "1002"
`

// allEnvs are the (site, environment) pairs of defaultSites.
var allEnvs = [][2]string{{"acme", "development"}, {"acme", "production"}, {"globex", "development"}}

// options shape a fixture's configuration.
type options struct {
	schedule  string // defaults.schedule; default "@every 1h"
	retention string // defaults.retention as a YAML flow mapping; "" keeps the built-in default
	sites     string // the sites list; default defaultSites
	extra     string // top-level YAML appended verbatim
}

// fixture is one simulated account plus the directory and configuration of
// a daemon backing it up.
type fixture struct {
	t       *testing.T
	sim     *vectorsim.Server
	apiURL  string
	dir     string // holds config.yaml, state/ and backups/
	cfgPath string
	listen  string
}

func newFixture(t *testing.T, o options) *fixture {
	t.Helper()
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	sim := vectorsim.New(vectorsim.Options{Token: testToken, TempDir: dir, DumpSize: 16 << 10})
	sim.AddSite(acmeID, "2001")
	sim.AddSite(globexID)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	f := &fixture{
		t: t, sim: sim, apiURL: srv.URL + "/api/v1/vector", dir: dir,
		cfgPath: filepath.Join(dir, "config.yaml"), listen: freeAddr(t),
	}
	f.writeConfig(o)
	return f
}

// writeConfig (re)writes the configuration file; a running daemon reads it
// again on SIGHUP.
func (f *fixture) writeConfig(o options) {
	f.t.Helper()
	if o.schedule == "" {
		o.schedule = "@every 1h"
	}
	if o.sites == "" {
		o.sites = defaultSites
	}
	retention := ""
	if o.retention != "" {
		retention = "  retention: " + o.retention + "\n"
	}
	cfg := fmt.Sprintf(`api:
  base_url: %s
  token: %s
  poll_interval: 20ms
  poll_max_interval: 100ms
  requests_per_minute: 6000
  db_operations_per_hour: 1000
state_dir: %s
storage:
  local:
    path: %s
server:
  listen: %s
shutdown_timeout: 20s
defaults:
  schedule: %q
  jitter: 0s
%s%ssites:
%s`, f.apiURL, testToken, filepath.Join(f.dir, "state"), f.backupRoot(), f.listen,
		o.schedule, retention, o.extra, o.sites)
	if err := os.WriteFile(f.cfgPath, []byte(cfg), 0o600); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) backupRoot() string { return filepath.Join(f.dir, "backups") }

func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// proc is a running `vectord run`.
type proc struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	done   chan struct{}
}

// start runs the daemon with extraEnv added to a clean copy of the test's
// environment and returns once /readyz answers 200.
func (f *fixture) start(extraEnv ...string) *proc {
	f.t.Helper()
	p := f.launch(extraEnv...)
	waitFor(f.t, "vectord /readyz", 15*time.Second, func() bool {
		if p.exited() {
			f.t.Fatalf("vectord exited during start-up (%v):\n%s", p.cmd.ProcessState, p.stderr)
		}
		return httpStatus("http://"+f.listen+"/readyz") == http.StatusOK
	})
	return p
}

// launch starts the daemon as start does, without waiting for it.
func (f *fixture) launch(extraEnv ...string) *proc {
	f.t.Helper()
	p := &proc{stderr: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(vectordBin, "run", "--config", f.cfgPath)
	p.cmd.Stderr = p.stderr
	p.cmd.Env = append(daemonEnv(), extraEnv...)
	if err := p.cmd.Start(); err != nil {
		f.t.Fatalf("start vectord: %v", err)
	}
	go func() {
		p.cmd.Wait()
		close(p.done)
	}()
	f.t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
		if strings.Contains(p.stderr.String(), "WARNING: DATA RACE") {
			f.t.Errorf("the daemon reported a data race:\n%s", p.stderr)
		} else if f.t.Failed() {
			f.t.Logf("vectord's log:\n%s", tail(p.stderr.String(), 60))
		}
	})
	return p
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.SplitAfter(s, "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "")
}

// daemonEnv is the test's environment without the variables that would
// change how the daemon logs, notifies or finds its configuration.
func daemonEnv() []string {
	return slices.DeleteFunc(os.Environ(), func(kv string) bool {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "JOURNAL_STREAM", "VECTORD_CONFIG":
			return true
		}
		return false
	})
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *proc) signal(t testing.TB, sig syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("send %v to vectord: %v", sig, err)
	}
}

// stop sends sig and returns the daemon's exit status.
func (p *proc) stop(t testing.TB, sig syscall.Signal) int {
	t.Helper()
	p.signal(t, sig)
	select {
	case <-p.done:
	case <-time.After(25 * time.Second):
		t.Fatalf("vectord did not exit within 25s of %v:\n%s", sig, p.stderr)
	}
	return p.cmd.ProcessState.ExitCode()
}

// stopClean stops the daemon with SIGTERM and fails the test unless it
// exits with status 0.
func (p *proc) stopClean(t testing.TB) {
	t.Helper()
	if code := p.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("vectord exit status after SIGTERM = %d, want 0:\n%s", code, p.stderr)
	}
}

// waitFor polls cond every 20ms until it holds, failing the test after d.
func waitFor(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func httpStatus(u string) int {
	resp, err := http.Get(u)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// metricsText fetches the daemon's /metrics.
func (f *fixture) metricsText() []byte {
	f.t.Helper()
	resp, err := http.Get("http://" + f.listen + "/metrics")
	if err != nil {
		f.t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		f.t.Fatalf("GET /metrics = %d, %v", resp.StatusCode, err)
	}
	return body
}

// families is one parsed scrape of /metrics.
type families map[string]*dto.MetricFamily

func (f *fixture) scrape() families {
	f.t.Helper()
	return parseMetrics(f.t, f.metricsText())
}

func parseMetrics(t testing.TB, text []byte) families {
	t.Helper()
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(text))
	if err != nil {
		t.Fatalf("parse /metrics: %v\n%s", err, text)
	}
	return fams
}

// value returns the value of the one series of name whose labels include
// labels (name, value, name, value …); ok is false when there is no such
// series or more than one.
func (fs families) value(name string, labels ...string) (v float64, ok bool) {
	n := 0
	for _, m := range fs.series(name, labels...) {
		n++
		v = m.GetGauge().GetValue() + m.GetCounter().GetValue() + m.GetUntyped().GetValue()
	}
	return v, n == 1
}

// sum adds the values of every counter or gauge series of name whose labels
// include labels.
func (fs families) sum(name string, labels ...string) float64 {
	total := 0.0
	for _, m := range fs.series(name, labels...) {
		total += m.GetGauge().GetValue() + m.GetCounter().GetValue() + m.GetUntyped().GetValue()
	}
	return total
}

// series returns the series of name whose labels include labels.
func (fs families) series(name string, labels ...string) []*dto.Metric {
	var out []*dto.Metric
	mf := fs[name]
	if mf == nil {
		return nil
	}
	for _, m := range mf.GetMetric() {
		have := map[string]string{}
		for _, lp := range m.GetLabel() {
			have[lp.GetName()] = lp.GetValue()
		}
		match := true
		for i := 0; i+1 < len(labels); i += 2 {
			if v, ok := have[labels[i]]; !ok || v != labels[i+1] {
				match = false
			}
		}
		if match {
			out = append(out, m)
		}
	}
	return out
}

// apiBackups lists an environment's backups through the daemon's control
// API (the daemon holds the catalog's write lock while it runs).
func (f *fixture) apiBackups(site, env string) []catalog.Record {
	f.t.Helper()
	q := url.Values{"site": {site}, "env": {env}}
	resp, err := http.Get("http://" + f.listen + "/api/v1/backups?" + q.Encode())
	if err != nil {
		f.t.Fatalf("GET /api/v1/backups: %v", err)
	}
	defer resp.Body.Close()
	var recs []catalog.Record
	if err := json.NewDecoder(resp.Body).Decode(&recs); err != nil || resp.StatusCode != http.StatusOK {
		f.t.Fatalf("GET /api/v1/backups = %d, %v", resp.StatusCode, err)
	}
	return recs
}

// catalogState reads the catalog of a stopped daemon: the listed backups
// of site/env and every backup marked as being deleted.
func (f *fixture) catalogState(site, env string) (live, deleting []catalog.Record) {
	f.t.Helper()
	db, err := catalog.Open(filepath.Join(f.dir, "state", "catalog.db"), catalog.Options{ReadOnly: true})
	if err != nil {
		f.t.Fatalf("open the catalog read-only: %v", err)
	}
	defer db.Close()
	ctx := context.Background()
	if live, err = db.List(ctx, catalog.Filter{Site: site, Environment: env}); err != nil {
		f.t.Fatal(err)
	}
	all, err := db.Deleting(ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	for _, r := range all {
		if r.Site == site && r.Environment == env {
			deleting = append(deleting, r)
		}
	}
	return live, deleting
}

// storedFiles lists the committed files of site/env under the local
// backup root: backup files and manifests (not .partial files), sorted.
func (f *fixture) storedFiles(site, env string) (backups, manifests []string) {
	f.t.Helper()
	entries, err := os.ReadDir(filepath.Join(f.backupRoot(), site, env))
	if err != nil && !os.IsNotExist(err) {
		f.t.Fatal(err)
	}
	for _, e := range entries {
		name := filepath.Join(f.backupRoot(), site, env, e.Name())
		switch {
		case !e.Type().IsRegular(), strings.HasSuffix(e.Name(), ".partial"):
		case strings.HasSuffix(e.Name(), ".json"):
			manifests = append(manifests, name)
		default:
			backups = append(backups, name)
		}
	}
	return backups, manifests
}

// localPath is the file a record keeps on the local target.
func localPath(t testing.TB, r catalog.Record) string {
	t.Helper()
	for _, l := range r.Locations {
		if l.Target != catalog.TargetLocal {
			continue
		}
		u, err := url.Parse(l.URI)
		if err != nil || u.Scheme != "file" {
			t.Fatalf("backup %s: local location %q is not a file URI", r.ID, l.URI)
		}
		return filepath.FromSlash(u.Path)
	}
	t.Fatalf("backup %s has no local location: %+v", r.ID, r.Locations)
	return ""
}

// syncBuffer is a bytes.Buffer safe for a writer and concurrent readers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// tool returns the path of a command-line tool, or "" when it is missing;
// in CI (CI set) a missing tool fails the test instead.
func tool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s not found on PATH (Debian package prometheus; scripts/deps.sh installs it)", name)
	}
	return ""
}
