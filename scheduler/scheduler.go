package scheduler

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/builtfast/vectord/catalog"
)

// Errors callers tell apart with errors.Is.
var (
	// ErrUnknownEnvironment: the site and environment are not in the
	// configuration the scheduler holds.
	ErrUnknownEnvironment = errors.New("unknown environment")
	// ErrUnknownJob: no job with that id, or it finished too long ago to be
	// remembered.
	ErrUnknownJob = errors.New("unknown job")
	// ErrInvalidTrigger: the trigger is not schedule, manual or pre-import.
	ErrInvalidTrigger = errors.New("invalid trigger")
	// ErrShuttingDown: Shutdown has begun; no new jobs are accepted.
	ErrShuttingDown = errors.New("scheduler shutting down")
	// ErrCanceled: the job was canceled by Cancel (the person who asked
	// for it gave up waiting).
	ErrCanceled = errors.New("job canceled")
)

// Finished jobs stay in the status table for KeepFinished, and at most the
// last MaxFinished of them.
const (
	KeepFinished = 24 * time.Hour
	MaxFinished  = 1000
)

// HeartbeatInterval is the longest Run waits between two calls of
// Options.Heartbeat.
const HeartbeatInterval = 5 * time.Second

// Job is one backup job as the Runner receives it.
type Job struct {
	ID          string
	Site        string
	Environment string
	Trigger     string // catalog.TriggerSchedule, TriggerManual or TriggerPreImport
	Reason      string

	// ExportID is set for a job resumed after a restart: its export was
	// requested by an earlier daemon at ExportRequestedAt, and is polled,
	// not requested again.
	ExportID          string
	ExportRequestedAt time.Time
	// PlatformBackupID is set instead of (or with) ExportID for a resumed
	// job of a platform backup (CONTRACT §9) whose download was not yet
	// requested.
	PlatformBackupID string
}

// Env is one environment's schedule.
type Env struct {
	Site, Name string
	Schedule   cron.Schedule  // required
	Location   *time.Location // the schedule's time zone; nil is UTC
	Jitter     time.Duration  // runs are delayed by Offset(Site, Name, Jitter)
	// Free marks an environment whose jobs spend no database operation
	// (source mirror: they download backups the platform took): they start
	// without an export admission, as resumed jobs do.
	Free bool
}

// Runner runs one job and returns the catalog id of the backup it stored.
// It reports the job's progress through setState (catalog.JobExporting,
// JobDownloading, JobStoring; other values are ignored: the scheduler sets
// the final state from the returned error). Its ctx is canceled when
// Shutdown gives up waiting; the Runner must then return promptly. Before
// its export request it must call the scheduler's Export gate with ctx (or a
// context derived from it): the job's admission was reserved when it
// started, and Export hands it over at once. A Runner that never calls
// Export still spends the budget admitted for it. The Runner logs the job's
// outcome; the scheduler does not.
type Runner func(ctx context.Context, j Job, setState func(state string)) (backupID string, err error)

// Observer is told the scheduler's gauges. *metrics.Metrics satisfies it.
// Its methods are called with the scheduler's lock held and must not call
// back into the Scheduler.
type Observer interface {
	// SetJobs: jobs started and not finished, and jobs waiting to start.
	SetJobs(running, queued int)
	// SetSchedule: an environment's next scheduled run (zero if none) and
	// the interval of its schedule.
	SetSchedule(site, env string, next time.Time, expectedInterval time.Duration)
	// Forget: the environment was removed from the configuration.
	Forget(site, env string)
}

// Options configure a Scheduler.
type Options struct {
	Envs []Env

	// DBOpsPerHour is the database-operation budget (export and
	// import requests an hour); Exports bounds exports in flight (from
	// admission to release) and Downloads downloads at once. All ≥ 1.
	DBOpsPerHour int
	Exports      int
	Downloads    int

	Runner Runner // required

	// LastSuccess returns when an environment last stored a backup (zero
	// if never); Run and Reload use it for catch-up. Nil: no catch-up.
	LastSuccess func(site, env string) time.Time

	// RecentOperations are the times of database operations (export and
	// import requests) already sent in the last BudgetWindow, for example
	// the export request times of the catalog's jobs, so that a restarted
	// daemon does not spend budget its predecessor already spent.
	RecentOperations []time.Time
	// PausedUntil: a 429 that an earlier process saw still pauses every
	// database operation until then (from the ledger).
	PausedUntil time.Time
	// Ledger, if set, persists every database operation the scheduler
	// admits (before the request is sent) and every 429 pause, so that a
	// restarted daemon and the commands on the same state_dir see them.
	Ledger Ledger
	// By names the process in the ledger: "daemon" or the command.
	By string

	Observer       Observer               // nil observes nothing
	Logger         *slog.Logger           // nil discards
	NewID          func(time.Time) string // job ids; default catalog.NewID
	Heartbeat      func()                 // optional: called from Run at least every HeartbeatEvery
	HeartbeatEvery time.Duration          // gap between heartbeats; 0 or more than HeartbeatInterval means HeartbeatInterval
}

