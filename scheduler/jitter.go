package scheduler

import (
	"hash/fnv"
	"time"

	"github.com/robfig/cron/v3"
)

// Offset is an environment's stable start delay within [0, jitter): a hash
// of its site and environment names, so it is the same on every start and
// on every machine, and differs between environments.
func Offset(site, env string, jitter time.Duration) time.Duration {
	if jitter <= 0 {
		return 0
	}
	h := fnv.New64a()
	h.Write([]byte(site))
	h.Write([]byte{0})
	h.Write([]byte(env))
	return time.Duration(h.Sum64() % uint64(jitter))
}

// Next returns the first run strictly after t of a schedule evaluated in
// loc and delayed by offset.
func Next(s cron.Schedule, loc *time.Location, offset time.Duration, t time.Time) time.Time {
	if loc == nil {
		loc = time.UTC
	}
	if cd, ok := s.(cron.ConstantDelaySchedule); ok && cd.Delay > 0 {
		// @every: robfig/cron counts the delay from whatever time it is
		// given, which would cancel the offset. Runs fall on a fixed phase
		// instead, shifted by the offset (within one delay), so they are
		// spread across a fleet and stable across restarts.
		offset %= cd.Delay
		return t.Add(-offset).Truncate(cd.Delay).Add(cd.Delay + offset)
	}
	next := s.Next(t.Add(-offset).In(loc))
	if next.IsZero() {
		return next
	}
	return next.Add(offset)
}

// NextN returns the next n runs after t.
func NextN(s cron.Schedule, loc *time.Location, offset time.Duration, t time.Time, n int) []time.Time {
	runs := make([]time.Time, 0, n)
	for range n {
		t = Next(s, loc, offset, t)
		if t.IsZero() {
			break
		}
		runs = append(runs, t)
	}
	return runs
}

// Interval is the schedule's typical gap between two runs: the shortest of
// the next few gaps after t, which is what a "backup too old" alert should
// compare against.
func Interval(s cron.Schedule, loc *time.Location, t time.Time) time.Duration {
	runs := NextN(s, loc, 0, t, 6)
	var best time.Duration
	for i := 1; i < len(runs); i++ {
		if d := runs[i].Sub(runs[i-1]); best == 0 || d < best {
			best = d
		}
	}
	return best
}
