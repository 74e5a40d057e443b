package scheduler

import (
	"context"
	"fmt"
	"time"

	"github.com/builtfast/vectord/catalog"
)

// Ledger persists the database-operation budget (CONTRACT §6);
// *catalog.DB satisfies it.
type Ledger interface {
	SpendBudget(ctx context.Context, op catalog.Operation) error
	SetBudgetPausedUntil(ctx context.Context, t time.Time) error
}

// budgetObserver is told the budget's state; *metrics.Metrics satisfies it.
// An Observer without these methods is not told.
type budgetObserver interface {
	SetBudget(remaining int)
	SetRateLimitedUntil(t time.Time)
}

// skipObserver counts scheduled runs skipped because the environment's
// previous job still waited or ran; *metrics.Metrics satisfies it.
type skipObserver interface {
	ScheduledRunSkipped(site, env string)
}

// ledgerTimeout bounds one ledger write, made with the scheduler's lock
// held.
const ledgerTimeout = 10 * time.Second

// spendLocked writes an admission to the ledger before the admitted
// caller can send its request. A failed write is logged: the admission is
// counted in memory all the same.
func (s *Scheduler) spendLocked(now time.Time, j *job, w *waiter) {
	op := catalog.Operation{At: now, Op: "export", By: s.by}
	switch {
	case j != nil:
		op.Ref = j.ID
	case w != nil && w.ref != "":
		op.Op, op.Ref = w.op, w.ref
	case w != nil:
		op.Op = w.op
	}
	if op.Op == "" {
		op.Op = "database operation"
	}
	s.persist(func(ctx context.Context) error { return s.ledger.SpendBudget(ctx, op) })
	s.observeBudgetLocked(now)
}

func (s *Scheduler) persist(write func(ctx context.Context) error) {
	if s.ledger == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), ledgerTimeout)
	defer cancel()
	if err := write(ctx); err != nil {
		s.log.Error("write the budget ledger", "error", err)
	}
}

func (s *Scheduler) observeBudgetLocked(now time.Time) {
	if bo, ok := s.obs.(budgetObserver); ok {
		bo.SetBudget(s.budget.remaining(now))
		if s.budget.pausedUntil.After(now) {
			bo.SetRateLimitedUntil(s.budget.pausedUntil)
		} else {
			bo.SetRateLimitedUntil(time.Time{})
		}
	}
}

// waitingLocked notes that the most urgent candidate waits for the budget
// until at, so that its status can say so.
func (s *Scheduler) waitingLocked(j *job, w *waiter, at time.Time) {
	switch {
	case j != nil:
		j.waitingUntil = at
	case w != nil && w.job != nil:
		w.job.waitingUntil = at
	}
}

// Pause stops every database operation until until: the API refused one
// with a 429 and asked to wait (Retry-After, else X-RateLimit-Reset, else
// an hour). Waiting callers keep their places; the pause is written to the
// ledger so that a restart and the commands on the same state_dir wait too.
func (s *Scheduler) Pause(until time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.budget.pause(until) {
		return
	}
	s.log.Warn("the API refused a database operation; waiting for API budget", "until", until.UTC().Format(time.RFC3339))
	s.persist(func(ctx context.Context) error { return s.ledger.SetBudgetPausedUntil(ctx, until) })
	s.observeBudgetLocked(time.Now())
	s.pumpLocked(time.Now())
	s.kickLocked()
}

// Settled tells the scheduler that the API accepted a database operation
// (a 2xx answer): after a 429's pause, operations are admitted one at a
// time until one is accepted, so that a budget spent by another client is
// probed by one request, not a stampede.
func (s *Scheduler) Settled() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.budget.settle() {
		s.pumpLocked(time.Now())
		s.kickLocked()
	}
}

// Retried spends one more database operation for a request sent again
// after a failed attempt (a retry costs budget like the first), writing
// it to the ledger before it is sent. It never blocks: the request was
// admitted already.
func (s *Scheduler) Retried(ctx context.Context, op string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	s.budget.take(now)
	if s.ledger != nil {
		if err := s.ledger.SpendBudget(ctx, catalog.Operation{At: now, Op: "retry " + op, By: s.by}); err != nil {
			return err
		}
	}
	s.observeBudgetLocked(now)
	return nil
}

// LimitTo records what the API said it still allows (X-RateLimit-Remaining
// until reset): the scheduler never plans beyond it.
func (s *Scheduler) LimitTo(remaining int, reset time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	s.budget.limitTo(remaining, reset, now)
	s.observeBudgetLocked(now)
}

// BudgetState is the budget as `vectord status` shows it.
type BudgetState struct {
	Remaining   int       // database operations admitted now, one after the other
	NextAt      time.Time // when the next one is admitted (now if Remaining > 0)
	PausedUntil time.Time // a 429's pause, zero if none
}

// Budget returns the budget's state at now.
func (s *Scheduler) Budget(now time.Time) BudgetState {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := BudgetState{Remaining: s.budget.remaining(now), NextAt: s.budget.next(now)}
	if s.budget.pausedUntil.After(now) {
		st.PausedUntil = s.budget.pausedUntil
	}
	return st
}

// SetLimits applies a reloaded configuration's limits: the
// database-operation budget per hour, exports in flight and downloads at
// once (each ≥ 1, else an error and nothing changes). The operations
// already spent still count against the new budget; a 429's pause stays.
func (s *Scheduler) SetLimits(perHour, exports, downloads int) error {
	if perHour < 1 || exports < 1 || downloads < 1 {
		return fmt.Errorf("scheduler limits %d/h, %d exports, %d downloads: each must be ≥ 1", perHour, exports, downloads)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	old := s.budget
	b := newBudget(perHour, old.log)
	b.pausedUntil, b.capLeft, b.capUntil, b.probing, b.probeAt = old.pausedUntil, old.capLeft, old.capUntil, old.probing, old.probeAt
	s.budget = b
	s.maxExports, s.maxDown = exports, downloads
	s.observeBudgetLocked(now)
	s.pumpLocked(now)
	s.kickLocked()
	return nil
}

// EnvJob returns the status of an environment's job that has not finished
// (the running one, else the first waiting), with its place in the export
// queue, or false when it has none.
func (s *Scheduler) EnvJob(site, env string) (Status, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.active[envKey{site, env}]
	if a == nil {
		return Status{}, false
	}
	j := a.running
	if j == nil && len(a.waiting) > 0 {
		j = a.waiting[0]
	}
	if j == nil {
		return Status{}, false
	}
	st := j.status()
	st.Position, st.EstimatedStart = s.positionLocked(j, time.Now())
	return st, true
}

// NextRun returns an environment's next scheduled run, zero if none.
func (s *Scheduler) NextRun(site, env string) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.envs[envKey{site, env}]; e != nil {
		return e.next
	}
	return time.Time{}
}