// Priorities, most urgent first.
const (
	prioResume = iota
	prioUrgent // manual and pre-import
	prioSchedule
)

func validTrigger(t string) bool {
	return t == catalog.TriggerSchedule || t == catalog.TriggerManual || t == catalog.TriggerPreImport
}

func priority(trigger string) int {
	if trigger == catalog.TriggerSchedule {
		return prioSchedule
	}
	return prioUrgent
}

type envKey struct{ site, env string }

type envState struct {
	cfg      Env
	offset   time.Duration
	interval time.Duration
	next     time.Time
}

// envJobs are an environment's jobs: at most one running, and those
// waiting for it (at most one that is not a resume).
type envJobs struct {
	running *job
	waiting []*job
}

// job is a Job with its place in the queue and its status.
type job struct {
	Job
	s      *Scheduler
	prio   int
	seq    uint64
	resume bool
	free   bool // starts without an export admission (Env.Free)
	ticket bool // holds an export admission not yet handed to the runner

	state      string
	backupID   string
	err        string
	queuedAt   time.Time
	startedAt  time.Time
	finishedAt time.Time
	// waitingUntil: the job waits for the database-operation budget (or a
	// 429's pause) until then.
	waitingUntil time.Time
	cancel       context.CancelCauseFunc // ends a started job's context
	done         chan struct{}           // closed when finished
}

// Scheduler queues and starts backup jobs: on each environment's schedule,
// on request (Submit), and to resume interrupted exports (Resume). It is
// also the exporter's Gate: Export and Download admit work under the
// database-operation budget and the concurrency limits. It is safe for
// concurrent use.
type Scheduler struct {
	runner      Runner
	lastSuccess func(site, env string) time.Time
	obs         Observer
	log         *slog.Logger
	newID       func(time.Time) string
	heartbeat   func()
	beatEvery   time.Duration
	maxExports  int
	maxDown     int

	jobsCtx    context.Context // parent of every job's context; canceled by Shutdown
	cancelJobs context.CancelFunc
	kick       chan struct{} // wakes Run after a change
	stopCh     chan struct{} // closed when Shutdown begins
	idle       chan struct{} // closed when Shutdown has begun and no job runs
	wg         sync.WaitGroup

	mu          sync.Mutex
	ran         bool // Run was called
	dispatching bool // Run is running and Shutdown has not begun
	stopping    bool
	idleClosed  bool
	seq         uint64
	envs        map[envKey]*envState
	active      map[envKey]*envJobs
	pending     []*job // jobs waiting to start, any order
	running     int
	jobs        map[string]*job
	finished    []*job // oldest first
	budget      *budget
	ledger      Ledger
	by          string
	exports     int           // export admissions held
	freed       chan struct{} // closed and replaced when an export admission is released
	downloads   int           // download admissions held
	exportQ     []*waiter
	downloadQ   []*waiter
	reported    [2]int // last SetJobs values
}

