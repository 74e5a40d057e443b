package scheduler

import (
	"cmp"
	"slices"
	"time"
)

// BudgetWindow is the sliding window the database-operation budget is
// counted over: an hour plus a minute of margin, so that requests admitted
// exactly an hour apart cannot meet in one hour of the API's own count even
// when network delays shift their arrival by some seconds.
const BudgetWindow = time.Hour + time.Minute

// Burst is how many export requests the budget admits at once after a quiet
// spell: a fifth of the hourly budget, at least one (2 for the default 10).
func Burst(perHour int) int {
	return max(1, perHour/5)
}

// AdmissionInterval is the spacing of export requests once the burst is
// spent: BudgetWindow divided by the hourly budget (6m6s for 10 an hour).
func AdmissionInterval(perHour int) time.Duration {
	return BudgetWindow / time.Duration(max(1, perHour))
}

// budget is the admission rule for database operations: a token bucket of
// Burst tokens refilled one per AdmissionInterval (as a generic cell rate
// algorithm), and a hard cap of perHour admissions in any BudgetWindow. It is
// not safe for concurrent use.
type budget struct {
	limit    int
	burst    int
	interval time.Duration
	tat      time.Time   // theoretical arrival time of the next request
	log      []time.Time // the last ≤ limit admissions, oldest first

	// pausedUntil: the API refused a database operation (429) and asked
	// to wait until then; nothing is admitted before.
	pausedUntil time.Time
	// The API said (X-RateLimit-Remaining) it allows capLeft more until
	// capUntil: never plan beyond it.
	capLeft  int
	capUntil time.Time

	// probing: since a pause, one operation at a time is admitted until
	// the API accepts one (settle); probeAt is when the one in flight was.
	probing bool
	probeAt time.Time
}

// probeTimeout is how long a probe after a pause may stay unanswered
// before the next one is admitted (its answer may have been lost).
const probeTimeout = 2 * time.Minute

func newBudget(perHour int, spent []time.Time) *budget {
	b := &budget{
		limit:    max(1, perHour),
		burst:    Burst(perHour),
		interval: AdmissionInterval(perHour),
		log:      make([]time.Time, 0, max(1, perHour)),
	}
	spent = slices.Clone(spent)
	slices.SortFunc(spent, time.Time.Compare)
	for _, t := range spent {
		b.take(t)
	}
	return b
}

// next returns the earliest time at or after now at which an admission is
// allowed.
func (b *budget) next(now time.Time) time.Time {
	t := now
	if !b.tat.IsZero() {
		if g := b.tat.Add(-time.Duration(b.burst-1) * b.interval); g.After(t) {
			t = g
		}
	}
	if len(b.log) >= b.limit {
		if l := b.log[len(b.log)-b.limit].Add(BudgetWindow); l.After(t) {
			t = l
		}
	}
	if b.pausedUntil.After(t) {
		t = b.pausedUntil
	}
	if b.capLeft <= 0 && b.capUntil.After(t) {
		t = b.capUntil
	}
	if b.probing && !b.probeAt.IsZero() {
		if p := b.probeAt.Add(probeTimeout); p.After(t) {
			t = p
		}
	}
	return t
}

// settle ends probing after a pause: the API accepted an operation. It
// reports whether anything changed.
func (b *budget) settle() bool {
	was := b.probing
	b.probing, b.probeAt = false, time.Time{}
	return was
}

// pause stops admissions until t (a 429's Retry-After); an earlier t than
// the one in force changes nothing. It reports whether t was new.
func (b *budget) pause(t time.Time) bool {
	if !t.After(b.pausedUntil) {
		return false
	}
	b.pausedUntil = t
	b.probing, b.probeAt = true, time.Time{}
	return true
}

// limitTo records what the API said it still allows: remaining operations
// until reset (zero: for the rest of the window).
func (b *budget) limitTo(remaining int, reset, now time.Time) {
	if reset.IsZero() {
		reset = now.Add(BudgetWindow)
	}
	b.capLeft, b.capUntil = remaining, reset
}

// remaining is how many admissions the budget allows at now, one after
// the other.
func (b *budget) remaining(now time.Time) int {
	c := *b
	c.log = slices.Clone(b.log)
	n := 0
	for n < c.limit && !c.next(now).After(now) {
		c.take(now)
		n++
	}
	return n
}

