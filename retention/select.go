// Package retention decides which backups of an environment a retention
// policy keeps (Select) and deletes the others from storage and the catalog
// (Enforcer).
//
// Scheduled and manual backups form one class governed by restic-style keep
// rules; pre-import safety snapshots form a second class kept by age, plus
// always the newest one. The newest scheduled or manual backup is never
// deleted.
package retention

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

// Backup is what Select needs to know about one backup.
type Backup struct {
	ID        string
	Time      time.Time // when the backup started
	PreImport bool      // a safety snapshot taken before an import
	Pinned    bool      // pinned by the user: kept whatever the rules say
}

// Policy is one environment's retention policy (CONTRACT §5). Last,
// Hourly … Yearly and Within govern scheduled and manual backups; PreImport
// governs pre-import snapshots. Negative counts and durations are treated
// as zero; rejecting them is the configuration's job.
type Policy struct {
	// Last keeps the N newest backups.
	Last int
	// Hourly, Daily, Weekly, Monthly and Yearly keep the newest backup in
	// each of the N most recent hours, days, ISO weeks, months and years
	// that have a backup, computed in Location.
	Hourly, Daily, Weekly, Monthly, Yearly int
	// Within keeps every backup younger than this, measured from the now
	// given to Select.
	Within time.Duration
	// PreImport keeps pre-import snapshots younger than this; the newest
	// pre-import snapshot is always kept.
	PreImport time.Duration
	// Location is the time zone that period boundaries are computed in;
	// nil means UTC.
	Location *time.Location
}

// Empty reports whether p sets no rule at all (Location aside). Select keeps
// every backup under an empty policy.
func (p Policy) Empty() bool {
	return !p.hasKeepRule() && p.PreImport <= 0
}

// hasKeepRule reports whether any rule for scheduled and manual backups is
// set.
func (p Policy) hasKeepRule() bool {
	return p.Last > 0 || p.Hourly > 0 || p.Daily > 0 || p.Weekly > 0 ||
		p.Monthly > 0 || p.Yearly > 0 || p.Within > 0
}

// Decision is Select's verdict on one backup.
type Decision struct {
	Backup Backup
	Keep   bool
	// Reasons names every rule that kept the backup, such as "last",
	// "daily 2026-11-28", "weekly 2026-W48", "within 72h0m0s",
	// "oldest fills daily" or "newest backup"; a deleted backup has the
	// single reason "no rule keeps it".
	Reasons []string
}

// The reasons Select gives that carry no period.
const (
	reasonLast              = "last"
	reasonNewest            = "newest backup"
	reasonNewestPreImport   = "newest pre-import"
	reasonPinned            = "pinned"
	reasonEmptyPolicy       = "empty policy"
	reasonNoKeepRule        = "no keep rule set"
	reasonDeleted           = "no rule keeps it"
	reasonOldestFillsPrefix = "oldest fills "
)

// ruleKind identifies one counted keep rule.
type ruleKind int

const (
	ruleLast ruleKind = iota
	ruleHourly
	ruleDaily
	ruleWeekly
	ruleMonthly
	ruleYearly
	numRules
)

var ruleNames = [numRules]string{"last", "hourly", "daily", "weekly", "monthly", "yearly"}

