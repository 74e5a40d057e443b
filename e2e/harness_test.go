package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
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
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/builtfast/vectord/catalog"
	"github.com/builtfast/vectord/integrity"
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
	// storage is YAML added to the storage section beside local, indented
	// two spaces (compression, s3).
	storage string
	// shutdownTimeout is shutdown_timeout; default 20s.
	shutdownTimeout string
	// dbOpsPerHour is api.db_operations_per_hour; default 1000.
	dbOpsPerHour int
}

// fixture is one simulated account plus the directory and configuration of
// a daemon backing it up.
type fixture struct {
	t       *testing.T
	sim     *vectorsim.Server
	dumps   *dumpLog // the simulator's database; nil in fixtures built elsewhere
	tap     *apiTap  // between the daemon and the simulator; nil likewise
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
	dumps := newDumpLog(16 << 10)
	sim := vectorsim.New(vectorsim.Options{Token: testToken, TempDir: dir, DumpSize: 16 << 10, Backend: dumps})
	sim.AddSite(acmeID, "2001")
	sim.AddSite(globexID)
	tap := newAPITap(sim)
	srv := httptest.NewServer(tap)
	t.Cleanup(srv.Close)
	f := &fixture{
		t: t, sim: sim, dumps: dumps, tap: tap, apiURL: srv.URL + "/api/v1/vector", dir: dir,
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
	if o.shutdownTimeout == "" {
		o.shutdownTimeout = "20s"
	}
	if o.dbOpsPerHour == 0 {
		o.dbOpsPerHour = 1000
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
  db_operations_per_hour: %d
log:
  format: json   # TestSIGKILLLoop counts the daemon's JSON log lines
state_dir: %s
storage:
  local:
    path: %s
%sserver:
  listen: %s
shutdown_timeout: %s
defaults:
  schedule: %q
  jitter: 0s
%s%ssites:
%s`, f.apiURL, testToken, o.dbOpsPerHour, filepath.Join(f.dir, "state"), f.backupRoot(), o.storage, f.listen,
		o.shutdownTimeout, o.schedule, retention, o.extra, o.sites)
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

// dumpLog is the simulator's database: it serves the dumps the simulator's
// default backend would (vectorsim.Dump seeded by site, environment and a
// per-environment count) and keeps each one's SHA-256, so a test can check
// that a stored backup holds exactly what the API exported.
type dumpLog struct {
	size atomic.Int64

	mu   sync.Mutex
	n    map[vectorsim.EnvKey]int
	sums map[vectorsim.EnvKey][]string
}

var _ vectorsim.Backend = (*dumpLog)(nil)

func newDumpLog(size int64) *dumpLog {
	d := &dumpLog{n: map[vectorsim.EnvKey]int{}, sums: map[vectorsim.EnvKey][]string{}}
	d.size.Store(size)
	return d
}

// setSize sets the plain-SQL size of the dumps of exports completing from
// now on.
func (d *dumpLog) setSize(n int64) { d.size.Store(n) }

func (d *dumpLog) Export(ctx context.Context, siteID, envID string) (vectorsim.Body, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	k := vectorsim.EnvKey{Site: siteID, Env: envID}
	d.mu.Lock()
	d.n[k]++
	n := d.n[k]
	d.mu.Unlock()
	body := vectorsim.Dump(fmt.Sprintf("%s/%s/%d", siteID, envID, n), d.size.Load(), vectorsim.MySQL)
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(body, 0, body.Size())); err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.sums[k] = append(d.sums[k], hex.EncodeToString(h.Sum(nil)))
	d.mu.Unlock()
	return body, nil
}

func (d *dumpLog) Import(ctx context.Context, siteID, envID string, sql io.Reader) error {
	_, err := io.Copy(io.Discard, sql)
	return err
}

// last returns the SHA-256 of the newest dump served for a database (envID
// "" is the development database), "" if none.
func (d *dumpLog) last(siteID, envID string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.sums[vectorsim.EnvKey{Site: siteID, Env: envID}]
	if len(s) == 0 {
		return ""
	}
	return s[len(s)-1]
}

// tapRequest is one request the simulator received through an apiTap.
type tapRequest struct {
	Site   string // the site id; for downloads, the site of the export
	Op     string // "export", "status", "download" or "other"
	Range  string // a download's Range header
	Status int    // the answer's status; 0 when the connection closed without one
	At     time.Time
}

// apiTap stands between the daemon and the simulator: it logs every request
// with its answer's status, and adds faults the simulator has no knob for
// (export answers held back, downloads announcing fewer bytes than they
// carry) and hooks that change faults at a precise moment.
type apiTap struct {
	next http.Handler

	mu          sync.Mutex
	reqs        []tapRequest
	exportSite  map[string]string // export id → site id, learned from status paths
	holds       map[string]*answerHold
	short       map[string]int64 // site id → bytes to leave out of Content-Length
	afterExport map[string]func()
}

// answerHold keeps the answers of a site's export requests.
type answerHold struct {
	held    chan struct{} // one value per held answer
	release chan struct{} // closed by release
}

func newAPITap(next http.Handler) *apiTap {
	return &apiTap{next: next, exportSite: map[string]string{}, holds: map[string]*answerHold{},
		short: map[string]int64{}, afterExport: map[string]func(){}}
}

// holdExportAnswers makes the simulator carry out siteID's export requests
// while the tap keeps their answers until release is called (then they go
// out) or the client goes away (then they are lost). held receives once per
// answer kept.
func (a *apiTap) holdExportAnswers(siteID string) (held <-chan struct{}, release func()) {
	h := &answerHold{held: make(chan struct{}, 16), release: make(chan struct{})}
	a.mu.Lock()
	a.holds[siteID] = h
	a.mu.Unlock()
	var once sync.Once
	return h.held, func() {
		once.Do(func() {
			a.mu.Lock()
			delete(a.holds, siteID)
			a.mu.Unlock()
			close(h.release)
		})
	}
}

// announceShort makes whole-object downloads of siteID's exports announce
// n bytes fewer in Content-Length than their body carries: a body longer
// than its Content-Length, which the simulator cannot serve.
func (a *apiTap) announceShort(siteID string, n int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.short[siteID] = n
}

// onExportAnswered runs fn once, after the simulator answered siteID's
// next export request and before the answer reaches the client.
func (a *apiTap) onExportAnswered(siteID string, fn func()) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.afterExport[siteID] = fn
}

// requests returns the logged requests of siteID with operation op that
// arrived at or after since.
func (a *apiTap) requests(siteID, op string, since time.Time) []tapRequest {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []tapRequest
	for _, r := range a.reqs {
		if r.Site == siteID && r.Op == op && !r.At.Before(since) {
			out = append(out, r)
		}
	}
	return out
}

// classify names the operation of a request and its site, from the path.
func (a *apiTap) classify(r *http.Request) (site, op string) {
	if rest, ok := strings.CutPrefix(r.URL.Path, "/s3/"); ok {
		if r.Method != http.MethodGet {
			return "", "other"
		}
		name := rest[strings.LastIndexByte(rest, '/')+1:]
		id := strings.TrimSuffix(strings.TrimSuffix(name, ".gz"), ".sql")
		a.mu.Lock()
		defer a.mu.Unlock()
		return a.exportSite[id], "download"
	}
	segs := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.Path, "/api/v1/vector"), "/"), "/")
	if len(segs) < 2 || segs[0] != "sites" {
		return "", "other"
	}
	site = segs[1]
	rest := segs[2:]
	if len(rest) >= 2 && rest[0] == "environments" {
		rest = rest[2:]
	}
	switch {
	case r.Method == http.MethodPost && (slices.Equal(rest, []string{"database", "export"}) || slices.Equal(rest, []string{"db", "export"})):
		return site, "export"
	case r.Method == http.MethodGet && len(rest) == 3 && (rest[0] == "database" && rest[1] == "export" || rest[0] == "db" && rest[1] == "exports"):
		a.mu.Lock()
		a.exportSite[rest[2]] = site
		a.mu.Unlock()
		return site, "status"
	}
	return site, "other"
}

func (a *apiTap) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	site, op := a.classify(r)
	entry := tapRequest{Site: site, Op: op, Range: r.Header.Get("Range"), At: time.Now()}
	sw := &statusWriter{ResponseWriter: w}
	defer func() {
		entry.Status = sw.status
		a.mu.Lock()
		a.reqs = append(a.reqs, entry)
		a.mu.Unlock()
	}()
	a.mu.Lock()
	hold, short := a.holds[site], a.short[site]
	var after func()
	if op == "export" {
		after = a.afterExport[site]
		delete(a.afterExport, site)
	}
	a.mu.Unlock()
	switch {
	case op == "export" && hold != nil:
		rec := httptest.NewRecorder()
		a.next.ServeHTTP(rec, r)
		hold.held <- struct{}{}
		select {
		case <-hold.release:
			maps.Copy(sw.Header(), rec.Header())
			sw.WriteHeader(rec.Code)
			sw.Write(rec.Body.Bytes())
		case <-r.Context().Done():
		}
	case op == "download" && short > 0 && r.Header.Get("Range") == "":
		rec := httptest.NewRecorder()
		a.next.ServeHTTP(rec, r)
		if rec.Code != http.StatusOK {
			maps.Copy(sw.Header(), rec.Header())
			sw.WriteHeader(rec.Code)
			sw.Write(rec.Body.Bytes())
			return
		}
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			panic(http.ErrAbortHandler)
		}
		defer conn.Close()
		sw.status = http.StatusOK
		fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\nConnection: close\r\n\r\n",
			int64(rec.Body.Len())-short)
		buf.Write(rec.Body.Bytes())
		buf.Flush()
	default:
		a.next.ServeHTTP(sw, r)
		if after != nil {
			after()
		}
	}
}

// statusWriter remembers the status of an answer; Unwrap lets the
// simulator flush and hijack the connection underneath.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// jobStatus is a job as GET /api/v1/jobs/{id} reports it.
type jobStatus struct {
	JobID    string `json:"job_id"`
	State    string `json:"state"`
	BackupID string `json:"backup_id"`
	Error    string `json:"error"`
}

func (s jobStatus) done() bool { return s.State == "succeeded" || s.State == "failed" }

// submit asks the running daemon for a manual backup of site/env through
// POST /api/v1/backups and returns the job's id.
func (f *fixture) submit(site, env string) string {
	f.t.Helper()
	body, _ := json.Marshal(map[string]string{"site": site, "environment": env, "trigger": "manual"})
	resp, err := http.Post("http://"+f.listen+"/api/v1/backups", "application/json", bytes.NewReader(body))
	if err != nil {
		f.t.Fatalf("POST /api/v1/backups: %v", err)
	}
	defer resp.Body.Close()
	var out struct {
		JobID string `json:"job_id"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusAccepted || out.JobID == "" {
		f.t.Fatalf("POST /api/v1/backups for %s/%s = %d, %+v, %v; want 202 with a job id", site, env, resp.StatusCode, out, err)
	}
	return out.JobID
}

// job fetches a job's state from the running daemon.
func (f *fixture) job(t testing.TB, id string) jobStatus {
	t.Helper()
	resp, err := http.Get("http://" + f.listen + "/api/v1/jobs/" + url.PathEscape(id))
	if err != nil {
		t.Fatalf("GET /api/v1/jobs/%s: %v", id, err)
	}
	defer resp.Body.Close()
	var st jobStatus
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/v1/jobs/%s = %d, %v", id, resp.StatusCode, err)
	}
	return st
}

// waitJob polls a job until cond holds for its state, failing t after d.
func (f *fixture) waitJob(t testing.TB, id string, d time.Duration, what string, cond func(jobStatus) bool) jobStatus {
	t.Helper()
	var st jobStatus
	waitFor(t, "job "+id+" "+what, d, func() bool {
		st = f.job(t, id)
		return cond(st)
	})
	return st
}

// idle reports whether the daemon runs and queues no job.
func (f *fixture) idle() bool {
	fs := f.scrape()
	running, _ := fs.value("vectord_jobs_running")
	queued, _ := fs.value("vectord_jobs_queued")
	return running == 0 && queued == 0
}

// vectord runs one vectord command with the fixture's configuration (or
// the one given with --config in args) and returns its exit status and
// output.
func (f *fixture) vectord(t testing.TB, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	if !slices.Contains(args, "--config") {
		args = append(args, "--config", f.cfgPath)
	}
	var out, errb bytes.Buffer
	cmd := exec.Command(vectordBin, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	// A binary built with -race sleeps a second before it exits, unless
	// told not to.
	cmd.Env = append(daemonEnv(), "GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("run vectord %v: %v", args, err)
	}
	return cmd.ProcessState.ExitCode(), out.String(), errb.String()
}

// partials lists the .partial files under dir, relative to the backup
// root ("" for all of it).
func (f *fixture) partials(dir string) []string {
	var out []string
	filepath.WalkDir(filepath.Join(f.backupRoot(), dir), func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".partial") {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// assertInvariants checks CONTRACT §4's invariants on the fixture's catalog
// and storage at the end of a test, whether its daemon runs or not: `vectord
// check --read-data --json` must find nothing (beside a running daemon the
// command asks the daemon, which leaves out the files of jobs in flight),
// and when no daemon serves, no .partial file may remain under the backup
// root. Every finding fails the test. It returns the check's report.
func (f *fixture) assertInvariants(t testing.TB) integrity.Report {
	t.Helper()
	return assertInvariants(t, f.listen, f.backupRoot(), func(args ...string) (int, string, string) {
		return f.vectord(t, args...)
	})
}

// assertInvariants is fixture.assertInvariants for any harness: listen is
// the daemon's server.listen, root storage.local.path, and run runs one
// vectord command with the harness's configuration.
func assertInvariants(t testing.TB, listen, root string, run func(args ...string) (code int, stdout, stderr string)) integrity.Report {
	t.Helper()
	running := httpStatus("http://"+listen+"/healthz") == http.StatusOK
	code, out, errs := run("check", "--read-data", "--json")
	var rep integrity.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Errorf("vectord check --read-data --json = exit %d without a report (%v):\nstdout: %s\nstderr: %s", code, err, out, errs)
		return rep
	}
	where := "without a daemon"
	if running {
		where = "beside the running daemon"
	}
	t.Logf("vectord check --read-data (%s): %d records, %d copies read in full, %d findings", where, rep.Records, rep.Verified, len(rep.Findings))
	for _, fd := range rep.Findings {
		t.Errorf("vectord check --read-data (%s) found: %s", where, fd)
	}
	switch {
	case code != 0 && len(rep.Findings) == 0:
		t.Errorf("vectord check --read-data (%s) = exit %d with no finding:\n%s", where, code, errs)
	case code == 0 && len(rep.Findings) > 0:
		t.Errorf("vectord check --read-data (%s) = exit 0 with %d findings, want exit 1", where, len(rep.Findings))
	}
	if !running {
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err == nil && strings.HasSuffix(p, ".partial") {
				t.Errorf(".partial file left with no daemon running: %s", p)
			}
			return nil
		})
	}
	return rep
}
