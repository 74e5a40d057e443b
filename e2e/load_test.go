//go:build linux

package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/builtfast/vectord/catalog"
	"github.com/builtfast/vectord/scheduler"
	"github.com/builtfast/vectord/vectorsim"
)

// The load tests run a real daemon with a fleet of environments against the
// simulated API for minutes. They run only when VECTORD_LOAD=1 (see
// scripts/load.sh), never in the normal suite. Their parameters come from
// the environment:
//
//	VECTORD_LOAD_ENVS            environments (sites), default 1000
//	VECTORD_LOAD_SCHEDULE        TestLoadFleet's schedule, default "@every 2m"
//	VECTORD_LOAD_DURATION        TestLoadFleet's run, default 5m
//	VECTORD_LOAD_WARMUP          TestLoadFleet's warm-up, default 2m
//	VECTORD_LOAD_TIGHT_DURATION  TestLoadTightBudget's run, default 3m
//	VECTORD_LOAD_SAMPLE          sampling interval, default 10s
//	VECTORD_LOAD_DUMP_SIZE       plain-SQL bytes per export, default 65536

// loadScenario is one load run's fleet, limits and length.
type loadScenario struct {
	envs     int
	schedule string        // defaults.schedule
	jitter   time.Duration // defaults.jitter
	// dbOpsPerHour and perMinute are the API's limits, and the client's
	// api.db_operations_per_hour and api.requests_per_minute alike.
	dbOpsPerHour int
	perMinute    int
	exports      int // concurrency.exports
	downloads    int // concurrency.downloads
	pollInterval time.Duration
	pollMax      time.Duration
	dumpSize     int64
	duration     time.Duration
	sampleEvery  time.Duration
}

// loadSample is one observation of the running daemon, at elapsed time at
// since it answered /readyz.
type loadSample struct {
	at                          time.Duration
	rssKiB, anonKiB, fileKiB    int64         // /proc/PID/status VmRSS, RssAnon, RssFile
	cpuSeconds                  float64       // process_cpu_seconds_total
	goroutines                  float64       // go_goroutines
	heapInuse                   float64       // go_memstats_heap_inuse_bytes
	allocated                   float64       // go_memstats_alloc_bytes_total
	scrape                      time.Duration // GET /metrics
	queued, running             float64       // vectord_jobs_queued, vectord_jobs_running
	succeeded, failed           float64       // vectord_backup_runs_total by outcome
	client429                   float64       // vectord_api_requests_total{code="429"}
	simRequests, simOps, sim429 int           // the simulator's counters
}

// loadResult is what a load run observed.
type loadResult struct {
	samples    []loadSample
	peakRSSKiB int64 // VmHWM at the end of the run
	final      vectorsim.Stats
	backedUp   int // environments with at least one backup in `vectord list --json`
	records    int // records `vectord list --json` printed
	peakPerMin int // most API requests the simulator received in any 60 s
	peakOpsHr  int // most export requests it received in any hour
	// nextRuns are the distinct seconds of the environments'
	// vectord_backup_next_run_timestamp_seconds at the first sample after
	// start-up; perMinute is the backups a minute their schedules ask for
	// (from vectord_backup_expected_interval_seconds).
	nextRuns  int
	perMinute float64
}

func loadEnabled(t *testing.T) {
	t.Helper()
	if os.Getenv("VECTORD_LOAD") != "1" {
		t.Skip("load test: set VECTORD_LOAD=1 (scripts/load.sh) to run it")
	}
	if raceEnabled {
		t.Log("the race detector is on: memory and CPU figures are the instrumented binary's")
	}
}

func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive integer", name, s)
	}
	return n
}

func envDuration(t *testing.T, name string, def time.Duration) time.Duration {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		t.Fatalf("%s=%q: want a positive duration", name, s)
	}
	return d
}

