package scheduler

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/builtfast/vectord/catalog"
)

const (
	day = 24 * time.Hour
	// Admission spacing and window for the default budget of 10 an hour.
	i10 = 6*time.Minute + 6*time.Second
	w   = BudgetWindow
)

func lastSuccessAt(t time.Time) func(string, string) time.Time {
	return func(string, string) time.Time { return t }
}

func TestJitterStableAcrossRestarts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		e := env(t, "acme", "production", "0 2 * * *", 30*time.Minute)
		off := Offset("acme", "production", 30*time.Minute)
		if off == 0 {
			t.Fatal("Offset(acme, production, 30m) = 0; the test needs a jitter")
		}
		key := envKey{"acme", "production"}

		h := newHarness(t, Options{Envs: []Env{e}, LastSuccess: lastSuccessAt(t0)}).start()
		if got, want := h.obs.nextRun(key), t0.Add(2*time.Hour+off); !got.Equal(want) {
			t.Fatalf("first scheduler: next run %v, want %v", got, want)
		}
		for d := range 2 {
			h.expect("acme", "production", t0.Add(time.Duration(d)*day+2*time.Hour+off)).finish("b", nil)
		}
		h.stop()

		// A restart later in the day: the new scheduler keeps the same
		// minute for the environment.
		time.Sleep(3 * time.Hour)
		h2 := newHarness(t, Options{Envs: []Env{e}, LastSuccess: lastSuccessAt(t0.Add(day + 2*time.Hour + off))}).start()
		want := t0.Add(2*day + 2*time.Hour + off)
		if got := h2.obs.nextRun(key); !got.Equal(want) {
			t.Fatalf("restarted scheduler: next run %v, want %v", got, want)
		}
		h2.expect("acme", "production", want).finish("b", nil)
	})
}

func TestNoOverlapForOneEnvironment(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		h := newHarness(t, Options{
			Envs:        []Env{env(t, "acme", "production", "@every 10m", 0)},
			LastSuccess: lastSuccessAt(t0),
		}).start()
		r := h.expect("acme", "production", t0.Add(10*time.Minute))
		time.Sleep(25 * time.Minute) // runs due at 20m and 30m find it running
		h.quiet()
		if n := strings.Count(h.logs.String(), "scheduled backup skipped"); n != 2 {
			t.Errorf("logged %d skipped runs, want 2:\n%s", n, h.logs)
		}
		r.finish("b1", nil)
		h.expect("acme", "production", t0.Add(40*time.Minute)).finish("b2", nil)
		if h.f.overlap {
			t.Error("two jobs of one environment ran at once")
		}
	})
}

func TestManualJobsGoBeforeScheduled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		h := newHarness(t, Options{
			Envs: []Env{
				env(t, "a", "e1", "0 2 * * *", 0), env(t, "a", "e2", "0 2 * * *", 0),
				env(t, "a", "e3", "0 2 * * *", 0), env(t, "a", "e4", "0 2 * * *", 0),
			},
			DBOpsPerHour: 1, // one admission every 61 minutes
			LastSuccess: func(_, env string) time.Time {
				if env == "e4" {
					return t0
				}
				return time.Time{} // e1, e2, e3 are caught up at start
			},
		}).start()
		h.expect("a", "e1", t0).finish("b", nil)
		time.Sleep(time.Minute)
		id, err := h.s.Submit("a", "e4", catalog.TriggerManual, "before the release")
		if err != nil {
			t.Fatal(err)
		}
		r := h.expect("a", "e4", t0.Add(w))
		if r.ID != id || r.Trigger != catalog.TriggerManual || r.Reason != "before the release" {
			t.Fatalf("manual job started as %+v, want id %s, trigger manual and its reason", r.Job, id)
		}
		r.finish("b", nil)
		h.expect("a", "e2", t0.Add(2*w)).finish("b", nil)
		h.expect("a", "e3", t0.Add(3*w)).finish("b", nil)
	})
}

