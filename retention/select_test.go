package retention

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// at parses "2006-01-02 15:04:05" in loc (UTC when nil).
func at(tb testing.TB, s string, loc *time.Location) time.Time {
	tb.Helper()
	if loc == nil {
		loc = time.UTC
	}
	t, err := time.ParseInLocation(time.DateTime, s, loc)
	if err != nil {
		tb.Fatalf("parse %q: %v", s, err)
	}
	return t
}

func berlin(tb testing.TB) *time.Location {
	tb.Helper()
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		tb.Skipf("time zone database unavailable: %v", err)
	}
	return loc
}

// series returns one scheduled backup per time, with IDs ordered like the
// times ("b000" oldest when the times ascend).
func series(times ...time.Time) []Backup {
	bs := make([]Backup, len(times))
	for i, t := range times {
		bs[i] = Backup{ID: fmt.Sprintf("b%03d", i), Time: t}
	}
	return bs
}

// everyDay returns a time for each day from first to last inclusive, at the
// clock time of first.
func everyDay(first, last time.Time) []time.Time {
	var ts []time.Time
	for t := first; !t.After(last); t = t.AddDate(0, 0, 1) {
		ts = append(ts, t)
	}
	return ts
}

// keptReasons maps each kept backup's ID to its reasons.
func keptReasons(ds []Decision) map[string][]string {
	m := map[string][]string{}
	for _, d := range ds {
		if d.Keep {
			m[d.Backup.ID] = d.Reasons
		}
	}
	return m
}

// idAt returns the ID of the backup taken at t.
func idAt(tb testing.TB, bs []Backup, t time.Time) string {
	tb.Helper()
	for _, b := range bs {
		if b.Time.Equal(t) {
			return b.ID
		}
	}
	tb.Fatalf("no backup at %v", t)
	return ""
}

