package scheduler

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"testing/synctest"
	"time"
)

func fleetEnvs(tb testing.TB, n int) []Env {
	tb.Helper()
	daily := mustCron(tb, "0 2 * * *")
	envs := make([]Env, n)
	for i := range envs {
		envs[i] = Env{Site: fmt.Sprintf("site%04d", i), Name: "production", Schedule: daily, Location: time.UTC, Jitter: 30 * time.Minute}
	}
	return envs
}

// TestScaleThousandEnvironments: a fleet of 1,000 environments that have
// never been backed up, on the default budget of 10 exports an hour. Every
// one is caught up once, in order, 10 every 61 minutes, never more than 10
// in a window; the last starts 99 windows and 8 intervals after the first.
func TestScaleThousandEnvironments(t *testing.T) {
	const n = 1000
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		h := newHarness(t, Options{Envs: fleetEnvs(t, n), DBOpsPerHour: 10, LastSuccess: lastSuccessAt(time.Time{})})
		h.f.instant = true
		h.start()
		if _, queued := h.obs.jobs(); queued != n-Burst(10) {
			t.Fatalf("after the first pass: %d queued, want %d (all but the burst)", queued, n-Burst(10))
		}
		seen := map[string]bool{}
		var adm []time.Duration
		for range n {
			r := h.next()
			if seen[r.Site] {
				t.Fatalf("%s admitted twice before every environment was caught up", r.Site)
			}
			seen[r.Site] = true
			adm = append(adm, r.admittedAt.Sub(t0))
		}
		slices.Sort(adm)
		checkWindow(t, 10, adm)
		want := 99*w + 8*i10
		if last := adm[n-1]; last != want {
			t.Fatalf("last of %d admitted after %v, want %v", n, last, want)
		}
		t.Logf("%d environments caught up in %v of virtual time (budget 10/h)", n, adm[n-1])
	})
}

// BenchmarkFirstPass measures New and Run's first pass (schedules, catch-up
// checks, queuing) for 1,000 environments.
func BenchmarkFirstPass(b *testing.B) {
	envs := fleetEnvs(b, 1000)
	for b.Loop() {
		obs := &firstPass{done: make(chan struct{}), want: len(envs)}
		s, err := New(Options{
			Envs: envs, DBOpsPerHour: 10, Exports: 4, Downloads: 2,
			Runner:      func(context.Context, Job, func(string)) (string, error) { return "b", nil },
			LastSuccess: lastSuccessAt(time.Time{}),
			Observer:    obs,
		})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx) }()
		<-obs.done
		cancel()
		<-done
		s.Shutdown(context.Background())
	}
}

// firstPass is an Observer that signals once every environment's catch-up
// job is queued (all but the burst admitted at once).
type firstPass struct {
	done     chan struct{}
	want     int
	signaled bool
}

func (f *firstPass) SetJobs(running, queued int) {
	if !f.signaled && queued >= f.want-Burst(10) {
		f.signaled = true
		close(f.done)
	}
}
func (f *firstPass) SetSchedule(string, string, time.Time, time.Duration) {}
func (f *firstPass) Forget(string, string)                                {}
