package scheduler

import (
	"context"
	"sync"
	"time"
)

// waiter is a caller blocked in Export or Download.
type waiter struct {
	prio     int
	seq      uint64
	expires  time.Time // downloads: the URL's expiry; zero sorts last
	ready    chan struct{}
	admitted bool

	op, ref string // what the ledger records for an export admission
	job     *job   // the running job asking, if any
}

type opKey struct{}

// WithOperation names the database operation an Export caller is about to
// send ("import", "backup") and what it is for, as the budget ledger
// records it; without it an admission is recorded as an export.
func WithOperation(ctx context.Context, op, ref string) context.Context {
	return context.WithValue(ctx, opKey{}, [2]string{op, ref})
}

func (w *waiter) admit() {
	w.admitted = true
	close(w.ready)
}

// before orders download waiters: earliest expiry first, then first come.
func (w *waiter) before(o *waiter) bool {
	switch {
	case w.expires.IsZero() != o.expires.IsZero():
		return o.expires.IsZero()
	case !w.expires.Equal(o.expires):
		return w.expires.Before(o.expires)
	}
	return w.seq < o.seq
}

// Export blocks until a database operation may be sent: the budget allows
// one (see the package documentation) and fewer than Options.Exports
// admissions are held. The admission is held until release is called,
// which must happen exactly once (further calls do nothing). Callers are
// admitted by priority (a job's own, or else its trigger's: manual and
// pre-import before schedule), then in arrival order; a job's runner calling
// Export with the context it was given receives the admission reserved when
// the job started, at once. Any caller may use Export, for example before an
// import request, which spends the same budget. Export returns ctx's error
// if ctx ends first; the gates keep working after Run has returned and
// during Shutdown, for the jobs still running.
func (s *Scheduler) Export(ctx context.Context, trigger string) (release func(), err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	j, _ := ctx.Value(jobKey{}).(*job)
	if j != nil && j.s != s {
		j = nil
	}
	s.mu.Lock()
	if j != nil && j.ticket {
		j.ticket = false
		s.mu.Unlock()
		return s.exportRelease(), nil
	}
	w := &waiter{prio: priority(trigger), ready: make(chan struct{}), op: "export"}
	if o, ok := ctx.Value(opKey{}).([2]string); ok {
		w.op, w.ref = o[0], o[1]
	}
	if j != nil {
		// A running job asking again (a fresh export, or after a 429)
		// keeps its place.
		w.prio, w.seq, w.job, w.ref = j.prio, j.seq, j, j.ID
	} else {
		s.seq++
		w.seq = s.seq
	}
	s.exportQ = append(s.exportQ, w)
	wake, freed := s.pumpLocked(time.Now()), s.freed
	s.mu.Unlock()

	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		var tc <-chan time.Time
		if !wake.IsZero() {
			d := time.Until(wake)
			if timer == nil {
				timer = time.NewTimer(d)
			} else {
				timer.Reset(d)
			}
			tc = timer.C
		}
		select {
		case <-w.ready:
			if j != nil {
				s.mu.Lock()
				j.waitingUntil = time.Time{}
				s.mu.Unlock()
			}
			return s.exportRelease(), nil
		case <-ctx.Done():
			s.mu.Lock()
			if w.admitted {
				s.releaseExportLocked()
			} else {
				s.exportQ = deleteWaiter(s.exportQ, w)
			}
			s.pumpLocked(time.Now())
			s.kickLocked()
			s.mu.Unlock()
			return nil, ctx.Err()
		case <-tc:
		case <-freed:
		}
		// The budget may allow an admission now, or an export slot was
		// freed while the budget blocks: see who is next and when.
		s.mu.Lock()
		wake, freed = s.pumpLocked(time.Now()), s.freed
		s.mu.Unlock()
	}
}

// releaseExportLocked gives an export admission back, and wakes the Export
// callers: one of them may now be next, waiting for the budget.
func (s *Scheduler) releaseExportLocked() {
	s.exports--
	close(s.freed)
	s.freed = make(chan struct{})
}

func (s *Scheduler) exportRelease() func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.releaseExportLocked()
			s.pumpLocked(time.Now())
			s.kickLocked()
		})
	}
}

// Download blocks until a download may start: fewer than
// Options.Downloads are running. Waiters are admitted earliest expiresAt
// first (a zero expiresAt last), so a URL about to expire is not left
// waiting behind later ones. release must be called exactly once (further
// calls do nothing). Download returns ctx's error if ctx ends first.
func (s *Scheduler) Download(ctx context.Context, expiresAt time.Time) (release func(), err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.seq++
	w := &waiter{seq: s.seq, expires: expiresAt, ready: make(chan struct{})}
	s.downloadQ = append(s.downloadQ, w)
	s.pumpLocked(time.Now())
	s.mu.Unlock()

	select {
	case <-w.ready:
		return s.downloadRelease(), nil
	case <-ctx.Done():
		s.mu.Lock()
		if w.admitted {
			s.downloads--
		} else {
			s.downloadQ = deleteWaiter(s.downloadQ, w)
		}
		s.pumpLocked(time.Now())
		s.mu.Unlock()
		return nil, ctx.Err()
	}
}

func (s *Scheduler) downloadRelease() func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.downloads--
			s.pumpLocked(time.Now())
		})
	}
}

func deleteWaiter(q []*waiter, w *waiter) []*waiter {
	for i, x := range q {
		if x == w {
			return append(q[:i], q[i+1:]...)
		}
	}
	return q
}
