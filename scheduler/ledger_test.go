package scheduler

import (
	"context"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/builtfast/vectord/catalog"
)

// TestPauseHoldsEveryCallerInOrderThenProbes: a 429's pause holds every
// database operation until it ends, the callers keep their order, and
// after the pause one operation is admitted at a time until the API
// accepts one.
func TestPauseHoldsEveryCallerInOrderThenProbes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := gateOnly(t, 1000, 10, 1) // the client thinks it has plenty
		t0 := time.Now()
		s.Pause(t0.Add(time.Hour))
		ch := make(chan string, 3)
		for _, name := range []string{"first", "second", "third"} {
			go func() {
				rel, err := s.Export(context.Background(), catalog.TriggerSchedule)
				if err != nil {
					t.Error(err)
					return
				}
				ch <- name
				rel()
			}()
			time.Sleep(time.Millisecond) // arrive in this order
		}
		synctest.Wait()
		if st := s.Budget(time.Now()); len(ch) != 0 || !st.PausedUntil.Equal(t0.Add(time.Hour)) || st.Remaining != 0 {
			t.Fatalf("during the pause: %d admitted, budget %+v; want none admitted, paused an hour", len(ch), st)
		}
		time.Sleep(time.Hour)
		synctest.Wait()
		if len(ch) != 1 || <-ch != "first" {
			t.Fatalf("after the pause: want exactly the first caller admitted (a probe)")
		}
		s.Settled() // the API accepted it
		synctest.Wait()
		if len(ch) != 2 {
			t.Fatalf("after the probe was accepted: %d admitted, want the second and third", len(ch))
		}
	})
}

// TestUnansweredProbeTimesOut: a probe whose answer never comes does not
// block the budget for good.
func TestUnansweredProbeTimesOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := gateOnly(t, 1000, 10, 1)
		s.Pause(time.Now().Add(time.Minute))
		for range 2 {
			go func() {
				if rel, err := s.Export(context.Background(), catalog.TriggerManual); err == nil {
					rel()
				}
			}()
		}
		start := time.Now()
		time.Sleep(time.Minute + time.Second)
		synctest.Wait()
		if st := s.Budget(time.Now()); st.NextAt.Sub(start) != time.Minute+probeTimeout {
			t.Errorf("next admission at +%v, want +%v (the probe's timeout)", st.NextAt.Sub(start), time.Minute+probeTimeout)
		}
		time.Sleep(probeTimeout)
		synctest.Wait()
	})
}

// TestLedgerRecordsAdmissionsRetriesAndPauses: every admission, retry and
// pause reaches the catalog's ledger, and a new scheduler started from
// the ledger keeps both the spent budget and the pause.
func TestLedgerRecordsAdmissionsRetriesAndPauses(t *testing.T) {
	db, err := catalog.Open(filepath.Join(t.TempDir(), "catalog.db"), catalog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	s, err := New(Options{DBOpsPerHour: 2, Exports: 2, Downloads: 1, Ledger: db, By: "test",
		Runner: func(context.Context, Job, func(string)) (string, error) { return "", nil }})
	if err != nil {
		t.Fatal(err)
	}
	rel, err := s.Export(WithOperation(ctx, "import", "acme/production"), catalog.TriggerManual)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Retried(ctx, "import_create"); err != nil {
		t.Fatal(err)
	}
	rel()
	until := time.Now().Add(30 * time.Minute).Truncate(time.Second)
	s.Pause(until)
	ops, err := db.BudgetSpent(ctx, time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(ops) != 2 || ops[0].Op != "import" || ops[0].Ref != "acme/production" || ops[0].By != "test" || ops[1].Op != "retry import_create" {
		t.Fatalf("ledger = %+v, want the import and its retry", ops)
	}
	paused, err := db.BudgetPausedUntil(ctx)
	if err != nil || !paused.Equal(until) {
		t.Fatalf("ledger pause = %v, %v; want %v", paused, err, until)
	}
	// A restarted daemon, seeded from the ledger: budget spent, pause kept.
	var spent []time.Time
	for _, op := range ops {
		spent = append(spent, op.At)
	}
	s2, err := New(Options{DBOpsPerHour: 2, Exports: 2, Downloads: 1, RecentOperations: spent, PausedUntil: paused,
		Runner: func(context.Context, Job, func(string)) (string, error) { return "", nil }})
	if err != nil {
		t.Fatal(err)
	}
	if st := s2.Budget(time.Now()); st.Remaining != 0 || !st.PausedUntil.Equal(until) {
		t.Errorf("restarted budget = %+v, want nothing left and the pause until %v", st, until)
	}
}

// TestQueuePositionEstimateAndCancel: waiting jobs know their place and
// when the budget would admit them; a canceled one leaves the queue.
func TestQueuePositionEstimateAndCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		runner := newFakeRunner()
		s, err := New(Options{
			Envs:         []Env{env(t, "a", "x", "@every 24h", 0), env(t, "b", "x", "@every 24h", 0), env(t, "c", "x", "@every 24h", 0)},
			DBOpsPerHour: 1, Exports: 5, Downloads: 1, Runner: runner.run,
			RecentOperations: []time.Time{time.Now()}, // the hour's budget is spent
		})
		if err != nil {
			t.Fatal(err)
		}
		runner.s = s
		ctx, stop := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- s.Run(ctx) }()
		var ids []string
		for _, site := range []string{"a", "b", "c"} {
			id, err := s.Submit(site, "x", catalog.TriggerManual, "")
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
		synctest.Wait()
		now := time.Now()
		for i, id := range ids {
			st, ok := s.Status(id)
			if !ok || st.Position != i+1 || st.EstimatedStart.Before(now.Add(BudgetWindow-time.Second)) {
				t.Errorf("job %d: position %d, estimated start +%v; want position %d after the budget window", i, st.Position, st.EstimatedStart.Sub(now), i+1)
			}
		}
		if !s.Cancel(ids[0]) {
			t.Fatal("Cancel of a waiting job = false")
		}
		if st, _ := s.Status(ids[0]); st.State != catalog.JobFailed || st.Error != ErrCanceled.Error() {
			t.Errorf("canceled job = %+v, want failed: job canceled", st)
		}
		if st, _ := s.Status(ids[1]); st.Position != 1 {
			t.Errorf("after the first was canceled the second is at %d, want 1", st.Position)
		}
		if s.Cancel("nope") {
			t.Error("Cancel of an unknown job = true")
		}
		stop()
		<-done
		if err := s.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}

func TestSetLimitsKeepsWhatWasSpent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := gateOnly(t, 10, 1, 1)
		for range 2 { // the burst of 10/h
			rel, err := s.Export(context.Background(), catalog.TriggerManual)
			if err != nil {
				t.Fatal(err)
			}
			rel()
		}
		if st := s.Budget(time.Now()); st.Remaining != 0 {
			t.Fatalf("after the burst: %+v, want nothing left", st)
		}
		if err := s.SetLimits(1, 1, 1); err != nil {
			t.Fatal(err)
		}
		if st := s.Budget(time.Now()); st.NextAt.Sub(time.Now()) < time.Hour {
			t.Errorf("1/h after 2 spent: next at +%v, want after the window", st.NextAt.Sub(time.Now()))
		}
		if err := s.SetLimits(100, 4, 2); err != nil {
			t.Fatal(err)
		}
		if st := s.Budget(time.Now()); st.Remaining == 0 {
			t.Errorf("100/h after 2 spent: %+v, want budget left", st)
		}
		if err := s.SetLimits(0, 1, 1); err == nil {
			t.Error("SetLimits(0, ...) = nil, want an error")
		}
	})
}

