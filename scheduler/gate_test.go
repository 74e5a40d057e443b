package scheduler

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/builtfast/vectord/catalog"
)

// gateOnly is a Scheduler used only as a Gate: no environments, Run not
// called (the gates work without it).
func gateOnly(t *testing.T, perHour, exports, downloads int) *Scheduler {
	t.Helper()
	s, err := New(Options{
		DBOpsPerHour: perHour, Exports: exports, Downloads: downloads,
		Runner: func(context.Context, Job, func(string)) (string, error) { return "", nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// admitted reports whether a gate call has returned, without waiting.
func admitted(ch <-chan func()) (func(), bool) {
	synctest.Wait()
	select {
	case rel := <-ch:
		return rel, true
	default:
		return nil, false
	}
}

func TestExportGateOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		s := gateOnly(t, 1, 1, 1)
		rel, err := s.Export(context.Background(), catalog.TriggerSchedule)
		if err != nil {
			t.Fatal(err)
		}
		rel()
		rel() // a second release does nothing

		type admission struct {
			name string
			at   time.Time
		}
		got := make(chan admission, 4)
		for _, c := range []struct{ name, trigger string }{
			{"scheduled-1", catalog.TriggerSchedule},
			{"manual", catalog.TriggerManual},
			{"scheduled-2", catalog.TriggerSchedule},
			{"pre-import", catalog.TriggerPreImport},
		} {
			go func() {
				rel, err := s.Export(context.Background(), c.trigger)
				if err != nil {
					t.Error(err)
					return
				}
				got <- admission{c.name, time.Now()}
				rel()
			}()
			time.Sleep(time.Second) // arrive in this order
		}
		for i, want := range []string{"manual", "pre-import", "scheduled-1", "scheduled-2"} {
			a := <-got
			if at := t0.Add(time.Duration(i+1) * w); a.name != want || !a.at.Equal(at) {
				t.Fatalf("admission %d: %s at %v, want %s at %v", i+1, a.name, a.at, want, at)
			}
		}
	})
}

func TestExportGateConcurrency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := gateOnly(t, 3600, 2, 1)
		ch := make(chan func(), 4)
		ctx := context.Background()
		for range 4 {
			go func() {
				rel, err := s.Export(ctx, catalog.TriggerManual)
				if err != nil {
					t.Error(err)
					return
				}
				ch <- rel
			}()
			synctest.Wait()
		}
		a, _ := admitted(ch)
		b, _ := admitted(ch)
		if _, ok := admitted(ch); ok {
			t.Fatal("three exports admitted with exports = 2")
		}
		a()
		a() // releasing twice frees one slot only
		c, ok := admitted(ch)
		if !ok {
			t.Fatal("no export admitted after a release")
		}
		if _, ok := admitted(ch); ok {
			t.Fatal("a double release admitted two exports")
		}
		b()
		d, ok := admitted(ch)
		if !ok {
			t.Fatal("last export not admitted")
		}
		c()
		d()
	})
}

func TestExportGateCanceledWaiter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		s := gateOnly(t, 1, 1, 1)
		rel, _ := s.Export(context.Background(), catalog.TriggerSchedule)
		rel()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		if _, err := s.Export(ctx, catalog.TriggerManual); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Export = %v, want DeadlineExceeded", err)
		}
		// The canceled waiter spent nothing: the next caller gets the
		// budget's next slot.
		rel, err := s.Export(context.Background(), catalog.TriggerSchedule)
		if err != nil {
			t.Fatal(err)
		}
		rel()
		if got := time.Since(t0); got != w {
			t.Fatalf("next admission after %v, want %v", got, w)
		}
		done, cancel2 := context.WithCancel(context.Background())
		cancel2()
		if _, err := s.Export(done, catalog.TriggerManual); !errors.Is(err, context.Canceled) {
			t.Fatalf("Export(canceled ctx) = %v, want Canceled", err)
		}
		if _, err := s.Download(done, t0); !errors.Is(err, context.Canceled) {
			t.Fatalf("Download(canceled ctx) = %v, want Canceled", err)
		}
	})
}

func TestDownloadsEarliestExpiryFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		s := gateOnly(t, 10, 1, 1)
		first, err := s.Download(context.Background(), t0.Add(50*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		order := make(chan time.Duration, 4)
		var wg sync.WaitGroup
		defer wg.Wait()
		for _, exp := range []time.Duration{-1, 30 * time.Minute, 10 * time.Minute, 20 * time.Minute} {
			wg.Go(func() {
				var at time.Time // -1: unknown expiry
				if exp >= 0 {
					at = t0.Add(exp)
				}
				rel, err := s.Download(context.Background(), at)
				if err != nil {
					t.Error(err)
					return
				}
				order <- exp
				time.Sleep(time.Minute) // the download
				rel()
			})
			synctest.Wait()
		}
		first()
		for _, want := range []time.Duration{10 * time.Minute, 20 * time.Minute, 30 * time.Minute, -1} {
			if got := <-order; got != want {
				t.Fatalf("download with expiry %v admitted, want %v", got, want)
			}
		}
	})
}

func TestGatesAreIndependent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		s := gateOnly(t, 1, 1, 1)
		ctx := context.Background()

		// A long download does not hold up an export request.
		download, err := s.Download(ctx, t0.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		export, err := s.Export(ctx, catalog.TriggerSchedule)
		if err != nil {
			t.Fatal(err)
		}
		if time.Since(t0) != 0 {
			t.Fatal("export waited for the download")
		}
		export()
		download()

		// Exports waiting for budget do not hold up a download.
		exports := make(chan func(), 1)
		go func() {
			rel, err := s.Export(ctx, catalog.TriggerManual)
			if err != nil {
				t.Error(err)
				return
			}
			exports <- rel
		}()
		if _, ok := admitted(exports); ok {
			t.Fatal("export admitted beyond the budget")
		}
		download, err = s.Download(ctx, t0.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if time.Since(t0) != 0 {
			t.Fatal("download waited for the export queue")
		}
		download()
		(<-exports)()
		if got := time.Since(t0); got != w {
			t.Fatalf("second export admitted after %v, want %v", got, w)
		}
	})
}