func TestSelectTable(t *testing.T) {
	ber := berlin(t)
	var sundays []Backup // 2019-09-01 to 2019-11-17, one every Sunday
	for i, ts := 0, at(t, "2019-09-01 11:00:00", nil); i < 12; i, ts = i+1, ts.AddDate(0, 0, 7) {
		sundays = append(sundays, Backup{ID: fmt.Sprintf("s%02d", i), Time: ts})
	}
	sixWeeks := series(everyDay(at(t, "2026-10-19 02:00:00", nil), at(t, "2026-11-29 02:00:00", nil))...)

	tests := []struct {
		name    string
		now     time.Time
		backups []Backup
		policy  Policy
		want    map[string][]string // kept ID → reasons; everything else deleted
	}{
		{
			// doc/060_forget.rst: one backup every Sunday for 12 weeks,
			// --keep-daily 4 keeps the last four Sundays.
			name:    "restic doc: weekly backups, keep-daily 4",
			now:     at(t, "2019-11-18 00:00:00", nil),
			backups: sundays,
			policy:  Policy{Daily: 4},
			want: map[string][]string{
				"s11": {"daily 2019-11-17", "newest backup"},
				"s10": {"daily 2019-11-10"},
				"s09": {"daily 2019-11-03"},
				"s08": {"daily 2019-10-27"},
			},
		},
		{
			// Daily backups, newest on a Sunday: the seven dailies already
			// hold that week's weekly, so keep-weekly 4 adds three.
			name:    "restic doc: daily and weekly overlap",
			now:     at(t, "2026-11-29 12:00:00", nil),
			backups: sixWeeks,
			policy:  Policy{Daily: 7, Weekly: 4},
			want: map[string][]string{
				idAt(t, sixWeeks, at(t, "2026-11-29 02:00:00", nil)): {"daily 2026-11-29", "weekly 2026-W48", "newest backup"},
				idAt(t, sixWeeks, at(t, "2026-11-28 02:00:00", nil)): {"daily 2026-11-28"},
				idAt(t, sixWeeks, at(t, "2026-11-27 02:00:00", nil)): {"daily 2026-11-27"},
				idAt(t, sixWeeks, at(t, "2026-11-26 02:00:00", nil)): {"daily 2026-11-26"},
				idAt(t, sixWeeks, at(t, "2026-11-25 02:00:00", nil)): {"daily 2026-11-25"},
				idAt(t, sixWeeks, at(t, "2026-11-24 02:00:00", nil)): {"daily 2026-11-24"},
				idAt(t, sixWeeks, at(t, "2026-11-23 02:00:00", nil)): {"daily 2026-11-23"},
				idAt(t, sixWeeks, at(t, "2026-11-22 02:00:00", nil)): {"weekly 2026-W47"},
				idAt(t, sixWeeks, at(t, "2026-11-15 02:00:00", nil)): {"weekly 2026-W46"},
				idAt(t, sixWeeks, at(t, "2026-11-08 02:00:00", nil)): {"weekly 2026-W45"},
			},
		},
		{
			name:    "keep-last counts backups, not periods",
			now:     at(t, "2026-11-29 12:00:00", nil),
			backups: sixWeeks,
			policy:  Policy{Last: 2},
			want: map[string][]string{
				idAt(t, sixWeeks, at(t, "2026-11-29 02:00:00", nil)): {"last", "newest backup"},
				idAt(t, sixWeeks, at(t, "2026-11-28 02:00:00", nil)): {"last"},
			},
		},
		{
			// Europe/Berlin leaves summer time on 2026-10-25: that day has
			// 25 hours, and 00:30 CEST and 23:30 CET, 24 hours apart, are
			// the same day. In UTC they are not (2026-10-24 22:30 and
			// 2026-10-25 22:30).
			name: "25-hour day is one day in the policy's zone",
			now:  at(t, "2026-10-26 12:00:00", ber),
			backups: series(
				at(t, "2026-10-24 12:00:00", ber),
				at(t, "2026-10-25 00:30:00", ber),
				at(t, "2026-10-25 23:30:00", ber),
			),
			policy: Policy{Daily: 2, Location: ber},
			want: map[string][]string{
				"b002": {"daily 2026-10-25", "newest backup"},
				"b000": {"daily 2026-10-24"},
			},
		},
		{
			name: "same backups bucketed in UTC",
			now:  at(t, "2026-10-26 12:00:00", ber),
			backups: series(
				at(t, "2026-10-24 12:00:00", ber),
				at(t, "2026-10-25 00:30:00", ber),
				at(t, "2026-10-25 23:30:00", ber),
			),
			policy: Policy{Daily: 2},
			want: map[string][]string{
				"b002": {"daily 2026-10-25", "newest backup"},
				"b001": {"daily 2026-10-24"},
			},
		},
		{
			// The wall clock shows 02:00–02:59 twice on 2026-10-25 in
			// Berlin (00:00–00:59 and 01:00–01:59 UTC): two hours, each
			// keeping its newest backup, labelled with their offsets.
			name: "repeated wall-clock hour is two hours",
			now:  at(t, "2026-10-25 12:00:00", nil),
			backups: series(
				at(t, "2026-10-24 23:50:00", nil), // 01:50 CEST
				at(t, "2026-10-25 00:10:00", nil), // 02:10 CEST
				at(t, "2026-10-25 00:40:00", nil), // 02:40 CEST
				at(t, "2026-10-25 01:10:00", nil), // 02:10 CET
				at(t, "2026-10-25 01:40:00", nil), // 02:40 CET
			),
			policy: Policy{Hourly: 3, Location: ber},
			want: map[string][]string{
				"b004": {"hourly 2026-10-25T02+01:00", "newest backup"},
				"b002": {"hourly 2026-10-25T02+02:00"},
				"b000": {"hourly 2026-10-25T01"},
			},
		},
		{
			// On 2026-03-29 Berlin skips 02:00–02:59: 01:30 CET and
			// 03:30 CEST are one hour apart but in different hours.
			name: "skipped wall-clock hour",
			now:  at(t, "2026-03-29 12:00:00", nil),
			backups: series(
				at(t, "2026-03-29 01:10:00", ber),
				at(t, "2026-03-29 01:30:00", ber),
				at(t, "2026-03-29 03:30:00", ber),
			),
			policy: Policy{Hourly: 2, Location: ber},
			want: map[string][]string{
				"b002": {"hourly 2026-03-29T03", "newest backup"},
				"b001": {"hourly 2026-03-29T01"},
			},
		},
		{
			// 2026 starts on a Thursday and so has an ISO week 53: Monday
			// 2026-12-28 to Sunday 2027-01-03. 2027-W01 starts on Monday
			// 2027-01-04. Sunday 2027-01-03 is calendar year 2027.
			name: "ISO week 53 across the new year",
			now:  at(t, "2027-01-05 00:00:00", nil),
			backups: series(
				at(t, "2026-12-27 10:00:00", nil), // Sun, 2026-W52
				at(t, "2026-12-28 10:00:00", nil), // Mon, 2026-W53
				at(t, "2027-01-03 10:00:00", nil), // Sun, 2026-W53
				at(t, "2027-01-04 10:00:00", nil), // Mon, 2027-W01
			),
			policy: Policy{Weekly: 3, Yearly: 2},
			want: map[string][]string{
				"b003": {"weekly 2027-W01", "yearly 2027", "newest backup"},
				"b002": {"weekly 2026-W53"},
				"b001": {"yearly 2026"},
				"b000": {"weekly 2026-W52"},
			},
		},
		{
			// 23:30 UTC on Sunday 2027-01-03 is 00:30 on Monday 2027-01-04
			// in Berlin: week 2027-W01 there.
			name: "week boundary in the policy's zone",
			now:  at(t, "2027-01-05 00:00:00", nil),
			backups: series(
				at(t, "2027-01-03 12:00:00", nil),
				at(t, "2027-01-03 23:30:00", nil),
			),
			policy: Policy{Weekly: 2, Location: ber},
			want: map[string][]string{
				"b001": {"weekly 2027-W01", "newest backup"},
				"b000": {"weekly 2026-W53"},
			},
		},
		{
			// Periods follow the policy's zone, not the offset a time was
			// stored with: 20:00 in New York on 2026-06-01 is 02:00 on
			// 2026-06-02 in Berlin.
			name: "stored offset does not matter",
			now:  at(t, "2026-06-03 00:00:00", nil),
			backups: series(
				at(t, "2026-06-01 10:00:00", ber),
				at(t, "2026-06-01 20:00:00", mustZone(t, "America/New_York")),
			),
			policy: Policy{Daily: 2, Location: ber},
			want: map[string][]string{
				"b001": {"daily 2026-06-02", "newest backup"},
				"b000": {"daily 2026-06-01"},
			},
		},
		{
			name: "keep-within is measured from now",
			now:  at(t, "2026-11-29 12:00:00", nil),
			backups: series(
				at(t, "2026-11-26 11:00:00", nil), // 73h old
				at(t, "2026-11-26 13:00:00", nil), // 71h old
				at(t, "2026-11-29 11:00:00", nil), // 1h old
			),
			policy: Policy{Within: 72 * time.Hour},
			want: map[string][]string{
				"b002": {"within 72h0m0s", "newest backup"},
				"b001": {"within 72h0m0s"},
			},
		},
		{
			// restic would keep all three (within 72h of the newest
			// snapshot); measured from now, only the newest survives.
			name: "keep-within after a pause in backups",
			now:  at(t, "2026-12-20 12:00:00", nil),
			backups: series(
				at(t, "2026-11-27 11:00:00", nil),
				at(t, "2026-11-28 11:00:00", nil),
				at(t, "2026-11-29 11:00:00", nil),
			),
			policy: Policy{Within: 72 * time.Hour},
			want: map[string][]string{
				"b002": {"newest backup"},
			},
		},
		{
			name: "a backup dated after now is young",
			now:  at(t, "2026-11-29 12:00:00", nil),
			backups: series(
				at(t, "2026-11-01 12:00:00", nil),
				at(t, "2026-11-29 13:00:00", nil),
			),
			policy: Policy{Within: time.Hour},
			want: map[string][]string{
				"b001": {"within 1h0m0s", "newest backup"},
			},
		},
		{
			// Three backups on one day and keep-daily 5: the day's newest
			// is kept, and daily still has counts left when the history
			// ends, so the oldest backup is kept as well.
			name: "oldest fills a rule with counts left",
			now:  at(t, "2026-11-29 23:00:00", nil),
			backups: series(
				at(t, "2026-11-29 02:00:00", nil),
				at(t, "2026-11-29 08:00:00", nil),
				at(t, "2026-11-29 14:00:00", nil),
			),
			policy: Policy{Daily: 5, Yearly: 2},
			want: map[string][]string{
				"b002": {"daily 2026-11-29", "yearly 2026", "newest backup"},
				"b000": {"oldest fills daily", "oldest fills yearly"},
			},
		},
		{
			name: "no fill once a rule's count is used up",
			now:  at(t, "2026-11-29 23:00:00", nil),
			backups: series(
				at(t, "2026-11-28 02:00:00", nil),
				at(t, "2026-11-29 08:00:00", nil),
				at(t, "2026-11-29 14:00:00", nil),
			),
			policy: Policy{Daily: 2},
			want: map[string][]string{
				"b002": {"daily 2026-11-29", "newest backup"},
				"b000": {"daily 2026-11-28"},
			},
		},
		{
			// Pre-import snapshots neither count for nor are counted by
			// the keep rules: keep-last 1 keeps the newest scheduled
			// backup although two pre-import snapshots are newer.
			name: "pre-import snapshots are their own class",
			now:  at(t, "2026-11-29 12:00:00", nil),
			backups: []Backup{
				{ID: "s1", Time: at(t, "2026-11-20 02:00:00", nil)},
				{ID: "s2", Time: at(t, "2026-11-21 02:00:00", nil)},
				{ID: "p1", Time: at(t, "2026-09-01 09:00:00", nil), PreImport: true}, // 89 days old
				{ID: "p2", Time: at(t, "2026-11-01 09:00:00", nil), PreImport: true}, // 28 days old
				{ID: "p3", Time: at(t, "2026-11-28 09:00:00", nil), PreImport: true},
				{ID: "p4", Time: at(t, "2026-11-29 09:00:00", nil), PreImport: true},
			},
			policy: Policy{Last: 1, PreImport: 720 * time.Hour},
			want: map[string][]string{
				"s2": {"last", "newest backup"},
				"p4": {"pre-import within 720h0m0s", "newest pre-import"},
				"p3": {"pre-import within 720h0m0s"},
				"p2": {"pre-import within 720h0m0s"},
			},
		},
		{
			name: "newest pre-import snapshot is kept whatever its age",
			now:  at(t, "2026-11-29 12:00:00", nil),
			backups: []Backup{
				{ID: "p1", Time: at(t, "2025-01-01 09:00:00", nil), PreImport: true},
				{ID: "p2", Time: at(t, "2025-02-01 09:00:00", nil), PreImport: true},
				{ID: "s1", Time: at(t, "2026-11-29 02:00:00", nil)},
			},
			policy: Policy{Last: 3, PreImport: 720 * time.Hour},
			want: map[string][]string{
				"s1": {"last", "newest backup"},
				"p2": {"newest pre-import"},
			},
		},
		{
			name: "newest backup is kept when no rule keeps it",
			now:  at(t, "2026-11-29 12:00:00", nil),
			backups: series(
				at(t, "2026-01-01 02:00:00", nil),
				at(t, "2026-02-01 02:00:00", nil),
			),
			policy: Policy{Within: time.Hour},
			want: map[string][]string{
				"b001": {"newest backup"},
			},
		},
		{
			name: "empty policy keeps everything",
			now:  at(t, "2026-11-29 12:00:00", nil),
			backups: []Backup{
				{ID: "s1", Time: at(t, "2020-01-01 02:00:00", nil)},
				{ID: "s2", Time: at(t, "2021-01-01 02:00:00", nil)},
				{ID: "p1", Time: at(t, "2019-01-01 02:00:00", nil), PreImport: true},
			},
			policy: Policy{Location: ber},
			want: map[string][]string{
				"s1": {"empty policy"},
				"s2": {"empty policy"},
				"p1": {"empty policy"},
			},
		},
		{
			name: "no keep rule keeps every scheduled backup",
			now:  at(t, "2026-11-29 12:00:00", nil),
			backups: []Backup{
				{ID: "s1", Time: at(t, "2020-01-01 02:00:00", nil)},
				{ID: "s2", Time: at(t, "2021-01-01 02:00:00", nil)},
				{ID: "p1", Time: at(t, "2019-01-01 02:00:00", nil), PreImport: true},
				{ID: "p2", Time: at(t, "2019-02-01 02:00:00", nil), PreImport: true},
			},
			policy: Policy{PreImport: time.Hour},
			want: map[string][]string{
				"s1": {"no keep rule set"},
				"s2": {"no keep rule set"},
				"p2": {"newest pre-import"},
			},
		},
		{
			name: "negative counts and durations are zero",
			now:  at(t, "2026-11-29 12:00:00", nil),
			backups: series(
				at(t, "2026-11-27 02:00:00", nil),
				at(t, "2026-11-28 02:00:00", nil),
				at(t, "2026-11-29 02:00:00", nil),
			),
			policy: Policy{Last: 1, Daily: -3, Within: -time.Hour},
			want: map[string][]string{
				"b002": {"last", "newest backup"},
			},
		},
		{
			name: "equal times are ordered by ID",
			now:  at(t, "2026-11-29 12:00:00", nil),
			backups: []Backup{
				{ID: "a", Time: at(t, "2026-11-29 02:00:00", nil)},
				{ID: "c", Time: at(t, "2026-11-29 02:00:00", nil)},
				{ID: "b", Time: at(t, "2026-11-29 02:00:00", nil)},
			},
			policy: Policy{Last: 2},
			want: map[string][]string{
				"c": {"last", "newest backup"},
				"b": {"last"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Select(tt.now, tt.backups, tt.policy)
			if diff := cmp.Diff(tt.want, keptReasons(got)); diff != "" {
				t.Errorf("Select(...) kept reasons mismatch (-want +got):\n%s", diff)
			}
			if len(got) != len(tt.backups) {
				t.Fatalf("Select(...) returned %d decisions for %d backups", len(got), len(tt.backups))
			}
			for _, d := range got {
				if !d.Keep && !slices.Equal(d.Reasons, []string{"no rule keeps it"}) {
					t.Errorf("deleted %s has reasons %q, want [no rule keeps it]", d.Backup.ID, d.Reasons)
				}
			}
		})
	}
}

func mustZone(tb testing.TB, name string) *time.Location {
	tb.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		tb.Skipf("time zone database unavailable: %v", err)
	}
	return loc
}