func TestManualTakesOverWaitingScheduledJob(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		h := newHarness(t, Options{
			Envs: []Env{
				env(t, "a", "e1", "0 2 * * *", 0), env(t, "a", "e2", "0 2 * * *", 0), env(t, "a", "e3", "0 2 * * *", 0),
			},
			DBOpsPerHour: 1,
			LastSuccess:  lastSuccessAt(time.Time{}),
		}).start()
		e1 := h.expect("a", "e1", t0)
		if running, queued := h.obs.jobs(); running != 1 || queued != 2 {
			t.Fatalf("SetJobs(%d, %d), want (1, 2)", running, queued)
		}

		time.Sleep(time.Minute)
		id, err := h.s.Submit("a", "e3", catalog.TriggerManual, "before deploy")
		if err != nil {
			t.Fatal(err)
		}
		st := h.status(id)
		if st.Trigger != catalog.TriggerManual || st.Reason != "before deploy" || !st.QueuedAt.Equal(t0) || st.State != catalog.JobQueued {
			t.Fatalf("after take-over: %+v, want the job queued at start, now manual with the reason", st)
		}
		if _, queued := h.obs.jobs(); queued != 2 {
			t.Fatalf("queued = %d after take-over, want still 2", queued)
		}
		// Joining it again changes nothing; a pre-import request upgrades it.
		if again, _ := h.s.Submit("a", "e3", catalog.TriggerManual, "again"); again != id {
			t.Fatalf("second manual Submit = %s, want the waiting job %s", again, id)
		}
		if st := h.status(id); st.Reason != "before deploy" {
			t.Fatalf("joined job's reason = %q, want unchanged", st.Reason)
		}
		if pre, _ := h.s.Submit("a", "e3", catalog.TriggerPreImport, "import"); pre != id {
			t.Fatalf("pre-import Submit = %s, want the waiting job %s", pre, id)
		}
		// A manual job for the running environment is a new job behind it.
		m1, err := h.s.Submit("a", "e1", catalog.TriggerManual, "while running")
		if err != nil || m1 == e1.ID || m1 == id {
			t.Fatalf("Submit(e1 running) = %q, %v, want a new job", m1, err)
		}
		e1.finish("b", nil)

		r := h.expect("a", "e3", t0.Add(w))
		if r.ID != id || r.Trigger != catalog.TriggerPreImport || r.Reason != "import" {
			t.Fatalf("taken-over job started as %+v", r.Job)
		}
		r.finish("b", nil)
		r = h.expect("a", "e1", t0.Add(2*w))
		if r.ID != m1 {
			t.Fatalf("e1 started job %s, want the manual one %s", r.ID, m1)
		}
		r.finish("b", nil)
		h.expect("a", "e2", t0.Add(3*w)).finish("b", nil)
	})
}

func TestManualWaitsBehindRunningJob(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		h := newHarness(t, Options{
			Envs:        []Env{env(t, "a", "e1", "0 2 * * *", 0)},
			LastSuccess: lastSuccessAt(time.Time{}),
		}).start()
		r := h.expect("a", "e1", t0)
		id, err := h.s.Submit("a", "e1", catalog.TriggerManual, "")
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Minute)
		h.quiet()
		if st := h.status(id); st.State != catalog.JobQueued {
			t.Fatalf("manual job behind a running one: state %s, want queued", st.State)
		}
		r.finish("b", nil)
		if m := h.expect("a", "e1", t0.Add(10*time.Minute)); m.ID != id {
			t.Fatalf("started %s, want the manual job %s", m.ID, id)
		}
	})
}

