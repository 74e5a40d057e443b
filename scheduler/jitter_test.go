package scheduler

import (
	"fmt"
	"testing"
	"time"

	"github.com/robfig/cron/v3"
)

func TestOffsetStableAndBounded(t *testing.T) {
	jitter := 30 * time.Minute
	seen := map[time.Duration]bool{}
	for _, env := range []string{"development", "production", "staging", "qa"} {
		a, b := Offset("acme", env, jitter), Offset("acme", env, jitter)
		if a != b {
			t.Fatalf("Offset(acme, %s) = %v then %v, want stable", env, a, b)
		}
		if a < 0 || a >= jitter {
			t.Fatalf("Offset(acme, %s) = %v, want in [0, %v)", env, a, jitter)
		}
		seen[a] = true
	}
	if len(seen) < 2 {
		t.Fatalf("four environments share one offset: %v", seen)
	}
	// The pair (site, env) is hashed with a separator: "ab"+"c" ≠ "a"+"bc".
	if Offset("ab", "c", time.Hour) == Offset("a", "bc", time.Hour) {
		t.Fatal("Offset does not separate site and environment names")
	}
	if got := Offset("acme", "production", 0); got != 0 {
		t.Fatalf("Offset with no jitter = %v, want 0", got)
	}
}

func TestNextHonoursZoneAndOffset(t *testing.T) {
	s, err := cron.ParseStandard("0 2 * * *")
	if err != nil {
		t.Fatal(err)
	}
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skipf("no tz database: %v", err)
	}
	from := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	got := NextN(s, berlin, 7*time.Minute, from, 3)
	want := []time.Time{
		time.Date(2026, 11, 29, 1, 7, 0, 0, time.UTC), // 02:07 CET
		time.Date(2026, 11, 30, 1, 7, 0, 0, time.UTC),
		time.Date(2026, 12, 1, 1, 7, 0, 0, time.UTC),
	}
	for i := range want {
		if !got[i].Equal(want[i]) {
			t.Fatalf("NextN(...)[%d] = %v, want %v", i, got[i], want[i])
		}
	}
	// A time inside the jitter window of today's run still gets today's run.
	inWindow := time.Date(2026, 11, 29, 1, 3, 0, 0, time.UTC)
	if got := Next(s, berlin, 7*time.Minute, inWindow); !got.Equal(want[0]) {
		t.Fatalf("Next(in window) = %v, want %v", got, want[0])
	}
}

func TestInterval(t *testing.T) {
	for _, tc := range []struct {
		spec string
		want time.Duration
	}{
		{"0 2 * * *", 24 * time.Hour},
		{"0 */6 * * *", 6 * time.Hour},
		{"@every 90s", 90 * time.Second},
		{"@hourly", time.Hour},
	} {
		s, err := cron.ParseStandard(tc.spec)
		if err != nil {
			t.Fatal(err)
		}
		if got := Interval(s, time.UTC, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)); got != tc.want {
			t.Errorf("Interval(%q) = %v, want %v", tc.spec, got, tc.want)
		}
	}
}

// TestEveryIsSpreadByJitter: @every schedules get each environment its own
// phase, stable across restarts, rather than all running together.
func TestEveryIsSpreadByJitter(t *testing.T) {
	s, err := cron.ParseStandard("@every 2m")
	if err != nil {
		t.Fatal(err)
	}
	from := time.Date(2026, 11, 28, 12, 0, 7, 0, time.UTC)
	seconds := map[time.Time]bool{}
	for i := range 200 {
		off := Offset("site", fmt.Sprint(i), 30*time.Minute)
		next := Next(s, time.UTC, off, from)
		if !next.After(from) || next.Sub(from) > 2*time.Minute {
			t.Fatalf("Next(@every 2m, offset %v) = %v, want within 2m after %v", off, next, from)
		}
		// Stable: asking again from a later instant in the same period
		// gives the same run; the run after it is one delay later.
		if again := Next(s, time.UTC, off, from.Add(time.Second)); next.Sub(from) > time.Second && !again.Equal(next) {
			t.Fatalf("Next moved from %v to %v", next, again)
		}
		if after := Next(s, time.UTC, off, next); !after.Equal(next.Add(2 * time.Minute)) {
			t.Fatalf("run after %v = %v, want one delay later", next, after)
		}
		seconds[next.Truncate(time.Second)] = true
	}
	if len(seconds) < 60 {
		t.Errorf("200 environments' next @every 2m runs fall on %d distinct seconds, want them spread", len(seconds))
	}
}