// TestSelectHundredYears follows doc/060_forget.rst: one backup a day for
// 100 years and --keep-daily 7 --keep-weekly 5 --keep-monthly 12
// --keep-yearly 75 keeps 7 dailies, 4 more weeklies (the dailies hold one),
// 12 or 11 more monthlies and 75 or 74 more yearlies.
func TestSelectHundredYears(t *testing.T) {
	last := at(t, "2026-11-29 03:00:00", nil) // a Sunday, not a month's end
	first := last.AddDate(-100, 0, 1)
	backups := series(everyDay(first, last)...)
	p := Policy{Daily: 7, Weekly: 5, Monthly: 12, Yearly: 75}

	got := Select(last.Add(time.Hour), backups, p)

	perRule := map[string]int{}
	kept := 0
	for _, d := range got {
		if !d.Keep {
			continue
		}
		kept++
		for _, r := range d.Reasons {
			perRule[strings.Fields(r)[0]]++
		}
	}
	wantPerRule := map[string]int{"daily": 7, "weekly": 5, "monthly": 12, "yearly": 75, "newest": 1}
	if diff := cmp.Diff(wantPerRule, perRule); diff != "" {
		t.Errorf("Select(...) reasons per rule mismatch (-want +got):\n%s", diff)
	}
	// Dailies 11-23..11-29; weeklies add 11-22, 11-15, 11-08, 11-01;
	// monthlies add 10-31 back to 2025-12-31 (11, as 11-29 is one);
	// yearlies add 2024-12-31 back to 1952-12-31 (73, as 2026-11-29 and
	// 2025-12-31 are two).
	if want := 7 + 4 + 11 + 73; kept != want {
		t.Errorf("Select(...) kept %d backups, want %d", kept, want)
	}
	oldestYearly := at(t, "1952-12-31 03:00:00", nil)
	for _, d := range got {
		if d.Backup.Time.Before(oldestYearly) && d.Keep {
			t.Errorf("Select(...) kept %v (%q), older than the 75th yearly", d.Backup.Time, d.Reasons)
		}
	}
}