// TestLoadFleet: 1,000 environments backed up every two minutes for five
// minutes, each backup replacing the previous one (keep_last 1), with the
// client's budgets equal to the API's. Every environment gets backed up, no
// job fails, the API never answers 429, jitter spreads the environments'
// runs, and the daemon's goroutines, heap and anonymous memory do not grow
// between the first and the last minute after warm-up. By default those
// minutes (2m..3m and 4m..5m) lie one schedule interval apart, so they see
// the same phase of the fleet's runs.
func TestLoadFleet(t *testing.T) {
	loadEnabled(t)
	schedule := os.Getenv("VECTORD_LOAD_SCHEDULE")
	if schedule == "" {
		schedule = "@every 2m"
	}
	sc := loadScenario{
		envs:         envInt(t, "VECTORD_LOAD_ENVS", 1000),
		schedule:     schedule,
		jitter:       2 * time.Minute,
		dbOpsPerHour: 100000,
		perMinute:    6000,
		exports:      32,
		downloads:    4,
		pollInterval: 250 * time.Millisecond,
		pollMax:      time.Second,
		dumpSize:     int64(envInt(t, "VECTORD_LOAD_DUMP_SIZE", 64<<10)),
		duration:     envDuration(t, "VECTORD_LOAD_DURATION", 5*time.Minute),
		sampleEvery:  envDuration(t, "VECTORD_LOAD_SAMPLE", 10*time.Second),
	}
	warmup := envDuration(t, "VECTORD_LOAD_WARMUP", 2*time.Minute)
	if warmup >= sc.duration {
		t.Fatalf("VECTORD_LOAD_WARMUP %v must be shorter than the run (%v)", warmup, sc.duration)
	}
	r := runLoad(t, sc)

	checkNo429(t, r)
	if r.peakPerMin > sc.perMinute {
		t.Errorf("the API received %d requests in one minute, over its limit of %d", r.peakPerMin, sc.perMinute)
	}
	if r.backedUp != sc.envs {
		t.Errorf("vectord list --json shows backups of %d environments, want all %d", r.backedUp, sc.envs)
	}
	last := r.samples[len(r.samples)-1]
	if last.failed != 0 {
		t.Errorf("%v backup runs failed, want none", last.failed)
	}
	// Offsets are a hash of the names, uniform over the jitter: 1,000
	// environments cover nearly every second of a 2m jitter. Half of them
	// is a generous floor; without jitter they all share one or two.
	if want := min(sc.envs, int(sc.jitter/time.Second)) / 2; r.nextRuns < want {
		t.Errorf("the %d environments' next runs fall on %d distinct seconds, want at least %d: jitter %v does not spread schedule %q",
			sc.envs, r.nextRuns, want, sc.jitter, sc.schedule)
	}

	first := window(r.samples, warmup, warmup+time.Minute)
	end := window(r.samples, max(warmup, sc.duration-time.Minute), sc.duration)
	if len(first) == 0 || len(end) == 0 {
		t.Fatalf("no samples in the first (%v..) or last minute after warm-up", warmup)
	}
	for _, g := range []struct {
		name  string
		of    func(loadSample) float64
		ratio float64 // allowed growth factor
		slack float64 // plus this much
		unit  float64
	}{
		{"goroutines", func(s loadSample) float64 { return s.goroutines }, 1.25, 20, 1},
		{"heap in use (MiB)", func(s loadSample) float64 { return s.heapInuse }, 1.25, 4 << 20, 1 << 20},
		{"anonymous RSS (MiB)", func(s loadSample) float64 { return float64(s.anonKiB) }, 1.25, 8 << 10, 1 << 10},
	} {
		a, b := mean(first, g.of), mean(end, g.of)
		t.Logf("%s: %.1f in the first minute after warm-up, %.1f in the last", g.name, a/g.unit, b/g.unit)
		if b > a*g.ratio+g.slack {
			t.Errorf("%s grew from %.1f to %.1f (limit %.1f): a leak", g.name, a/g.unit, b/g.unit, (a*g.ratio+g.slack)/g.unit)
		}
	}
	w0 := first[0]
	rate := (last.succeeded - w0.succeeded) / (last.at - w0.at).Minutes()
	t.Logf("backups a minute after warm-up: %.0f (the schedules ask for %.0f)", rate, r.perMinute)
}