func TestBudgetSpreadsAdmissions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		var envs []Env
		for i := range 15 {
			envs = append(envs, env(t, "fleet", fmt.Sprintf("e%02d", i), "0 2 * * *", 0))
		}
		h := newHarness(t, Options{Envs: envs, DBOpsPerHour: 10, LastSuccess: lastSuccessAt(time.Time{})})
		h.f.instant = true
		h.start()
		want := []time.Duration{0, 0, i10, 2 * i10, 3 * i10, 4 * i10, 5 * i10, 6 * i10, 7 * i10, 8 * i10,
			w, w, w + i10, w + 2*i10, w + 3*i10}
		var runs []*run
		for range want {
			runs = append(runs, h.next())
		}
		// Runs admitted at one instant reach the runner in any order.
		slices.SortFunc(runs, func(a, b *run) int {
			return cmp.Or(a.admittedAt.Compare(b.admittedAt), cmp.Compare(a.Environment, b.Environment))
		})
		for i, d := range want {
			r := runs[i]
			if name := fmt.Sprintf("e%02d", i); r.Environment != name || !r.admittedAt.Equal(t0.Add(d)) {
				t.Fatalf("admission %d: %s at +%v, want %s at +%v", i, r.Environment, r.admittedAt.Sub(t0), name, d)
			}
		}
	})
}

func TestExportsInFlightCap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		h := newHarness(t, Options{
			Envs:        []Env{env(t, "a", "e1", "0 2 * * *", 0), env(t, "a", "e2", "0 2 * * *", 0), env(t, "a", "e3", "0 2 * * *", 0)},
			Exports:     2,
			LastSuccess: lastSuccessAt(time.Time{}),
		})
		h.f.holdExport = true
		h.start()
		r1 := h.expectAll(t0, "e1", "e2")["e1"]
		time.Sleep(5 * time.Minute)
		h.quiet()
		if running, queued := h.obs.jobs(); running != 2 || queued != 1 {
			t.Fatalf("SetJobs(%d, %d), want (2, 1)", running, queued)
		}
		r1.finish("b", nil) // releases its export admission
		h.expect("a", "e3", t0.Add(5*time.Minute))
	})
}

func TestMissedRun(t *testing.T) {
	at := func(d, hh, mm int) time.Time { return time.Date(2026, 3, d, hh, mm, 0, 0, time.UTC) }
	daily := envState{cfg: env(t, "a", "e", "0 2 * * *", 0), offset: 17 * time.Minute, interval: day}
	weekly := envState{cfg: env(t, "a", "e", "0 2 * * 1", 0), interval: 7 * day} // Mondays; 2026-03-02 is one
	for _, tc := range []struct {
		name      string
		e         envState
		last, now time.Time
		want      bool
	}{
		{"never succeeded", daily, time.Time{}, at(10, 12, 0), true},
		{"older than the interval", daily, at(7, 2, 30), at(10, 1, 0), true},
		{"today's run missed though younger than the interval", daily, at(9, 2, 25), at(10, 2, 20), true},
		{"today's run not yet due (inside the jitter)", daily, at(9, 2, 25), at(10, 2, 16), false},
		{"today's run done", daily, at(10, 2, 30), at(10, 10, 0), false},
		{"weekly, no Monday since", weekly, at(2, 2, 10), at(6, 9, 0), false},
		{"weekly, a Monday passed", weekly, at(2, 2, 10), at(9, 3, 0), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := missedRun(tc.e, tc.last, tc.now); got != tc.want {
				t.Errorf("missedRun(last %v, now %v) = %v, want %v", tc.last, tc.now, got, tc.want)
			}
		})
	}
}

func TestCatchUpOnceAfterDowntime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		h := newHarness(t, Options{
			Envs: []Env{env(t, "a", "stale", "0 2 * * *", 0), env(t, "a", "fresh", "0 2 * * *", 0)},
			LastSuccess: func(_, env string) time.Time {
				if env == "stale" {
					return t0.Add(-3 * day) // three runs missed
				}
				return t0.Add(-time.Hour)
			},
		}).start()
		h.expect("a", "stale", t0).finish("b", nil)
		h.quiet() // one catch-up job, not three, and none for "fresh"
		for _, r := range h.expectAll(t0.Add(2*time.Hour), "fresh", "stale") {
			r.finish("b", nil)
		}
		if n := strings.Count(h.logs.String(), "catch-up backup queued"); n != 1 {
			t.Errorf("logged %d catch-ups, want 1", n)
		}
	})
}

func TestResumedJobsFirstWithoutBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		h := newHarness(t, Options{
			Envs:             []Env{env(t, "a", "e1", "0 2 * * *", 0), env(t, "a", "e2", "0 2 * * *", 0)},
			DBOpsPerHour:     1,
			RecentOperations: []time.Time{t0.Add(-time.Minute)}, // the hour's budget is spent
			LastSuccess:      lastSuccessAt(time.Time{}),
		})
		resumed := Job{ID: "job-1", Site: "a", Environment: "e1", Trigger: catalog.TriggerSchedule,
			ExportID: "exp-7", ExportRequestedAt: t0.Add(-time.Minute)}
		if err := h.s.Resume(resumed); err != nil {
			t.Fatal(err)
		}
		if st := h.status("job-1"); st.State != catalog.JobQueued {
			t.Fatalf("resumed job before Run: %s, want queued", st.State)
		}
		h.quiet() // nothing starts before Run
		h.start()
		r := h.expect("a", "e1", t0)
		if r.ID != "job-1" || r.ExportID != "exp-7" || !r.ExportRequestedAt.Equal(resumed.ExportRequestedAt) || !r.admittedAt.IsZero() {
			t.Fatalf("resumed job started as %+v (admitted at %v), want its export polled without admission", r.Job, r.admittedAt)
		}
		// e2's catch-up waits for budget; e1's was not queued (it has a job).
		h.expect("a", "e2", t0.Add(-time.Minute+w)).finish("b", nil)
		r.finish("b", nil)
		h.quiet()

		for _, tc := range []struct {
			name string
			j    Job
			want error
		}{
			{"unknown environment", Job{ID: "j2", Site: "a", Environment: "nope", Trigger: "schedule", ExportID: "x"}, ErrUnknownEnvironment},
			{"bad trigger", Job{ID: "j3", Site: "a", Environment: "e1", Trigger: "cron", ExportID: "x"}, ErrInvalidTrigger},
			{"no export id", Job{ID: "j4", Site: "a", Environment: "e1", Trigger: "schedule"}, nil},
		} {
			err := h.s.Resume(tc.j)
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Errorf("Resume(%s) = %v, want an error matching %v", tc.name, err, tc.want)
			}
		}
	})
}

func TestShutdownWaitsForRunningJobs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		h := newHarness(t, Options{
			Envs:         []Env{env(t, "a", "e1", "0 2 * * *", 0), env(t, "a", "e2", "0 2 * * *", 0)},
			DBOpsPerHour: 1,
			LastSuccess:  lastSuccessAt(time.Time{}),
		}).start()
		r := h.expect("a", "e1", t0)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- h.s.Shutdown(ctx) }()
		synctest.Wait()
		if err := <-h.runDone; err != nil {
			t.Fatalf("Run = %v after Shutdown began, want nil", err)
		}
		h.cancel()
		h.cancel = nil
		if _, err := h.s.Submit("a", "e1", catalog.TriggerManual, ""); !errors.Is(err, ErrShuttingDown) {
			t.Fatalf("Submit during shutdown = %v, want ErrShuttingDown", err)
		}
		time.Sleep(2 * time.Minute)
		select {
		case err := <-done:
			t.Fatalf("Shutdown returned %v while a job runs", err)
		default:
		}
		r.finish("b1", nil)
		if err := <-done; err != nil {
			t.Fatalf("Shutdown = %v, want nil", err)
		}
		if got := time.Since(t0); got != 2*time.Minute {
			t.Fatalf("Shutdown returned after %v, want 2m", got)
		}
		if st := h.status(r.ID); st.State != catalog.JobSucceeded || r.ctx.Err() != nil {
			t.Fatalf("drained job: %s (ctx %v), want succeeded, not canceled", st.State, r.ctx.Err())
		}
		if running, queued := h.obs.jobs(); running != 0 || queued != 0 {
			t.Fatalf("SetJobs(%d, %d) after shutdown, want (0, 0)", running, queued)
		}
	})
}

func TestShutdownCancelsAfterTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		h := newHarness(t, Options{
			Envs:        []Env{env(t, "a", "e1", "0 2 * * *", 0)},
			LastSuccess: lastSuccessAt(time.Time{}),
		}).start()
		r := h.expect("a", "e1", t0)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		err := h.s.Shutdown(ctx)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Shutdown = %v, want DeadlineExceeded", err)
		}
		if got := time.Since(t0); got != 5*time.Minute {
			t.Fatalf("Shutdown returned after %v, want 5m", got)
		}
		if !errors.Is(r.ctx.Err(), context.Canceled) {
			t.Fatalf("job context: %v, want canceled", r.ctx.Err())
		}
		if st := h.status(r.ID); st.State != catalog.JobFailed || !strings.Contains(st.Error, "canceled") {
			t.Fatalf("canceled job: %+v, want failed with a cancellation error", st)
		}
	})
}

func TestShutdownDropsWaitingJobs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Options{
			Envs:        []Env{env(t, "a", "e1", "0 2 * * *", 0)},
			LastSuccess: lastSuccessAt(time.Time{}),
		})
		id, err := h.s.Submit("a", "e1", catalog.TriggerManual, "")
		if err != nil {
			t.Fatal(err)
		}
		if err := h.s.Shutdown(context.Background()); err != nil {
			t.Fatalf("Shutdown = %v", err)
		}
		st, err := h.s.Wait(context.Background(), id)
		if err != nil || st.State != catalog.JobFailed || st.Error == "" || !st.StartedAt.IsZero() {
			t.Fatalf("Wait = %+v, %v; want failed without starting", st, err)
		}
		if err := h.s.Run(context.Background()); !errors.Is(err, ErrShuttingDown) {
			t.Fatalf("Run after Shutdown = %v, want ErrShuttingDown", err)
		}
	})
}

func TestReload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		e1, e2, e3 := env(t, "a", "e1", "0 2 * * *", 0), env(t, "a", "e2", "0 2 * * *", 0), env(t, "a", "e3", "0 2 * * *", 0)
		h := newHarness(t, Options{Envs: []Env{e1, e2}, DBOpsPerHour: 1, LastSuccess: lastSuccessAt(time.Time{})}).start()
		r1 := h.expect("a", "e1", t0)
		if _, queued := h.obs.jobs(); queued != 1 {
			t.Fatalf("queued = %d, want e2's catch-up", queued)
		}

		time.Sleep(time.Minute)
		e1.Schedule = mustCron(t, "0 3 * * *")
		if err := h.s.Reload([]Env{e1, e3}); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if r1.ctx.Err() != nil {
			t.Fatal("Reload canceled a running job")
		}
		if got := h.obs.forgotten(); len(got) != 1 || got[0] != (envKey{"a", "e2"}) {
			t.Fatalf("forgotten %v, want [a/e2]", got)
		}
		if got, want := h.obs.nextRun(envKey{"a", "e1"}), t0.Add(3*time.Hour); !got.Equal(want) {
			t.Fatalf("e1's next run after reload %v, want %v", got, want)
		}
		if got, want := h.obs.nextRun(envKey{"a", "e3"}), t0.Add(2*time.Hour); !got.Equal(want) {
			t.Fatalf("added e3's next run %v, want %v", got, want)
		}
		if _, err := h.s.Submit("a", "e2", catalog.TriggerManual, ""); !errors.Is(err, ErrUnknownEnvironment) {
			t.Fatalf("Submit(removed env) = %v, want ErrUnknownEnvironment", err)
		}
		if !strings.Contains(h.logs.String(), "jobs_dropped=1") {
			t.Fatalf("removing e2 did not drop its waiting job:\n%s", h.logs)
		}

		r1.finish("b", nil)
		h.expect("a", "e3", t0.Add(w)).finish("b", nil) // e3's catch-up; e2's job is gone
		// At 02:00 only e3 is due (had e1 kept its old schedule, it would
		// have gone first); e1's 03:00 run then waits for budget until 03:03.
		h.expect("a", "e3", t0.Add(2*w)).finish("b", nil)
		h.expect("a", "e1", t0.Add(3*w)).finish("b", nil)

		// An invalid set is refused and the old one kept.
		if err := h.s.Reload([]Env{e1, e1}); err == nil {
			t.Fatal("Reload(duplicate) = nil, want an error")
		}
		if _, err := h.s.Submit("a", "e3", catalog.TriggerManual, ""); err != nil {
			t.Fatalf("Submit after refused reload: %v", err)
		}
	})
}