func TestSelectOrder(t *testing.T) {
	now := at(t, "2026-11-29 12:00:00", nil)
	backups := []Backup{
		{ID: "b", Time: at(t, "2026-11-28 02:00:00", nil)},
		{ID: "d", Time: at(t, "2026-11-29 02:00:00", nil)},
		{ID: "p", Time: at(t, "2026-11-28 12:00:00", nil), PreImport: true},
		{ID: "a", Time: at(t, "2026-11-27 02:00:00", nil)},
		{ID: "c", Time: at(t, "2026-11-29 02:00:00", nil)},
	}
	input := slices.Clone(backups)
	got := Select(now, backups, Policy{Last: 1})
	var ids []string
	for _, d := range got {
		ids = append(ids, d.Backup.ID)
	}
	if want := []string{"d", "c", "p", "b", "a"}; !slices.Equal(ids, want) {
		t.Errorf("Select(...) order = %v, want %v", ids, want)
	}
	if !slices.Equal(backups, input) {
		t.Errorf("Select modified its input: %v, was %v", backups, input)
	}
	if got := Select(now, nil, Policy{Last: 1}); len(got) != 0 {
		t.Errorf("Select(no backups) = %v, want none", got)
	}
}

func TestPolicyEmpty(t *testing.T) {
	tests := []struct {
		p    Policy
		want bool
	}{
		{Policy{}, true},
		{Policy{Location: time.Local}, true},
		{Policy{Last: -1, Within: -time.Second}, true},
		{Policy{Last: 1}, false},
		{Policy{Yearly: 1}, false},
		{Policy{Within: time.Second}, false},
		{Policy{PreImport: time.Second}, false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%+v", tt.p), func(t *testing.T) {
			if got := tt.p.Empty(); got != tt.want {
				t.Errorf("%+v.Empty() = %v, want %v", tt.p, got, tt.want)
			}
		})
	}
}