// TestLoadTightBudget: 1,000 environments due at once against an API
// allowing 600 database operations an hour, with the client's budget the
// same. The queue admits exports at the budget's pace — a burst of a fifth
// of the budget, then one every BudgetWindow/600 — without stalling, and the
// API never answers 429.
func TestLoadTightBudget(t *testing.T) {
	loadEnabled(t)
	sc := loadScenario{
		envs:         envInt(t, "VECTORD_LOAD_ENVS", 1000),
		schedule:     "@every 2m",
		jitter:       2 * time.Minute,
		dbOpsPerHour: 600,
		perMinute:    300,
		exports:      16,
		downloads:    2,
		pollInterval: time.Second,
		pollMax:      2 * time.Second,
		dumpSize:     int64(envInt(t, "VECTORD_LOAD_DUMP_SIZE", 64<<10)),
		duration:     envDuration(t, "VECTORD_LOAD_TIGHT_DURATION", 3*time.Minute),
		sampleEvery:  envDuration(t, "VECTORD_LOAD_SAMPLE", 10*time.Second),
	}
	r := runLoad(t, sc)

	checkNo429(t, r)
	if r.peakPerMin > sc.perMinute {
		t.Errorf("the API received %d requests in one minute, over its limit of %d", r.peakPerMin, sc.perMinute)
	}
	if r.peakOpsHr > sc.dbOpsPerHour {
		t.Errorf("the API received %d export requests in one hour, over its limit of %d", r.peakOpsHr, sc.dbOpsPerHour)
	}
	last := r.samples[len(r.samples)-1]
	if last.failed != 0 {
		t.Errorf("%v backup runs failed, want none", last.failed)
	}

	// The admission rule: Burst at once, then one per interval, so by time
	// at the budget allows burst + at/interval export requests. The API
	// never receives more (+1: the simulator's counters are read just
	// after at). While the burst is worked off the requests-per-minute
	// budget holds exports back; once they catch up with the line they
	// stay on it, at most a few behind: the queue admits steadily.
	burst := scheduler.Burst(sc.dbOpsPerHour)
	interval := scheduler.AdmissionInterval(sc.dbOpsPerHour)
	const behind = 3
	caughtUp := time.Duration(-1)
	for _, s := range r.samples {
		line := burst + int(s.at/interval)
		switch {
		case s.simOps > line+1:
			t.Errorf("at %v the API had received %d export requests, more than the budget allows (%d: burst %d, then one every %v)",
				s.at.Round(time.Second), s.simOps, line, burst, interval)
		case s.simOps >= line-behind:
			if caughtUp < 0 {
				caughtUp = s.at
			}
		case caughtUp >= 0:
			t.Errorf("at %v the API had received %d export requests, want at least %d (burst %d, then one every %v): admission stalled",
				s.at.Round(time.Second), s.simOps, line-behind, burst, interval)
		}
	}
	if caughtUp < 0 || caughtUp > sc.duration/2 {
		t.Errorf("export requests caught up with the budget's pace at %v, want within the first half of the %v run",
			caughtUp, sc.duration)
	} else {
		t.Logf("export requests on the budget's line (burst %d, then one every %v) from %v on", burst, interval, caughtUp.Round(time.Second))
	}
}

func checkNo429(t *testing.T, r loadResult) {
	t.Helper()
	if r.final.RateLimited != 0 {
		t.Errorf("the API answered 429 %d times, want never", r.final.RateLimited)
	}
	if c := r.samples[len(r.samples)-1].client429; c != 0 {
		t.Errorf("vectord_api_requests_total counts %v answers 429, want none", c)
	}
}