// Select decides which backups p keeps, with the semantics of restic's
// forget: a backup is kept if any rule keeps it.
//
//   - Last keeps the Last newest scheduled or manual backups.
//   - Hourly … Yearly keep the newest backup of each of the N most recent
//     periods that have a backup. Periods are wall-clock periods in
//     p.Location, whatever offset the backup's time carries; weeks are ISO
//     weeks. A day with a daylight-saving change is one day of 23 or 25
//     hours. The wall-clock hour that a change back from summer time
//     repeats counts as two hours, one per offset (restic merges them).
//   - As in restic since 0.16, when a rule runs out of periods before it
//     has kept N backups, it also keeps the oldest backup ("oldest fills
//     daily"), so a young history is not thinned to fewer backups than asked.
//   - Within keeps every backup younger than Within at now. restic measures
//     keep-within from the newest snapshot instead; measuring from now is
//     what CONTRACT §5 asks ("younger than the duration"). A backup dated
//     after now counts as young.
//
// A pinned backup is always kept ("pinned"), as restic keeps a snapshot
// with a keep-tag.
//
// Beyond restic: pre-import snapshots are a class of their own, untouched by
// the keep rules and kept while younger than p.PreImport, the newest one
// always; the newest scheduled or manual backup is always kept ("newest
// backup"); an empty policy keeps everything, and a policy with no keep rule
// for scheduled and manual backups keeps all of them ("no keep rule set"),
// as restic refuses to act on an empty policy.
//
// The result holds one Decision per input backup, sorted newest first, ties
// broken by ID (the greater ID first); the input's order does not matter and
// the input is not modified. Select is pure: it depends only on its
// arguments.
func Select(now time.Time, backups []Backup, p Policy) []Decision {
	order := sortNewestFirst(backups)

	loc := p.Location
	if loc == nil {
		loc = time.UTC
	}

	newestRegular, oldestRegular, newestPreImport := -1, -1, -1
	for i, k := range order {
		switch {
		case backups[k].PreImport:
			if newestPreImport < 0 {
				newestPreImport = i
			}
		default:
			if newestRegular < 0 {
				newestRegular = i
			}
			oldestRegular = i
		}
	}

	var counts [numRules]int
	for r, n := range [numRules]int{p.Last, p.Hourly, p.Daily, p.Weekly, p.Monthly, p.Yearly} {
		counts[r] = max(n, 0)
	}
	var (
		lastKey    [numRules]int64
		started    [numRules]bool
		empty      = p.Empty()
		keepRules  = p.hasKeepRule()
		withinText = fmt.Sprintf("within %v", p.Within)
		preText    = fmt.Sprintf("pre-import within %v", p.PreImport)
	)

	// All reasons live in one slice; each decision gets a capacity-limited
	// window of it, so appending to one decision's reasons cannot overwrite
	// another's.
	reasons := make([]string, 0, len(order)+8)
	ends := make([]int, len(order))
	decisions := make([]Decision, len(order))
	for i, k := range order {
		b := backups[k]
		start := len(reasons)
		switch {
		case empty:
			reasons = append(reasons, reasonEmptyPolicy)
		case b.PreImport:
			if p.PreImport > 0 && younger(b.Time, now, p.PreImport) {
				reasons = append(reasons, preText)
			}
			if i == newestPreImport {
				reasons = append(reasons, reasonNewestPreImport)
			}
		case !keepRules:
			reasons = append(reasons, reasonNoKeepRule)
		default:
			var local time.Time
			haveLocal := false
			for r := range numRules {
				if counts[r] == 0 {
					continue
				}
				if r != ruleLast && !haveLocal {
					local, haveLocal = b.Time.In(loc), true
				}
				key := periodKey(r, local, i)
				switch {
				case !started[r] || key != lastKey[r]:
					reasons = append(reasons, periodReason(r, local))
				case i == oldestRegular:
					reasons = append(reasons, reasonOldestFillsPrefix+ruleNames[r])
				default:
					continue
				}
				started[r], lastKey[r] = true, key
				counts[r]--
			}
			if p.Within > 0 && younger(b.Time, now, p.Within) {
				reasons = append(reasons, withinText)
			}
			if i == newestRegular {
				reasons = append(reasons, reasonNewest)
			}
		}
		if b.Pinned {
			reasons = append(reasons, reasonPinned)
		}
		keep := len(reasons) > start
		if !keep {
			reasons = append(reasons, reasonDeleted)
		}
		ends[i] = len(reasons)
		decisions[i] = Decision{Backup: b, Keep: keep}
	}
	start := 0
	for i := range decisions {
		decisions[i].Reasons = reasons[start:ends[i]:ends[i]]
		start = ends[i]
	}
	return decisions
}

// sortKey is a backup's position in the input with its time, so that
// sorting swaps small pointer-free values.
type sortKey struct {
	sec  int64
	nsec int32
	idx  int32
}