// A reason slice returned by Select must be safe to append to.
func TestSelectReasonsIndependent(t *testing.T) {
	now := at(t, "2026-11-29 12:00:00", nil)
	got := Select(now, series(at(t, "2026-11-28 02:00:00", nil), at(t, "2026-11-29 02:00:00", nil)), Policy{Last: 2})
	_ = append(got[0].Reasons, "extra")
	if !slices.Equal(got[1].Reasons, []string{"last"}) {
		t.Errorf("appending to one decision's reasons changed another's: %q", got[1].Reasons)
	}
}

// checkProperties asserts what every Select result must satisfy.
func checkProperties(t *testing.T, now time.Time, backups []Backup, p Policy, rng *rand.Rand) {
	t.Helper()
	got := Select(now, backups, p)
	if len(got) != len(backups) {
		t.Fatalf("Select(...) returned %d decisions for %d backups", len(got), len(backups))
	}

	var regular, keptRegular int
	var kept []Backup
	for i, d := range got {
		if i > 0 && compareNewestFirst(got[i-1].Backup, d.Backup) > 0 {
			t.Fatalf("Select(...) result not sorted newest first at %d", i)
		}
		if d.Keep {
			kept = append(kept, d.Backup)
			if len(d.Reasons) == 0 {
				t.Errorf("kept backup %s has no reason", d.Backup.ID)
			}
		} else if !slices.Equal(d.Reasons, []string{reasonDeleted}) {
			t.Errorf("deleted backup %s has reasons %q", d.Backup.ID, d.Reasons)
		}
		if d.Backup.PreImport {
			continue
		}
		if regular == 0 && !d.Keep {
			t.Errorf("newest backup %s (%v) deleted", d.Backup.ID, d.Backup.Time)
		}
		regular++
		if d.Keep {
			keptRegular++
		}
	}
	if want := min(max(p.Last, 0), regular); keptRegular < want {
		t.Errorf("Select(...) kept %d scheduled backups, want at least keep_last %d", keptRegular, want)
	}

	// Shuffled input, same decisions.
	shuffled := slices.Clone(backups)
	rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	again := Select(now, shuffled, p)
	if diff := cmp.Diff(summarize(got), summarize(again)); diff != "" {
		t.Errorf("Select(...) depends on input order (-first +shuffled):\n%s", diff)
	}

	// Selecting over the kept set keeps all of it.
	for _, d := range Select(now, kept, p) {
		if !d.Keep {
			t.Errorf("second Select(...) deletes %s (%v), kept by the first for %q",
				d.Backup.ID, d.Backup.Time, reasonsOf(got, d.Backup))
		}
	}
}