// runLoad starts the simulator and the daemon for sc, samples the daemon
// every sc.sampleEvery for sc.duration, lists its catalog through it, stops
// it with SIGTERM (failing the test unless it exits 0) and logs the series.
func runLoad(t *testing.T, sc loadScenario) loadResult {
	t.Helper()
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	sim := vectorsim.New(vectorsim.Options{
		Token: testToken, TempDir: dir, DumpSize: sc.dumpSize,
		DBOpsPerHour: sc.dbOpsPerHour, RequestsPerMinute: sc.perMinute,
	})
	for i := 1; i <= sc.envs; i++ {
		sim.AddSite(strconv.Itoa(i))
	}
	rec := &requestLog{}
	srv := httptest.NewServer(rec.wrap(sim))
	t.Cleanup(srv.Close)
	f := &fixture{
		t: t, sim: sim, apiURL: srv.URL + "/api/v1/vector", dir: dir,
		cfgPath: filepath.Join(dir, "config.yaml"), listen: freeAddr(t),
	}
	writeLoadConfig(t, f, sc)

	t.Logf("%d environments, schedule %q, jitter %v, budgets %d db operations/h and %d requests/min (client = API), "+
		"concurrency %d exports / %d downloads, poll %v..%v, %d-byte dumps, %v run",
		sc.envs, sc.schedule, sc.jitter, sc.dbOpsPerHour, sc.perMinute, sc.exports, sc.downloads,
		sc.pollInterval, sc.pollMax, sc.dumpSize, sc.duration)
	p := f.start()
	start := time.Now()
	pid := p.cmd.Process.Pid

	var r loadResult
	r.samples = append(r.samples, sampleDaemon(t, f, pid, 0))
	r.nextRuns, r.perMinute = scheduleSpread(f.scrape())
	tick := time.NewTicker(sc.sampleEvery)
	defer tick.Stop()
	for time.Since(start) < sc.duration {
		<-tick.C
		if p.exited() {
			t.Fatalf("vectord exited during the run (%v)", p.cmd.ProcessState)
		}
		r.samples = append(r.samples, sampleDaemon(t, f, pid, time.Since(start)))
	}
	r.peakRSSKiB = procStatus(t, pid)["VmHWM"]
	r.backedUp, r.records = listedEnvironments(t, f)
	p.stopClean(t)
	r.final = sim.Stats()
	r.peakPerMin = rec.peak(time.Minute, false)
	r.peakOpsHr = rec.peak(time.Hour, true)
	logLoad(t, sc, r)
	f.assertInvariants(t)
	return r
}

func writeLoadConfig(t *testing.T, f *fixture, sc loadScenario) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, `api:
  base_url: %s
  token: %s
  poll_interval: %s
  poll_max_interval: %s
  requests_per_minute: %d
  db_operations_per_hour: %d
state_dir: %s
storage:
  local:
    path: %s
server:
  listen: %s
concurrency:
  exports: %d
  downloads: %d
shutdown_timeout: 15s
defaults:
  schedule: %q
  jitter: %s
  retention: {keep_last: 1, keep_daily: 0, keep_weekly: 0, keep_monthly: 0}
sites:
`, f.apiURL, testToken, sc.pollInterval, sc.pollMax, sc.perMinute, sc.dbOpsPerHour,
		filepath.Join(f.dir, "state"), f.backupRoot(), f.listen, sc.exports, sc.downloads,
		sc.schedule, sc.jitter)
	for i := 1; i <= sc.envs; i++ {
		fmt.Fprintf(&b, "  - {name: site%d, id: \"%d\"}\n", i, i)
	}
	if err := os.WriteFile(f.cfgPath, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
}