// New validates o and returns a Scheduler. It starts nothing: call Run, and
// Shutdown when done.
func New(o Options) (*Scheduler, error) {
	switch {
	case o.Runner == nil:
		return nil, errors.New("new scheduler: no runner")
	case o.DBOpsPerHour < 1:
		return nil, fmt.Errorf("new scheduler: database operations per hour %d, want ≥ 1", o.DBOpsPerHour)
	case o.Exports < 1:
		return nil, fmt.Errorf("new scheduler: exports in flight %d, want ≥ 1", o.Exports)
	case o.Downloads < 1:
		return nil, fmt.Errorf("new scheduler: downloads at once %d, want ≥ 1", o.Downloads)
	}
	envs, err := buildEnvs(o.Envs)
	if err != nil {
		return nil, fmt.Errorf("new scheduler: %w", err)
	}
	beatEvery := HeartbeatInterval
	if o.HeartbeatEvery > 0 && o.HeartbeatEvery < beatEvery {
		beatEvery = o.HeartbeatEvery
	}
	s := &Scheduler{
		runner:      o.Runner,
		lastSuccess: o.LastSuccess,
		obs:         o.Observer,
		log:         o.Logger,
		newID:       o.NewID,
		heartbeat:   o.Heartbeat,
		beatEvery:   beatEvery,
		maxExports:  o.Exports,
		maxDown:     o.Downloads,
		kick:        make(chan struct{}, 1),
		stopCh:      make(chan struct{}),
		idle:        make(chan struct{}),
		freed:       make(chan struct{}),
		envs:        envs,
		active:      make(map[envKey]*envJobs),
		jobs:        make(map[string]*job),
		budget:      newBudget(o.DBOpsPerHour, o.RecentOperations),
		ledger:      o.Ledger,
		by:          o.By,
	}
	s.budget.pause(o.PausedUntil)
	if s.obs == nil {
		s.obs = nopObserver{}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.newID == nil {
		s.newID = catalog.NewID
	}
	s.observeBudgetLocked(time.Now())
	s.jobsCtx, s.cancelJobs = context.WithCancel(context.Background())
	return s, nil
}

func buildEnvs(list []Env) (map[envKey]*envState, error) {
	envs := make(map[envKey]*envState, len(list))
	for _, e := range list {
		k := envKey{e.Site, e.Name}
		if e.Schedule == nil {
			return nil, fmt.Errorf("environment %s/%s has no schedule", e.Site, e.Name)
		}
		if _, dup := envs[k]; dup {
			return nil, fmt.Errorf("environment %s/%s listed twice", e.Site, e.Name)
		}
		if e.Location == nil {
			e.Location = time.UTC
		}
		envs[k] = &envState{cfg: e, offset: Offset(e.Site, e.Name, e.Jitter)}
	}
	return envs, nil
}

type nopObserver struct{}

func (nopObserver) SetJobs(int, int)                                     {}
func (nopObserver) SetSchedule(string, string, time.Time, time.Duration) {}
func (nopObserver) Forget(string, string)                                {}

// Run runs the schedules until ctx ends or Shutdown begins, and returns nil
// then; from that moment no new job starts (jobs already running go on).
// At start it schedules every environment, starts the resumed jobs, and
// queues one catch-up job for each environment that missed a run: one whose
// last success is older than its schedule's interval, or precedes a run the
// schedule has had since (never having succeeded counts). Run may be called
// once; a second call, or one after Shutdown, returns an error.
func (s *Scheduler) Run(ctx context.Context) error {
	s.mu.Lock()
	switch {
	case s.stopping:
		s.mu.Unlock()
		return fmt.Errorf("run scheduler: %w", ErrShuttingDown)
	case s.ran:
		s.mu.Unlock()
		return errors.New("run scheduler: already running")
	case ctx.Err() != nil:
		s.mu.Unlock()
		return nil
	}
	s.ran, s.dispatching = true, true
	now := time.Now()
	for k, e := range s.envs {
		s.scheduleLocked(k, e, now)
	}
	s.pumpLocked(now)
	added := sortedKeys(s.envs)
	s.mu.Unlock()

	s.catchUp(added)
	defer func() {
		s.mu.Lock()
		s.dispatching = false
		s.mu.Unlock()
	}()

	var beat <-chan time.Time
	if s.heartbeat != nil {
		t := time.NewTicker(s.beatEvery)
		defer t.Stop()
		beat = t.C
		s.heartbeat()
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		s.mu.Lock()
		now := time.Now()
		s.fireLocked(now)
		wake := s.pumpLocked(now)
		for _, e := range s.envs {
			if !e.next.IsZero() && (wake.IsZero() || e.next.Before(wake)) {
				wake = e.next
			}
		}
		s.mu.Unlock()
		if wake.IsZero() {
			wake = now.Add(24 * time.Hour)
		}
		timer.Reset(wake.Sub(now))
		select {
		case <-ctx.Done():
			return nil
		case <-s.stopCh:
			return nil
		case <-s.kick:
		case <-timer.C:
		case <-beat:
			s.heartbeat()
		}
	}
}

func sortedKeys(m map[envKey]*envState) []envKey {
	keys := make([]envKey, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b envKey) int { return cmp.Or(cmp.Compare(a.site, b.site), cmp.Compare(a.env, b.env)) })
	return keys
}