func summarize(ds []Decision) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = fmt.Sprintf("%s %d %v %v %q", d.Backup.ID, d.Backup.Time.UnixNano(), d.Backup.PreImport, d.Keep, d.Reasons)
	}
	return out
}

func reasonsOf(ds []Decision, b Backup) []string {
	for _, d := range ds {
		if d.Backup == b {
			return d.Reasons
		}
	}
	return nil
}

var propertyZones = []string{"UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "Pacific/Apia"}

// policyFrom builds a policy from small numbers.
func policyFrom(tb testing.TB, last, hourly, daily, weekly, monthly, yearly int, within, preImport time.Duration, zone uint8) Policy {
	loc, err := time.LoadLocation(propertyZones[int(zone)%len(propertyZones)])
	if err != nil {
		tb.Skipf("time zone database unavailable: %v", err)
	}
	return Policy{
		Last: last, Hourly: hourly, Daily: daily, Weekly: weekly, Monthly: monthly, Yearly: yearly,
		Within: within, PreImport: preImport, Location: loc,
	}
}

// TestSelectProperties checks the properties over random histories.
func TestSelectProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	base := at(t, "2026-10-20 00:00:00", nil)
	for i := range 300 {
		n := rng.IntN(60)
		// Steps from minutes to weeks, so every rule meets several periods.
		step := []time.Duration{17 * time.Minute, 5 * time.Hour, 31 * time.Hour, 8 * 24 * time.Hour}[rng.IntN(4)]
		backups := make([]Backup, n)
		for j := range backups {
			backups[j] = Backup{
				ID:        fmt.Sprintf("%02d", rng.IntN(100)),
				Time:      base.Add(-time.Duration(rng.Int64N(int64(step)*int64(n+1))) + time.Duration(rng.IntN(3))*step),
				PreImport: rng.IntN(5) == 0,
			}
		}
		p := policyFrom(t, rng.IntN(5)-1, rng.IntN(6), rng.IntN(6), rng.IntN(4), rng.IntN(4), rng.IntN(3),
			time.Duration(rng.IntN(3))*step*4, time.Duration(rng.IntN(3))*step*6, uint8(rng.IntN(len(propertyZones))))
		now := base.Add(time.Duration(rng.IntN(48)) * time.Hour)
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			checkProperties(t, now, backups, p, rng)
		})
	}
}