// sampleDaemon reads the daemon's memory from /proc and its gauges and
// counters from /metrics, and the simulator's counters.
func sampleDaemon(t *testing.T, f *fixture, pid int, at time.Duration) loadSample {
	t.Helper()
	st := procStatus(t, pid)
	t0 := time.Now()
	text := f.metricsText()
	scrape := time.Since(t0)
	m := parseMetrics(t, text)
	sim := f.sim.Stats()
	one := func(name string) float64 {
		v, ok := m.value(name)
		if !ok {
			t.Fatalf("/metrics has no single series %s", name)
		}
		return v
	}
	return loadSample{
		at:      at,
		rssKiB:  st["VmRSS"],
		anonKiB: st["RssAnon"],
		fileKiB: st["RssFile"],

		cpuSeconds: one("process_cpu_seconds_total"),
		goroutines: one("go_goroutines"),
		heapInuse:  one("go_memstats_heap_inuse_bytes"),
		allocated:  one("go_memstats_alloc_bytes_total"),
		scrape:     scrape,
		queued:     one("vectord_jobs_queued"),
		running:    one("vectord_jobs_running"),
		succeeded:  m.sum("vectord_backup_runs_total", "outcome", "success"),
		failed:     m.sum("vectord_backup_runs_total", "outcome", "failure"),
		client429:  m.sum("vectord_api_requests_total", "code", "429"),

		simRequests: sim.APIRequests,
		simOps:      sim.DBOperations,
		sim429:      sim.RateLimited,
	}
}

// scheduleSpread returns on how many distinct seconds the environments'
// next runs fall, and how many backups a minute their schedules ask for.
func scheduleSpread(m families) (distinct int, perMinute float64) {
	seconds := map[int64]bool{}
	for _, s := range m.series("vectord_backup_next_run_timestamp_seconds") {
		seconds[int64(s.GetGauge().GetValue())] = true
	}
	for _, s := range m.series("vectord_backup_expected_interval_seconds") {
		if v := s.GetGauge().GetValue(); v > 0 {
			perMinute += 60 / v
		}
	}
	return len(seconds), perMinute
}

// procStatus returns the kB fields of /proc/PID/status (VmRSS, VmHWM,
// RssAnon, RssFile …) in KiB.
func procStatus(t *testing.T, pid int) map[string]int64 {
	t.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("read the daemon's memory: %v", err)
	}
	out := map[string]int64{}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		fields := strings.Fields(rest)
		if !ok || len(fields) != 2 || fields[1] != "kB" {
			continue
		}
		if n, err := strconv.ParseInt(fields[0], 10, 64); err == nil {
			out[name] = n
		}
	}
	return out
}

// listedEnvironments runs `vectord list --json` while the daemon holds the
// catalog and returns how many environments have a backup, and how many
// records it printed.
func listedEnvironments(t *testing.T, f *fixture) (envs, records int) {
	t.Helper()
	cmd := exec.Command(vectordBin, "list", "--json", "--config", f.cfgPath)
	cmd.Env = daemonEnv()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("vectord list --json: %v\n%s", err, stderr.String())
	}
	var recs []catalog.Record
	if err := json.Unmarshal(out, &recs); err != nil {
		t.Fatalf("vectord list --json printed no JSON array of records: %v", err)
	}
	seen := map[[2]string]bool{}
	for _, r := range recs {
		seen[[2]string{r.Site, r.Environment}] = true
	}
	return len(seen), len(recs)
}

// requestLog records when the simulator received each API request and each
// export request.
type requestLog struct {
	mu  sync.Mutex
	api []time.Time
	ops []time.Time
}

func (l *requestLog) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/v1/vector/") {
			now := time.Now()
			l.mu.Lock()
			l.api = append(l.api, now)
			if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/database/export") {
				l.ops = append(l.ops, now)
			}
			l.mu.Unlock()
		}
		h.ServeHTTP(w, r)
	})
}

// peak returns the most requests (export requests if ops) received within
// any span.
func (l *requestLog) peak(span time.Duration, ops bool) int {
	l.mu.Lock()
	src := l.api
	if ops {
		src = l.ops
	}
	ts := slices.Clone(src)
	l.mu.Unlock()
	slices.SortFunc(ts, time.Time.Compare)
	most, lo := 0, 0
	for hi := range ts {
		for ts[hi].Sub(ts[lo]) >= span {
			lo++
		}
		most = max(most, hi-lo+1)
	}
	return most
}

// window returns the samples taken in [from, to].
func window(samples []loadSample, from, to time.Duration) []loadSample {
	var out []loadSample
	for _, s := range samples {
		if s.at >= from && s.at <= to {
			out = append(out, s)
		}
	}
	return out
}