// scheduleLocked computes an environment's next run after now.
func (s *Scheduler) scheduleLocked(k envKey, e *envState, now time.Time) {
	e.interval = Interval(e.cfg.Schedule, e.cfg.Location, now)
	e.next = Next(e.cfg.Schedule, e.cfg.Location, e.offset, now)
	s.obs.SetSchedule(k.site, k.env, e.next, e.interval)
}

// catchUp queues one job for each of keys that missed a scheduled run.
func (s *Scheduler) catchUp(keys []envKey) {
	if s.lastSuccess == nil {
		return
	}
	type miss struct {
		k    envKey
		last time.Time
	}
	var missed []miss
	for _, k := range keys {
		s.mu.Lock()
		var e envState
		p := s.envs[k]
		if p != nil {
			e = *p
		}
		s.mu.Unlock()
		if p == nil {
			continue
		}
		last := s.lastSuccess(k.site, k.env)
		if missedRun(e, last, time.Now()) {
			missed = append(missed, miss{k, last})
		}
	}
	if len(missed) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	for _, m := range missed {
		if s.envs[m.k] == nil || s.stopping {
			continue
		}
		if s.active[m.k] != nil {
			continue // a resumed or requested job is already there
		}
		j := s.enqueueLocked(m.k, catalog.TriggerSchedule, "", now)
		s.log.Info("catch-up backup queued", "site", m.k.site, "environment", m.k.env, "job_id", j.ID, "last_success", m.last)
	}
	s.pumpLocked(now)
	s.kickLocked()
}

// missedRun reports whether an environment whose last success was at last
// (zero: never) has missed a run by now: its last success is older than its
// schedule's interval, or a run has fallen due since.
func missedRun(e envState, last, now time.Time) bool {
	if last.IsZero() || (e.interval > 0 && now.Sub(last) > e.interval) {
		return true
	}
	n := Next(e.cfg.Schedule, e.cfg.Location, e.offset, last)
	return !n.IsZero() && !n.After(now)
}

// fireLocked queues a job for every environment whose run is due.
func (s *Scheduler) fireLocked(now time.Time) {
	var due []envKey
	for k, e := range s.envs {
		if !e.next.IsZero() && !e.next.After(now) {
			due = append(due, k)
		}
	}
	slices.SortFunc(due, func(a, b envKey) int {
		return cmp.Or(s.envs[a].next.Compare(s.envs[b].next),
			cmp.Compare(a.site, b.site), cmp.Compare(a.env, b.env))
	})
	for _, k := range due {
		e := s.envs[k]
		at := e.next
		s.scheduleLocked(k, e, now)
		if s.stopping {
			continue
		}
		if a := s.active[k]; a != nil {
			prev := catalog.JobQueued
			if a.running != nil {
				prev = a.running.state
			}
			s.log.Warn("scheduled backup skipped: the environment's previous job has not finished",
				"site", k.site, "environment", k.env, "due", at, "previous_state", prev)
			if so, ok := s.obs.(skipObserver); ok {
				so.ScheduledRunSkipped(k.site, k.env)
			}
			continue
		}
		j := s.enqueueLocked(k, catalog.TriggerSchedule, "", now)
		s.log.Debug("scheduled backup queued", "site", k.site, "environment", k.env, "job_id", j.ID)
	}
}

// enqueueLocked adds a new waiting job for an environment.
func (s *Scheduler) enqueueLocked(k envKey, trigger, reason string, now time.Time) *job {
	s.seq++
	j := &job{
		Job:      Job{ID: s.newID(now), Site: k.site, Environment: k.env, Trigger: trigger, Reason: reason},
		s:        s,
		prio:     priority(trigger),
		seq:      s.seq,
		state:    catalog.JobQueued,
		queuedAt: now,
		done:     make(chan struct{}),
	}
	if e := s.envs[k]; e != nil {
		j.free = e.cfg.Free
	}
	s.addLocked(k, j)
	return j
}

func (s *Scheduler) addLocked(k envKey, j *job) {
	a := s.active[k]
	if a == nil {
		a = &envJobs{}
		s.active[k] = a
	}
	a.waiting = append(a.waiting, j)
	s.pending = append(s.pending, j)
	s.jobs[j.ID] = j
}