func TestStatusTable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		h := newHarness(t, Options{Envs: []Env{env(t, "a", "e1", "0 2 * * *", 0)}, LastSuccess: lastSuccessAt(t0)}).start()

		id, err := h.s.Submit("a", "e1", catalog.TriggerManual, "check")
		if err != nil {
			t.Fatal(err)
		}
		r := h.next()
		for _, tc := range []struct{ report, want string }{
			{"", catalog.JobExporting}, // the runner reported it
			{catalog.JobDownloading, catalog.JobDownloading},
			{catalog.JobSucceeded, catalog.JobDownloading}, // final states are the scheduler's
			{"bogus", catalog.JobDownloading},
			{catalog.JobStoring, catalog.JobStoring},
		} {
			if tc.report != "" {
				r.setState(tc.report)
			}
			if st := h.status(id); st.State != tc.want {
				t.Fatalf("after setState(%q): state %s, want %s", tc.report, st.State, tc.want)
			}
		}
		time.Sleep(time.Second)
		r.finish("bk-1", nil)
		st, err := h.s.Wait(context.Background(), id)
		want := Status{ID: id, Site: "a", Environment: "e1", Trigger: catalog.TriggerManual, Reason: "check",
			State: catalog.JobSucceeded, BackupID: "bk-1", QueuedAt: t0, StartedAt: t0, FinishedAt: t0.Add(time.Second)}
		if err != nil || st != want {
			t.Fatalf("Wait = %+v, %v\nwant %+v", st, err, want)
		}

		id2, _ := h.s.Submit("a", "e1", catalog.TriggerManual, "")
		h.next().finish("", errors.New("export 7 of site a failed: disk full"))
		if st, _ := h.s.Wait(context.Background(), id2); st.State != catalog.JobFailed || st.Error != "export 7 of site a failed: disk full" || st.BackupID != "" {
			t.Fatalf("failed job: %+v", st)
		}

		if _, ok := h.s.Status("no-such-job"); ok {
			t.Fatal("Status(unknown) ok")
		}
		if _, err := h.s.Wait(context.Background(), "no-such-job"); !errors.Is(err, ErrUnknownJob) {
			t.Fatalf("Wait(unknown) = %v, want ErrUnknownJob", err)
		}
		time.Sleep(KeepFinished + time.Second)
		if _, ok := h.s.Status(id); ok {
			t.Fatalf("Status(%s) still known after %v", id, KeepFinished)
		}
	})
}