func mean(samples []loadSample, of func(loadSample) float64) float64 {
	sum := 0.0
	for _, s := range samples {
		sum += of(s)
	}
	return sum / float64(len(samples))
}

// logLoad logs the series and the run's figures.
func logLoad(t *testing.T, sc loadScenario, r loadResult) {
	t.Helper()
	var b strings.Builder
	// Columns: seconds since /readyz; VmRSS, RssAnon, RssFile; heap in
	// use; MiB allocated since the previous sample; goroutines; jobs queued
	// and running; backups stored, and their rate a minute since the
	// previous sample; CPU of one core; the API's requests (total and a
	// minute), export requests and 429 answers; the /metrics scrape's
	// duration.
	fmt.Fprintf(&b, "\n%5s %6s %6s %6s %6s %6s %6s %6s %4s %7s %5s %5s %6s %5s %6s %4s %6s\n",
		"t", "rss", "anon", "file", "heap", "alloc", "gorout", "queued", "run", "backups", "/min",
		"cpu%", "api", "api/m", "export", "429", "scrape")
	for i, s := range r.samples {
		perMin, cpu, apiPerMin, alloc := "", "", "", ""
		if i > 0 {
			p := r.samples[i-1]
			d := (s.at - p.at).Seconds()
			perMin = fmt.Sprintf("%.0f", (s.succeeded-p.succeeded)/d*60)
			cpu = fmt.Sprintf("%.1f", (s.cpuSeconds-p.cpuSeconds)/d*100)
			apiPerMin = fmt.Sprintf("%.0f", float64(s.simRequests-p.simRequests)/d*60)
			alloc = fmt.Sprintf("%.0fM", (s.allocated-p.allocated)/(1<<20))
		}
		fmt.Fprintf(&b, "%5.0f %5.1fM %5.1fM %5.1fM %5.1fM %6s %6.0f %6.0f %4.0f %7.0f %5s %5s %6d %5s %6d %4d %4.0fms\n",
			s.at.Seconds(), float64(s.rssKiB)/1024, float64(s.anonKiB)/1024, float64(s.fileKiB)/1024,
			s.heapInuse/(1<<20), alloc, s.goroutines, s.queued, s.running, s.succeeded, perMin, cpu,
			s.simRequests, apiPerMin, s.simOps, s.sim429, float64(s.scrape)/float64(time.Millisecond))
	}
	last := r.samples[len(r.samples)-1]
	peakRSS, peakHeap, peakG := int64(0), 0.0, 0.0
	for _, s := range r.samples {
		peakRSS = max(peakRSS, s.rssKiB)
		peakHeap = max(peakHeap, s.heapInuse)
		peakG = max(peakG, s.goroutines)
	}
	fmt.Fprintf(&b, "peak RSS %.1f MiB (VmHWM %.1f MiB), peak heap in use %.1f MiB, peak goroutines %.0f\n",
		float64(peakRSS)/1024, float64(r.peakRSSKiB)/1024, peakHeap/(1<<20), peakG)
	fmt.Fprintf(&b, "backups %.0f (%.0f a minute over the run), failures %.0f, daemon CPU %.1f s (%.1f%% of one core)\n",
		last.succeeded, last.succeeded/last.at.Minutes(), last.failed, last.cpuSeconds,
		last.cpuSeconds/last.at.Seconds()*100)
	fmt.Fprintf(&b, "vectord list --json: %d records over %d of %d environments\n", r.records, r.backedUp, sc.envs)
	fmt.Fprintf(&b, "schedules: %.0f backups a minute asked; next runs on %d distinct seconds after start-up\n", r.perMinute, r.nextRuns)
	fmt.Fprintf(&b, "API: %d requests, %d export requests (%d downloads), 429 answers %d; peak %d requests in a minute (limit %d), %d export requests in an hour (limit %d)\n",
		r.final.APIRequests, r.final.DBOperations, r.final.Downloads, r.final.RateLimited,
		r.peakPerMin, sc.perMinute, r.peakOpsHr, sc.dbOpsPerHour)
	t.Log(b.String())
}