// Submit queues a backup of an environment now and returns the job's id.
// Manual and pre-import jobs start before scheduled ones. If the
// environment already has a job waiting to start, no second one is queued:
// a waiting scheduled job is taken over (it gets the new trigger, reason and
// priority), a waiting manual job is upgraded by a pre-import request, and
// otherwise the waiting job is joined as it is; the id returned is that
// job's. A job submitted while one of the environment runs starts after it.
// Submit returns an error matching ErrUnknownEnvironment, ErrInvalidTrigger
// or ErrShuttingDown.
func (s *Scheduler) Submit(site, env, trigger, reason string) (string, error) {
	if !validTrigger(trigger) {
		return "", fmt.Errorf("submit backup of %s/%s: trigger %q: %w", site, env, trigger, ErrInvalidTrigger)
	}
	k := envKey{site, env}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping {
		return "", fmt.Errorf("submit backup of %s/%s: %w", site, env, ErrShuttingDown)
	}
	if s.envs[k] == nil {
		return "", fmt.Errorf("submit backup of %s/%s: %w", site, env, ErrUnknownEnvironment)
	}
	now := time.Now()
	if a := s.active[k]; a != nil {
		for _, q := range a.waiting {
			if q.resume {
				continue
			}
			switch {
			case q.Trigger == catalog.TriggerSchedule && trigger != catalog.TriggerSchedule,
				q.Trigger == catalog.TriggerManual && trigger == catalog.TriggerPreImport:
				s.seq++
				q.Trigger, q.Reason, q.prio, q.seq = trigger, reason, priority(trigger), s.seq
				s.log.Info("waiting job taken over", "site", site, "environment", env, "job_id", q.ID, "trigger", trigger)
				s.pumpLocked(now)
				s.kickLocked()
			}
			return q.ID, nil
		}
	}
	j := s.enqueueLocked(k, trigger, reason, now)
	s.log.Info("backup queued", "site", site, "environment", env, "job_id", j.ID, "trigger", trigger)
	s.pumpLocked(now)
	s.kickLocked()
	return j.ID, nil
}

// Resume queues a job found in flight at start-up (its ExportID set; ID,
// Site, Environment and Trigger as persisted). Resumed jobs start before
// every other job, as soon as Run runs, and spend no budget: their export
// was requested already. Resume returns an error matching
// ErrUnknownEnvironment or ErrShuttingDown, or one saying the job is incomplete
// or already known.
func (s *Scheduler) Resume(r Job) error {
	if r.ID == "" || (r.ExportID == "" && r.PlatformBackupID == "") {
		return fmt.Errorf("resume job %q of %s/%s: no job id or export id", r.ID, r.Site, r.Environment)
	}
	if !validTrigger(r.Trigger) {
		return fmt.Errorf("resume job %s of %s/%s: trigger %q: %w", r.ID, r.Site, r.Environment, r.Trigger, ErrInvalidTrigger)
	}
	k := envKey{r.Site, r.Environment}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.stopping:
		return fmt.Errorf("resume job %s of %s/%s: %w", r.ID, r.Site, r.Environment, ErrShuttingDown)
	case s.envs[k] == nil:
		return fmt.Errorf("resume job %s of %s/%s: %w", r.ID, r.Site, r.Environment, ErrUnknownEnvironment)
	case s.jobs[r.ID] != nil:
		return fmt.Errorf("resume job %s of %s/%s: already known", r.ID, r.Site, r.Environment)
	}
	now := time.Now()
	s.seq++
	j := &job{
		Job: r, s: s, prio: prioResume, seq: s.seq, resume: true,
		state: catalog.JobQueued, queuedAt: now, done: make(chan struct{}),
	}
	s.addLocked(k, j)
	s.log.Info("interrupted job queued to resume", "site", r.Site, "environment", r.Environment, "job_id", r.ID, "export_id", r.ExportID)
	s.pumpLocked(now)
	s.kickLocked()
	return nil
}

// Reload replaces the set of environments. Added environments are
// scheduled (and caught up as at Run, if Run has started); removed ones lose
// their schedule and the jobs waiting for them fail; running jobs go on.
// Changed schedules take effect from now. An invalid list (an environment
// without a schedule, or listed twice) is refused with an error and the
// old set kept.
func (s *Scheduler) Reload(list []Env) error {
	envs, err := buildEnvs(list)
	if err != nil {
		return fmt.Errorf("reload schedules: %w", err)
	}
	s.mu.Lock()
	now := time.Now()
	for k := range s.envs {
		if envs[k] != nil {
			continue
		}
		dropped := 0
		if a := s.active[k]; a != nil {
			for _, j := range slices.Clone(a.waiting) {
				s.finishLocked(j, "", errors.New("the environment was removed from the configuration"), now)
				dropped++
			}
		}
		s.obs.Forget(k.site, k.env)
		s.log.Info("environment removed from the schedules", "site", k.site, "environment", k.env, "jobs_dropped", dropped)
	}
	var added []envKey
	for k, e := range envs {
		old := s.envs[k]
		switch {
		case old == nil:
			added = append(added, k)
		case sameSchedule(old, e):
			e.next, e.interval = old.next, old.interval
			continue
		}
		if s.ran {
			s.scheduleLocked(k, e, now)
		}
	}
	s.envs = envs
	ran := s.ran && !s.stopping
	s.pumpLocked(now)
	s.kickLocked()
	s.mu.Unlock()
	if ran {
		slices.SortFunc(added, func(a, b envKey) int { return cmp.Or(cmp.Compare(a.site, b.site), cmp.Compare(a.env, b.env)) })
		s.catchUp(added)
	}
	return nil
}