func TestStatusTableKeepsLastFinished(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Options{Envs: []Env{env(t, "a", "e1", "0 2 * * *", 0)}, LastSuccess: lastSuccessAt(time.Now())})
		h.f.instant = true
		h.start()
		var ids []string
		for range MaxFinished + 1 {
			id, err := h.s.Submit("a", "e1", catalog.TriggerManual, "")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := h.s.Wait(context.Background(), id); err != nil {
				t.Fatal(err)
			}
			<-h.f.started
			ids = append(ids, id)
		}
		if _, ok := h.s.Status(ids[0]); ok {
			t.Errorf("oldest of %d finished jobs still known", len(ids))
		}
		if _, ok := h.s.Status(ids[1]); !ok {
			t.Errorf("job %d of %d forgotten; want the last %d kept", 2, len(ids), MaxFinished)
		}
	})
}

func TestWaitEndsWithContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Options{Envs: []Env{env(t, "a", "e1", "0 2 * * *", 0)}, LastSuccess: lastSuccessAt(time.Time{})}).start()
		r := h.next()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := h.s.Wait(ctx, r.ID); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Wait = %v, want DeadlineExceeded", err)
		}
		r.finish("b", nil)
	})
}

func TestSubmitErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Options{Envs: []Env{env(t, "a", "e1", "0 2 * * *", 0)}})
		for _, tc := range []struct {
			site, env, trigger string
			want               error
		}{
			{"a", "nope", catalog.TriggerManual, ErrUnknownEnvironment},
			{"b", "e1", catalog.TriggerManual, ErrUnknownEnvironment},
			{"a", "e1", "nightly", ErrInvalidTrigger},
		} {
			if _, err := h.s.Submit(tc.site, tc.env, tc.trigger, ""); !errors.Is(err, tc.want) {
				t.Errorf("Submit(%s, %s, %s) = %v, want %v", tc.site, tc.env, tc.trigger, err, tc.want)
			}
		}
	})
}

func TestNewValidates(t *testing.T) {
	runner := func(context.Context, Job, func(string)) (string, error) { return "", nil }
	good := func() Options {
		return Options{Envs: []Env{env(t, "a", "e1", "@daily", 0)}, DBOpsPerHour: 10, Exports: 1, Downloads: 1, Runner: runner}
	}
	for _, tc := range []struct {
		name string
		mod  func(*Options)
		want string
	}{
		{"no runner", func(o *Options) { o.Runner = nil }, "no runner"},
		{"no budget", func(o *Options) { o.DBOpsPerHour = 0 }, "database operations per hour"},
		{"no exports", func(o *Options) { o.Exports = 0 }, "exports in flight"},
		{"no downloads", func(o *Options) { o.Downloads = 0 }, "downloads at once"},
		{"no schedule", func(o *Options) { o.Envs[0].Schedule = nil }, "a/e1 has no schedule"},
		{"duplicate", func(o *Options) { o.Envs = append(o.Envs, o.Envs[0]) }, "a/e1 listed twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := good()
			tc.mod(&o)
			if _, err := New(o); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New = %v, want an error containing %q", err, tc.want)
			}
		})
	}
	if _, err := New(good()); err != nil {
		t.Fatalf("New(good) = %v", err)
	}
}

func TestHeartbeat(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var beats []time.Time
		beat := make(chan time.Time, 100)
		h := newHarness(t, Options{Envs: []Env{env(t, "a", "e1", "0 2 * * *", 0)}, LastSuccess: lastSuccessAt(time.Now()),
			Heartbeat: func() { beat <- time.Now() }}).start()
		t0 := time.Now()
		time.Sleep(time.Minute)
		h.stop()
		close(beat)
		for b := range beat {
			beats = append(beats, b)
		}
		if len(beats) < 12 || !beats[0].Equal(t0) {
			t.Fatalf("%d heartbeats in a minute starting %v, want ≥ 12 from the start", len(beats), beats)
		}
		for i := 1; i < len(beats); i++ {
			if gap := beats[i].Sub(beats[i-1]); gap > HeartbeatInterval {
				t.Fatalf("heartbeat gap %v, want ≤ %v", gap, HeartbeatInterval)
			}
		}
	})
}