// FuzzSelect checks the properties over arbitrary histories: each 9 bytes
// of data are one backup (8 bytes of seconds from 2026-11-29, low bit of the
// ninth its class, the rest its ID).
func FuzzSelect(f *testing.F) {
	f.Add(uint8(7), uint8(0), uint8(14), uint8(8), uint8(12), uint8(0), uint16(0), uint16(720), uint8(0),
		[]byte("\x00\x00\x00\x00\x00\x01\x51\x80\x02\x00\x00\x00\x00\x00\x02\xa3\x00\x04\xff\xff\xff\xff\xff\xfe\xae\x80\x07"))
	f.Add(uint8(0), uint8(3), uint8(0), uint8(0), uint8(0), uint8(0), uint16(0), uint16(0), uint8(1),
		[]byte("\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x0e\x10\x00\x00\x00\x00\x00\x00\x00\x1c\x20\x01"))
	f.Add(uint8(1), uint8(0), uint8(5), uint8(2), uint8(0), uint8(2), uint16(72), uint16(24), uint8(2), []byte{})
	f.Add(uint8(2), uint8(0), uint8(0), uint8(3), uint8(0), uint8(0), uint16(0), uint16(0), uint8(3),
		[]byte("\x7f\xff\xff\xff\xff\xff\xff\xff\x00\x80\x00\x00\x00\x00\x00\x00\x00\x03"))
	f.Fuzz(func(t *testing.T, last, hourly, daily, weekly, monthly, yearly uint8, withinHours, preImportHours uint16, zone uint8, data []byte) {
		const rec = 9
		if len(data) > 200*rec {
			data = data[:200*rec]
		}
		base := time.Date(2026, 11, 29, 2, 0, 0, 0, time.UTC)
		var backups []Backup
		for i := 0; i+rec <= len(data); i += rec {
			var s int64
			for _, c := range data[i : i+8] {
				s = s<<8 | int64(c)
			}
			s %= 1 << 40 // about ±35,000 years around base
			backups = append(backups, Backup{
				ID:        fmt.Sprintf("%02x", data[i+8]>>1),
				Time:      time.Unix(base.Unix()+s, 0),
				PreImport: data[i+8]&1 == 1,
			})
		}
		p := policyFrom(t, int(last%16), int(hourly%16), int(daily%16), int(weekly%16), int(monthly%16), int(yearly%16),
			time.Duration(withinHours)*time.Hour, time.Duration(preImportHours)*time.Hour, zone)
		checkProperties(t, base, backups, p, rand.New(rand.NewPCG(uint64(len(data)), 7)))
	})
}