// sameSchedule reports whether an environment's runs are unchanged.
func sameSchedule(a, b *envState) bool {
	return a.offset == b.offset && a.cfg.Location.String() == b.cfg.Location.String() &&
		reflect.DeepEqual(a.cfg.Schedule, b.cfg.Schedule)
}

func (s *Scheduler) kickLocked() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// pumpLocked starts and admits whatever may start now: resumed jobs first,
// then export admissions (waiting jobs and Export callers by priority, then
// first come first served) while the budget and the exports limit allow,
// then downloads by earliest URL expiry. It returns when the budget next
// allows an admission if someone waits for it, else the zero time.
func (s *Scheduler) pumpLocked(now time.Time) (wake time.Time) {
	defer s.observeLocked()
	if s.dispatching {
		for _, j := range slices.Clone(s.pending) {
			if (j.resume || j.free) && s.active[envKey{j.Site, j.Environment}].running == nil {
				s.startLocked(j, now)
			}
		}
	}
	for s.exports < s.maxExports {
		j, w := s.bestExportLocked()
		if j == nil && w == nil {
			break
		}
		if at := s.budget.next(now); at.After(now) {
			wake = at
			s.waitingLocked(j, w, at)
			break
		}
		s.budget.take(now)
		s.spendLocked(now, j, w)
		s.exports++
		if j != nil {
			j.ticket = true
			s.startLocked(j, now)
		} else {
			s.exportQ = slices.DeleteFunc(s.exportQ, func(x *waiter) bool { return x == w })
			w.admit()
		}
	}
	for s.downloads < s.maxDown && len(s.downloadQ) > 0 {
		i := 0
		for k, w := range s.downloadQ[1:] {
			if w.before(s.downloadQ[i]) {
				i = k + 1
			}
		}
		w := s.downloadQ[i]
		s.downloadQ = slices.Delete(s.downloadQ, i, i+1)
		s.downloads++
		w.admit()
	}
	return wake
}

// bestExportLocked returns the most urgent candidate for an export
// admission: a waiting job whose environment is free, or an Export caller.
func (s *Scheduler) bestExportLocked() (*job, *waiter) {
	var (
		bj   *job
		bw   *waiter
		prio int
		seq  uint64
	)
	better := func(p int, q uint64) bool {
		return (bj == nil && bw == nil) || p < prio || (p == prio && q < seq)
	}
	if s.dispatching {
		for _, j := range s.pending {
			if j.resume || j.free || s.active[envKey{j.Site, j.Environment}].running != nil {
				continue
			}
			if better(j.prio, j.seq) {
				bj, bw, prio, seq = j, nil, j.prio, j.seq
			}
		}
	}
	for _, w := range s.exportQ {
		if better(w.prio, w.seq) {
			bj, bw, prio, seq = nil, w, w.prio, w.seq
		}
	}
	return bj, bw
}

func (s *Scheduler) observeLocked() {
	r := [2]int{s.running, len(s.pending)}
	if r != s.reported {
		s.reported = r
		s.obs.SetJobs(r[0], r[1])
	}
	s.observeBudgetLocked(time.Now())
}