// sortNewestFirst returns the indexes of backups in compareNewestFirst
// order.
func sortNewestFirst(backups []Backup) []int32 {
	keys := make([]sortKey, len(backups))
	for i, b := range backups {
		keys[i] = sortKey{sec: b.Time.Unix(), nsec: int32(b.Time.Nanosecond()), idx: int32(i)}
	}
	slices.SortFunc(keys, func(a, b sortKey) int {
		if c := cmp.Compare(b.sec, a.sec); c != 0 {
			return c
		}
		if c := cmp.Compare(b.nsec, a.nsec); c != 0 {
			return c
		}
		return compareNewestFirst(backups[a.idx], backups[b.idx])
	})
	order := make([]int32, len(keys))
	for i, k := range keys {
		order[i] = k.idx
	}
	return order
}

// compareNewestFirst orders backups newest first, then by descending ID,
// then scheduled or manual before pre-import, so that the order is total
// for distinguishable backups. It compares instants, never monotonic clock
// readings or locations.
func compareNewestFirst(a, b Backup) int {
	if c := cmp.Compare(b.Time.Unix(), a.Time.Unix()); c != 0 {
		return c
	}
	if c := cmp.Compare(b.Time.Nanosecond(), a.Time.Nanosecond()); c != 0 {
		return c
	}
	if c := cmp.Compare(b.ID, a.ID); c != 0 {
		return c
	}
	switch {
	case a.PreImport == b.PreImport:
		return 0
	case b.PreImport:
		return -1
	default:
		return 1
	}
}

// younger reports whether t is less than d before now. Times after now are
// young.
func younger(t, now time.Time, d time.Duration) bool {
	return now.Sub(t) < d
}

// periodKey returns a number that is equal for two backups exactly when
// they fall into the same period of rule r. local is the backup's time in
// the policy's location; i is its position, which makes every backup its
// own period for ruleLast.
func periodKey(r ruleKind, local time.Time, i int) int64 {
	switch r {
	case ruleHourly:
		// The instant the local hour began: the two wall-clock hours a
		// change back from summer time repeats are different keys.
		return hourStart(local).Unix()
	case ruleDaily:
		y, m, d := local.Date()
		return int64(y)*10000 + int64(m)*100 + int64(d)
	case ruleWeekly:
		y, w := local.ISOWeek()
		return int64(y)*100 + int64(w)
	case ruleMonthly:
		y, m, _ := local.Date()
		return int64(y)*100 + int64(m)
	case ruleYearly:
		return int64(local.Year())
	default:
		return int64(i)
	}
}

// hourStart returns the instant at which local's wall-clock hour began.
func hourStart(local time.Time) time.Time {
	_, m, s := local.Clock()
	return local.Add(-time.Duration(m)*time.Minute - time.Duration(s)*time.Second -
		time.Duration(local.Nanosecond()))
}

// periodReason names the period of rule r that local falls into, such as
// "daily 2026-11-28".
func periodReason(r ruleKind, local time.Time) string {
	switch r {
	case ruleHourly:
		return "hourly " + hourLabel(local)
	case ruleDaily:
		return "daily " + local.Format(time.DateOnly)
	case ruleWeekly:
		y, w := local.ISOWeek()
		return fmt.Sprintf("weekly %04d-W%02d", y, w)
	case ruleMonthly:
		return "monthly " + local.Format("2006-01")
	case ruleYearly:
		return "yearly " + local.Format("2006")
	default:
		return reasonLast
	}
}

// hourLabel formats local's hour as "2026-11-28T14", adding the UTC offset
// ("2026-10-25T02+01:00") when the wall clock shows that hour twice.
func hourLabel(local time.Time) string {
	const layout = "2006-01-02T15"
	label := local.Format(layout)
	start := hourStart(local)
	if start.Add(-time.Hour).Format(layout) == label || start.Add(time.Hour).Format(layout) == label {
		label += local.Format("Z07:00")
	}
	return label
}
