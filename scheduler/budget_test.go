package scheduler

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// admitAll admits requests arriving at the given offsets, first come first
// served, each as early as the budget allows, and returns the admission
// offsets.
func admitAll(b *budget, t0 time.Time, arrivals []time.Duration) []time.Duration {
	var out []time.Duration
	var prev time.Time
	for _, a := range arrivals {
		t := t0.Add(a)
		if t.Before(prev) {
			t = prev
		}
		t = b.next(t)
		b.take(t)
		prev = t
		out = append(out, t.Sub(t0))
	}
	return out
}

func repeat(d time.Duration, n int) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = d
	}
	return out
}

func TestBudgetAdmissionTimes(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)
	i60 := 61 * time.Second
	for _, tc := range []struct {
		name     string
		perHour  int
		arrivals []time.Duration
		want     []time.Duration
	}{
		{"10 an hour: a burst of 2, then one every 6m6s, 10 per 61m", 10, repeat(0, 13),
			[]time.Duration{0, 0, i10, 2 * i10, 3 * i10, 4 * i10, 5 * i10, 6 * i10, 7 * i10, 8 * i10, w, w, w + i10}},
		{"1 an hour: one per 61m", 1, repeat(0, 3), []time.Duration{0, w, 2 * w}},
		{"60 an hour: a burst of 12, then one every 61s", 60, repeat(0, 14),
			append(repeat(0, 12), i60, 2*i60)},
		{"spread arrivals wait for nothing", 10, []time.Duration{0, 10 * time.Minute, 20 * time.Minute, 30 * time.Minute},
			[]time.Duration{0, 10 * time.Minute, 20 * time.Minute, 30 * time.Minute}},
		{"the burst refills after a quiet spell", 10, []time.Duration{0, 0, 0, 3 * time.Hour, 3 * time.Hour, 3 * time.Hour},
			[]time.Duration{0, 0, i10, 3 * time.Hour, 3 * time.Hour, 3*time.Hour + i10}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := admitAll(newBudget(tc.perHour, nil), t0, tc.arrivals)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("admissions (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBudgetCountsRecentOperations(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)
	// A predecessor sent 10 requests in the last hour: nothing more until
	// the oldest leaves the window.
	var spent []time.Time
	for i := range 10 {
		spent = append(spent, t0.Add(-time.Hour+time.Duration(i)*5*time.Minute))
	}
	b := newBudget(10, spent)
	if got, want := b.next(t0), t0.Add(-time.Hour+w); !got.Equal(want) {
		t.Fatalf("next = %v, want %v", got, want)
	}
	if got := newBudget(10, []time.Time{t0.Add(-3 * time.Hour)}).next(t0); !got.Equal(t0) {
		t.Fatalf("an old operation delays the next to %v", got)
	}
}

// checkWindow fails if more than perHour admissions fall within one
// BudgetWindow, or admissions go back in time.
func checkWindow(tb testing.TB, perHour int, adm []time.Duration) {
	tb.Helper()
	for i := range adm {
		if i > 0 && adm[i] < adm[i-1] {
			tb.Fatalf("admission %d at %v before admission %d at %v", i, adm[i], i-1, adm[i-1])
		}
		if j := i + perHour; j < len(adm) && adm[j]-adm[i] < BudgetWindow {
			tb.Fatalf("admissions %d..%d within %v: %d in one window, budget %d", i, j, adm[j]-adm[i], perHour+1, perHour)
		}
	}
}

func FuzzBudget(f *testing.F) {
	f.Add(uint8(10), []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add(uint8(1), []byte{0, 200, 3, 90})
	f.Add(uint8(60), []byte{0, 1, 2, 3, 255, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add(uint8(7), []byte{61, 61, 61, 61, 61, 61, 61, 61, 61, 61, 61, 61})
	f.Fuzz(func(t *testing.T, perHour uint8, gaps []byte) {
		if perHour == 0 || len(gaps) > 2000 {
			return
		}
		var arrivals []time.Duration
		var at time.Duration
		for _, g := range gaps {
			at += time.Duration(g) * time.Minute / 4
			arrivals = append(arrivals, at)
		}
		adm := admitAll(newBudget(int(perHour), nil), time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), arrivals)
		checkWindow(t, int(perHour), adm)
		// Nobody waits while the budget is unused: an admission later than
		// its arrival follows a recent one.
		for i, a := range adm {
			if a > arrivals[i] && i > 0 && a-adm[i-1] > BudgetWindow {
				t.Fatalf("admission %d at %v, %v after the previous one", i, a, a-adm[i-1])
			}
		}
	})
}

func TestBudgetReport(t *testing.T) {
	from := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	fleet := func(n int, spec string) []Env {
		var envs []Env
		for i := range n {
			envs = append(envs, env(t, "fleet", fmt.Sprintf("e%02d", i), spec, 0))
		}
		return envs
	}
	at := func(hh, mm, ss int) time.Time { return time.Date(2026, 3, 1, hh, mm, ss, 0, time.UTC) }
	for _, tc := range []struct {
		name    string
		envs    []Env
		perHour int
		want    []Pressure
	}{
		{"ten nightly backups fit", fleet(10, "0 2 * * *"), 10, nil},
		{"fifteen nightly backups", fleet(15, "0 2 * * *"), 10, []Pressure{{
			Start: at(2, 0, 0), End: at(3, 0, 0), Due: 15, Budget: 10,
			LastStart: at(2, 0, 0).Add(w + 3*i10), // 03:19:18
		}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, BudgetReport(tc.envs, tc.perHour, from)); diff != "" {
				t.Errorf("BudgetReport (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("every five minutes on one an hour", func(t *testing.T) {
		// 12 runs due each hour, one admitted every 61 minutes: every hour
		// is reported, and the runs due while one waits are skipped.
		got := BudgetReport(fleet(1, "*/5 * * * *"), 1, from)
		if len(got) != 24 {
			t.Fatalf("BudgetReport reported %d hours, want 24", len(got))
		}
		want := Pressure{Start: at(0, 0, 0), End: at(1, 0, 0), Due: 12, Budget: 1, LastStart: at(1, 1, 0), Skipped: 10}
		if diff := cmp.Diff(want, got[0]); diff != "" {
			t.Fatalf("first hour (-want +got):\n%s", diff)
		}
	})
	if got := BudgetReport(fleet(3, "@daily"), 0, from); got != nil {
		t.Errorf("BudgetReport(no budget) = %v, want nil", got)
	}
}
