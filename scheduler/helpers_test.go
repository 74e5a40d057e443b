package scheduler

import (
	"bytes"
	"context"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/robfig/cron/v3"
	"go.uber.org/goleak"

	"github.com/builtfast/vectord/catalog"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func mustCron(tb testing.TB, spec string) cron.Schedule {
	tb.Helper()
	s, err := cron.ParseStandard(spec)
	if err != nil {
		tb.Fatalf("parse %q: %v", spec, err)
	}
	return s
}

func env(tb testing.TB, site, name, spec string, jitter time.Duration) Env {
	tb.Helper()
	return Env{Site: site, Name: name, Schedule: mustCron(tb, spec), Location: time.UTC, Jitter: jitter}
}

// run is one call of the fake runner.
type run struct {
	Job
	ctx        context.Context
	setState   func(string)
	startedAt  time.Time
	admittedAt time.Time // when Export admitted it; zero for a resumed job
	release    func()    // the held export admission, if any
	done       chan runResult
}

type runResult struct {
	id  string
	err error
}

// finish ends the run with a backup id or an error.
func (r *run) finish(id string, err error) { r.done <- runResult{id, err} }

// fakeRunner behaves as the exporter does towards the scheduler: it asks
// the Export gate before a new export (not when resuming), reports
// "exporting", and then blocks until the test finishes it or its context
// ends.
type fakeRunner struct {
	s          *Scheduler
	instant    bool // succeed at once
	holdExport bool // keep the export admission until the run finishes
	started    chan *run

	mu      sync.Mutex
	running map[envKey]int
	overlap bool // two runs of one environment at once
}

func newFakeRunner() *fakeRunner {
	return &fakeRunner{started: make(chan *run, 4096), running: map[envKey]int{}}
}

func (f *fakeRunner) run(ctx context.Context, j Job, setState func(string)) (string, error) {
	k := envKey{j.Site, j.Environment}
	f.mu.Lock()
	f.running[k]++
	if f.running[k] > 1 {
		f.overlap = true
	}
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.running[k]--
		f.mu.Unlock()
	}()

	r := &run{Job: j, ctx: ctx, setState: setState, startedAt: time.Now(), done: make(chan runResult, 1)}
	if j.ExportID == "" {
		rel, err := f.s.Export(ctx, j.Trigger)
		if err != nil {
			return "", err
		}
		r.admittedAt = time.Now()
		if f.holdExport {
			r.release = rel
		} else {
			rel()
		}
	}
	setState(catalog.JobExporting)
	f.started <- r
	if f.instant {
		if r.release != nil {
			r.release()
		}
		return "backup-" + j.ID, nil
	}
	select {
	case res := <-r.done:
		if r.release != nil {
			r.release()
		}
		return res.id, res.err
	case <-ctx.Done():
		if r.release != nil {
			r.release()
		}
		return "", ctx.Err()
	}
}

// recorder is an Observer that remembers what it was told.
type recorder struct {
	mu       sync.Mutex
	running  int
	queued   int
	next     map[envKey]time.Time
	interval map[envKey]time.Duration
	forgot   []envKey
}

func newRecorder() *recorder {
	return &recorder{next: map[envKey]time.Time{}, interval: map[envKey]time.Duration{}}
}

func (r *recorder) SetJobs(running, queued int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.running, r.queued = running, queued
}

func (r *recorder) SetSchedule(site, env string, next time.Time, interval time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.next[envKey{site, env}] = next
	r.interval[envKey{site, env}] = interval
}

func (r *recorder) Forget(site, env string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.forgot = append(r.forgot, envKey{site, env})
}

func (r *recorder) nextRun(k envKey) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.next[k]
}

func (r *recorder) forgotten() []envKey {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.forgot)
}

func (r *recorder) jobs() (running, queued int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.running, r.queued
}

// syncBuffer is a log destination safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// harness is a Scheduler with a fake runner, for use inside a synctest
// bubble.
type harness struct {
	t    *testing.T
	s    *Scheduler
	f    *fakeRunner
	obs  *recorder
	logs *syncBuffer

	cancel  context.CancelFunc
	runDone chan error
}

// newHarness builds a Scheduler from o, filling in the runner, an observer,
// a logger and generous limits where o leaves them unset. It does not start
// Run.
func newHarness(t *testing.T, o Options) *harness {
	t.Helper()
	h := &harness{t: t, f: newFakeRunner(), obs: newRecorder(), logs: &syncBuffer{}}
	o.Runner = h.f.run
	if o.Observer == nil {
		o.Observer = h.obs
	}
	o.Logger = slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if o.DBOpsPerHour == 0 {
		o.DBOpsPerHour = 3600
	}
	if o.Exports == 0 {
		o.Exports = 4
	}
	if o.Downloads == 0 {
		o.Downloads = 2
	}
	s, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	h.s, h.f.s = s, s
	t.Cleanup(h.stop)
	return h
}

// start runs the scheduler's Run in the background.
func (h *harness) start() *harness {
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.runDone = cancel, make(chan error, 1)
	go func() { h.runDone <- h.s.Run(ctx) }()
	synctest.Wait()
	return h
}

// stop ends Run and shuts down at once, canceling running jobs.
func (h *harness) stop() {
	if h.cancel != nil {
		h.cancel()
		if err := <-h.runDone; err != nil {
			h.t.Errorf("Run = %v, want nil", err)
		}
		h.cancel = nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	h.s.Shutdown(ctx)
}

// next waits (in virtual time) for the next job to start.
func (h *harness) next() *run {
	h.t.Helper()
	return <-h.f.started
}

// expect waits for the next job to start and checks which and when.
func (h *harness) expect(site, env string, at time.Time) *run {
	h.t.Helper()
	r := h.next()
	if r.Site != site || r.Environment != env || !r.startedAt.Equal(at) {
		h.t.Fatalf("started %s/%s at %v, want %s/%s at %v", r.Site, r.Environment, r.startedAt, site, env, at)
	}
	return r
}

// expectAll waits for jobs of the named environments (of any site) to start
// at one instant, in any order, and returns them by environment.
func (h *harness) expectAll(at time.Time, envs ...string) map[string]*run {
	h.t.Helper()
	got := map[string]*run{}
	for range envs {
		r := h.next()
		if !r.startedAt.Equal(at) {
			h.t.Fatalf("started %s/%s at %v, want %v", r.Site, r.Environment, r.startedAt, at)
		}
		got[r.Environment] = r
	}
	for _, e := range envs {
		if got[e] == nil {
			h.t.Fatalf("started %v at %v, want %v", slices.Collect(maps.Keys(got)), at, envs)
		}
	}
	return got
}

// quiet checks that no job has started.
func (h *harness) quiet() {
	h.t.Helper()
	synctest.Wait()
	select {
	case r := <-h.f.started:
		h.t.Fatalf("unexpected start of %s/%s (job %s) at %v", r.Site, r.Environment, r.ID, r.startedAt)
	default:
	}
}

func (h *harness) status(id string) Status {
	h.t.Helper()
	st, ok := h.s.Status(id)
	if !ok {
		h.t.Fatalf("Status(%s): unknown", id)
	}
	return st
}