// TestJobWaitingAfterA429SaysUntilWhen: a running job whose export request
// was refused (429) waits at the gate for the pause to end; its status
// says until when, and it is admitted first once the pause is over.
func TestJobWaitingAfterA429SaysUntilWhen(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := gateOnly(t, 1000, 2, 1)
		admitted := make(chan struct{})
		refused := make(chan struct{})
		s.runner = func(ctx context.Context, j Job, setState func(string)) (string, error) {
			rel, err := s.Export(ctx, j.Trigger)
			if err != nil {
				return "", err
			}
			rel()
			s.Pause(time.Now().Add(time.Hour)) // the API answered 429, Retry-After: 3600
			setState(catalog.JobQueued)
			close(refused)
			rel, err = s.Export(ctx, j.Trigger)
			if err != nil {
				return "", err
			}
			rel()
			close(admitted)
			return "backup-1", nil
		}
		s.envs = map[envKey]*envState{{"acme", "production"}: {cfg: env(t, "acme", "production", "@every 24h", 0)}}
		ctx, stop := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- s.Run(ctx) }()
		id, err := s.Submit("acme", "production", catalog.TriggerManual, "")
		if err != nil {
			t.Fatal(err)
		}
		<-refused
		synctest.Wait()
		st, _ := s.Status(id)
		if st.State != catalog.JobQueued || st.WaitingUntil.Sub(time.Now()) < 59*time.Minute || st.Position != 1 {
			t.Fatalf("status after the 429 = %+v, want queued, first, waiting about an hour", st)
		}
		time.Sleep(time.Hour + time.Second)
		synctest.Wait()
		select {
		case <-admitted:
		default:
			t.Fatal("the job was not admitted after the pause")
		}
		synctest.Wait()
		if st, _ := s.Status(id); st.State != catalog.JobSucceeded || !st.WaitingUntil.IsZero() {
			t.Errorf("status after the pause = %+v, want succeeded, no wait", st)
		}
		stop()
		<-done
		if err := s.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}

// TestFreeEnvironmentsSpendNoAdmission: a mirror environment's job starts
// while the budget admits nothing, and takes no admission.
func TestFreeEnvironmentsSpendNoAdmission(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		started := make(chan Job, 1)
		e := env(t, "acme", "production", "@every 24h", 0)
		e.Free = true
		s, err := New(Options{Envs: []Env{e}, DBOpsPerHour: 1, Exports: 1, Downloads: 1,
			RecentOperations: []time.Time{time.Now()}, // the hour's budget is spent
			Runner: func(ctx context.Context, j Job, _ func(string)) (string, error) {
				started <- j
				return "backup-1", nil
			}})
		if err != nil {
			t.Fatal(err)
		}
		ctx, stop := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- s.Run(ctx) }()
		id, err := s.Submit("acme", "production", catalog.TriggerManual, "")
		if err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		select {
		case <-started:
		default:
			t.Fatal("a free job waited for the budget")
		}
		synctest.Wait()
		if st, _ := s.Status(id); st.State != catalog.JobSucceeded {
			t.Errorf("status = %+v", st)
		}
		if b := s.Budget(time.Now()); b.Remaining != 0 {
			t.Errorf("budget = %+v", b)
		}
		stop()
		<-done
		s.Shutdown(context.Background())
	})
}