// BenchmarkSelect measures Select over 100,000 hourly backups of one
// environment (about eleven years) under the default policy.
func BenchmarkSelect(b *testing.B) {
	loc := berlin(b)
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	backups := make([]Backup, 100_000)
	for i := range backups {
		backups[i] = Backup{
			ID:        fmt.Sprintf("%026d", i),
			Time:      now.Add(-time.Duration(i) * time.Hour),
			PreImport: i%500 == 0,
		}
	}
	rand.New(rand.NewPCG(3, 4)).Shuffle(len(backups), func(i, j int) { backups[i], backups[j] = backups[j], backups[i] })
	p := Policy{Last: 7, Daily: 14, Weekly: 8, Monthly: 12, PreImport: 720 * time.Hour, Location: loc}
	b.ReportAllocs()
	for b.Loop() {
		Select(now, backups, p)
	}
}

// TestSelectKeepsPinned: a pinned backup outlives every rule, and a pinned
// pre-import snapshot outlives its age limit.
func TestSelectKeepsPinned(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	backups := []Backup{
		{ID: "a", Time: now.Add(-1 * time.Hour)},
		{ID: "b", Time: now.Add(-2 * time.Hour)},
		{ID: "c", Time: now.Add(-3 * time.Hour), Pinned: true},
		{ID: "d", Time: now.Add(-4 * time.Hour)},
		{ID: "p1", Time: now.Add(-1 * time.Hour), PreImport: true},
		{ID: "p2", Time: now.Add(-2000 * time.Hour), PreImport: true, Pinned: true},
		{ID: "p3", Time: now.Add(-3000 * time.Hour), PreImport: true},
	}
	got := map[string][]string{}
	for _, d := range Select(now, backups, Policy{Last: 1, PreImport: 24 * time.Hour}) {
		if d.Keep {
			got[d.Backup.ID] = d.Reasons
		}
	}
	want := map[string][]string{
		"a":  {"last", "newest backup"},
		"c":  {"pinned"},
		"p1": {"pre-import within 24h0m0s", "newest pre-import"},
		"p2": {"pinned"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Select kept (-want +got):\n%s", diff)
	}
}