// startLocked starts a waiting job's runner.
func (s *Scheduler) startLocked(j *job, now time.Time) {
	k := envKey{j.Site, j.Environment}
	a := s.active[k]
	a.waiting = slices.DeleteFunc(a.waiting, func(x *job) bool { return x == j })
	a.running = j
	s.pending = slices.DeleteFunc(s.pending, func(x *job) bool { return x == j })
	j.startedAt = now
	j.waitingUntil = time.Time{}
	if j.resume {
		j.state = catalog.JobExporting
	}
	s.running++
	s.log.Info("job started", "site", j.Site, "environment", j.Environment, "job_id", j.ID, "trigger", j.Trigger,
		"waited", now.Sub(j.queuedAt))
	// The job's context ends with Shutdown's (jobsCtx) or with Cancel; it
	// is not linked to jobsCtx once the runner has returned.
	ctx, cancel := context.WithCancelCause(context.WithValue(context.WithoutCancel(s.jobsCtx), jobKey{}, j))
	stop := context.AfterFunc(s.jobsCtx, func() { cancel(context.Cause(s.jobsCtx)) })
	j.cancel = cancel
	pub := j.Job
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		id, err := s.runner(ctx, pub, func(state string) { s.setState(j, state) })
		stop()
		if cause := context.Cause(ctx); errors.Is(cause, ErrCanceled) {
			err = cause
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		s.finishLocked(j, id, err, time.Now())
	}()
}

type jobKey struct{}

func (s *Scheduler) setState(j *job, state string) {
	switch state {
	case catalog.JobQueued, catalog.JobExporting, catalog.JobDownloading, catalog.JobStoring:
	default:
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if j.finishedAt.IsZero() {
		j.state = state
	}
}

// finishLocked ends a job, running or waiting.
func (s *Scheduler) finishLocked(j *job, backupID string, err error, now time.Time) {
	k := envKey{j.Site, j.Environment}
	wasRunning := !j.startedAt.IsZero()
	if a := s.active[k]; a != nil {
		if a.running == j {
			a.running = nil
		}
		a.waiting = slices.DeleteFunc(a.waiting, func(x *job) bool { return x == j })
		if a.running == nil && len(a.waiting) == 0 {
			delete(s.active, k)
		}
	}
	s.pending = slices.DeleteFunc(s.pending, func(x *job) bool { return x == j })
	if j.ticket {
		j.ticket = false
		s.releaseExportLocked()
	}
	j.finishedAt = now
	if err != nil {
		j.state, j.err = catalog.JobFailed, err.Error()
	} else {
		j.state, j.backupID = catalog.JobSucceeded, backupID
	}
	close(j.done)
	s.finished = append(s.finished, j)
	s.trimLocked(now)

	// The runner logs a job's outcome; these lines are for debugging.
	log := s.log.With("site", j.Site, "environment", j.Environment, "job_id", j.ID, "trigger", j.Trigger)
	switch {
	case err == nil:
		log.Debug("job succeeded", "backup_id", backupID, "duration", now.Sub(j.startedAt))
	case !wasRunning:
		log.Debug("job dropped before it started", "error", err)
	case errors.Is(err, context.Canceled) && s.jobsCtx.Err() != nil:
		log.Warn("job canceled by shutdown", "duration", now.Sub(j.startedAt))
	default:
		log.Debug("job failed", "duration", now.Sub(j.startedAt), "error", err)
	}

	if wasRunning {
		s.running--
		if s.stopping && s.running == 0 && !s.idleClosed {
			s.idleClosed = true
			close(s.idle)
		}
	}
	s.pumpLocked(now)
	s.kickLocked()
}

// trimLocked forgets finished jobs beyond MaxFinished or older than
// KeepFinished.
func (s *Scheduler) trimLocked(now time.Time) {
	n := 0
	for n < len(s.finished) && (len(s.finished)-n > MaxFinished || now.Sub(s.finished[n].finishedAt) > KeepFinished) {
		delete(s.jobs, s.finished[n].ID)
		n++
	}
	if n > 0 {
		s.finished = slices.Delete(s.finished, 0, n)
	}
}

// Shutdown stops the scheduler: no job starts any more and the jobs still
// waiting fail; then it waits for the running jobs to finish. If ctx ends
// first, it cancels the running jobs' contexts, waits for them to return,
// and returns an error matching ctx's error. A second call waits as the
// first does.
func (s *Scheduler) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if !s.stopping {
		s.stopping, s.dispatching = true, false
		close(s.stopCh)
		now := time.Now()
		if n := len(s.pending); n > 0 {
			s.log.Warn("shutting down: dropping jobs that have not started", "jobs", n)
		}
		for _, j := range slices.Clone(s.pending) {
			s.finishLocked(j, "", errors.New("vectord stopped before the job started"), now)
		}
		if s.running == 0 && !s.idleClosed {
			s.idleClosed = true
			close(s.idle)
		}
	}
	n := s.running
	s.mu.Unlock()
	select {
	case <-s.idle:
		s.wg.Wait()
		return nil
	case <-ctx.Done():
	}
	s.log.Warn("shutdown timeout: canceling running jobs", "jobs", n)
	s.cancelJobs()
	<-s.idle
	s.wg.Wait()
	return fmt.Errorf("shut down scheduler: running jobs canceled: %w", ctx.Err())
}