// take records an admission at t.
func (b *budget) take(t time.Time) {
	if t.Before(b.capUntil) {
		b.capLeft--
	}
	if !b.capUntil.IsZero() && b.capLeft <= 0 && !t.Before(b.capUntil) {
		// The API's window has turned since it said nothing was left;
		// others sharing the account may spend it first: this admission
		// probes, as after a 429, and the next waits for its answer.
		b.capUntil, b.probing = time.Time{}, true
	}
	if b.probing {
		b.probeAt = t
	}
	if b.tat.Before(t) {
		b.tat = t
	}
	b.tat = b.tat.Add(b.interval)
	if len(b.log) == b.limit {
		copy(b.log, b.log[1:])
		b.log = b.log[:len(b.log)-1]
	}
	b.log = append(b.log, t)
}

// Pressure is one hour in which the schedules ask more of the
// database-operation budget than it serves.
type Pressure struct {
	Start, End time.Time // the hour, [Start, End)
	Due        int       // scheduled exports due in it
	Budget     int       // exports the budget admits in an hour
	// LastStart is when the last export due in the hour would be admitted.
	LastStart time.Time
	// Skipped counts runs due in the hour that would be skipped because
	// their environment's previous run was still waiting for budget.
	Skipped int
}

// maxDuePerEnv bounds the runs BudgetReport looks at per environment (one a
// minute for a day).
const maxDuePerEnv = 24 * 60

// BudgetReport simulates the next 24 hours of schedules from from, under the
// admission rule for perHour export requests an hour (a full budget at from,
// every job due in FIFO order, no manual jobs, a due run skipped while its
// environment's previous run still waits, and a job leaving its environment
// free as soon as it is admitted). It returns, in time order, the clock hours
// (UTC-aligned, the first one holding from) in which more exports are due
// than perHour, or whose last export would start an hour or more after the
// hour ends because earlier hours left a backlog. Nil means the budget keeps
// up. Runs beyond one a minute per environment are not counted.
func BudgetReport(envs []Env, perHour int, from time.Time) []Pressure {
	if perHour <= 0 || len(envs) == 0 {
		return nil
	}
	type due struct {
		at  time.Time
		env int
	}
	until := from.Add(24 * time.Hour)
	var dues []due
	for i, e := range envs {
		if e.Schedule == nil {
			continue
		}
		off := Offset(e.Site, e.Name, e.Jitter)
		t := from.Add(-time.Nanosecond) // a run due exactly at from counts
		for range maxDuePerEnv {
			t = Next(e.Schedule, e.Location, off, t)
			if t.IsZero() || !t.Before(until) {
				break
			}
			dues = append(dues, due{t, i})
		}
	}
	slices.SortFunc(dues, func(a, b due) int {
		return cmp.Or(a.at.Compare(b.at),
			cmp.Compare(envs[a.env].Site, envs[b.env].Site),
			cmp.Compare(envs[a.env].Name, envs[b.env].Name))
	})

	start := from.Truncate(time.Hour)
	windows := make([]Pressure, 25)
	for k := range windows {
		windows[k] = Pressure{Start: start.Add(time.Duration(k) * time.Hour), Budget: perHour}
		windows[k].End = windows[k].Start.Add(time.Hour)
	}
	window := func(t time.Time) *Pressure { return &windows[int(t.Sub(start)/time.Hour)] }

	b := newBudget(perHour, nil)
	waiting := make(map[int]bool)
	var queue []due // FIFO
	for i := 0; i < len(dues) || len(queue) > 0; {
		if len(queue) > 0 {
			at := b.next(queue[0].at)
			if i == len(dues) || at.Before(dues[i].at) {
				b.take(at)
				w := window(queue[0].at)
				if at.After(w.LastStart) {
					w.LastStart = at
				}
				delete(waiting, queue[0].env)
				queue = queue[1:]
				continue
			}
		}
		d := dues[i]
		i++
		w := window(d.at)
		w.Due++
		if waiting[d.env] {
			w.Skipped++
			continue
		}
		waiting[d.env] = true
		queue = append(queue, d)
	}

	var out []Pressure
	for _, w := range windows {
		if w.Due > perHour || (w.Due > 0 && w.LastStart.Sub(w.End) >= time.Hour) {
			out = append(out, w)
		}
	}
	return out
}