// Status is a job's state as the control API reports it.
type Status struct {
	ID          string
	Site        string
	Environment string
	Trigger     string
	Reason      string
	State       string // catalog.JobQueued, JobExporting, JobDownloading, JobStoring, JobSucceeded or JobFailed
	BackupID    string // set when succeeded
	Error       string // set when failed
	QueuedAt    time.Time
	StartedAt   time.Time // zero while queued
	FinishedAt  time.Time // zero until succeeded or failed
	// WaitingUntil: the job waits for API budget until then (its export
	// request, or a 429's pause); zero when it does not wait for budget.
	WaitingUntil time.Time
	// Position is the job's place among those waiting for an export
	// admission (1: next), 0 once admitted; EstimatedStart is when the
	// budget would admit it if nothing else arrives.
	Position       int
	EstimatedStart time.Time
}

func (j *job) status() Status {
	return Status{
		ID: j.ID, Site: j.Site, Environment: j.Environment, Trigger: j.Trigger, Reason: j.Reason,
		State: j.state, BackupID: j.backupID, Error: j.err,
		QueuedAt: j.queuedAt, StartedAt: j.startedAt, FinishedAt: j.finishedAt,
		WaitingUntil: j.waitingUntil,
	}
}

// Status returns a job's status: any job waiting or running, and finished
// ones for KeepFinished (at most the last MaxFinished). The boolean is false
// for an unknown or forgotten id.
func (s *Scheduler) Status(id string) (Status, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	j := s.jobs[id]
	if j == nil || (!j.finishedAt.IsZero() && time.Since(j.finishedAt) > KeepFinished) {
		return Status{}, false
	}
	st := j.status()
	if j.finishedAt.IsZero() {
		st.Position, st.EstimatedStart = s.positionLocked(j, time.Now())
	}
	return st, true
}

// positionLocked is j's place in the export queue (0 if it waits for none)
// and when the budget would admit it: the callers ahead of it are admitted
// one by one at the budget's pace.
func (s *Scheduler) positionLocked(j *job, now time.Time) (int, time.Time) {
	type cand struct {
		prio int
		seq  uint64
		me   bool
	}
	var q []cand
	found := false
	for _, p := range s.pending {
		if !p.resume && !p.free {
			q = append(q, cand{p.prio, p.seq, p == j})
			found = found || p == j
		}
	}
	for _, w := range s.exportQ {
		q = append(q, cand{w.prio, w.seq, w.job == j})
		found = found || w.job == j
	}
	if !found {
		return 0, time.Time{}
	}
	slices.SortFunc(q, func(a, b cand) int { return cmp.Or(cmp.Compare(a.prio, b.prio), cmp.Compare(a.seq, b.seq)) })
	b := *s.budget
	b.log = slices.Clone(s.budget.log)
	at := now
	for i, c := range q {
		at = b.next(at)
		if c.me {
			return i + 1, at
		}
		b.take(at)
	}
	return 0, time.Time{}
}

// Cancel ends a job that has not finished: one waiting to start is
// dropped, a running one has its context canceled (the runner returns
// promptly, leaving nothing half-done). It reports false for an unknown or
// finished job.
func (s *Scheduler) Cancel(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	j := s.jobs[id]
	if j == nil || !j.finishedAt.IsZero() {
		return false
	}
	if j.startedAt.IsZero() {
		s.finishLocked(j, "", ErrCanceled, time.Now())
		return true
	}
	if j.cancel != nil {
		j.cancel(ErrCanceled)
	}
	return true
}

// Wait blocks until a job has succeeded or failed and returns its final
// status. It returns an error matching ErrUnknownJob for an unknown id, or
// ctx's error if ctx ends first.
func (s *Scheduler) Wait(ctx context.Context, id string) (Status, error) {
	s.mu.Lock()
	j := s.jobs[id]
	s.mu.Unlock()
	if j == nil {
		return Status{}, fmt.Errorf("wait for job %s: %w", id, ErrUnknownJob)
	}
	select {
	case <-j.done:
	case <-ctx.Done():
		return Status{}, ctx.Err()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return j.status(), nil
}
