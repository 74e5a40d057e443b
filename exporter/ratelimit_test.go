package exporter_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/builtfast/vectord/catalog"
	"github.com/builtfast/vectord/codec"
	"github.com/builtfast/vectord/exporter"
	"github.com/builtfast/vectord/scheduler"
	"github.com/builtfast/vectord/storage"
	"github.com/builtfast/vectord/storage/local"
	"github.com/builtfast/vectord/vectorapi"
	"github.com/builtfast/vectord/vectorsim"
)

// handlerTransport serves requests with a handler in-process, so that a
// whole job runs inside a synctest bubble on virtual time.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r)
	return rec.Result(), nil
}

// TestAnHoursWaitForBudgetIsNotAFailure: another client spent the
// account's only database operation of the hour; the job's export request
// is answered 429 with Retry-After: 3600. The job waits — queued, its wait
// shown — sends nothing more before the hour is over, and then succeeds: no
// failed run (virtual time).
func TestAnHoursWaitForBudgetIsNotAFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		dir := t.TempDir()
		sim := vectorsim.New(vectorsim.Options{Token: token, DBOpsPerHour: 1, TempDir: dir})
		sim.AddSite("1001", "2001")
		newClient := func(adjust func(*vectorapi.Options)) *vectorapi.Client {
			o := vectorapi.Options{BaseURL: "https://api.sim.test/api/v1/vector", Token: token,
				HTTPClient: &http.Client{Transport: handlerTransport{sim}}, RequestsPerMinute: 6000}
			if adjust != nil {
				adjust(&o)
			}
			c, err := vectorapi.New(o)
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
		// Another client (a person with the CLI) spends the hour's budget.
		if _, err := newClient(nil).StartExport(ctx, vectorapi.Target{SiteID: "1001", EnvironmentID: "2001"}); err != nil {
			t.Fatal(err)
		}
		db, err := catalog.Open(filepath.Join(dir, "catalog.db"), catalog.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		store, err := local.New(filepath.Join(dir, "backups"))
		if err != nil {
			t.Fatal(err)
		}
		gate, err := scheduler.New(scheduler.Options{DBOpsPerHour: 10, Exports: 2, Downloads: 1, Ledger: db,
			Runner: func(context.Context, scheduler.Job, func(string)) (string, error) { return "", nil }})
		if err != nil {
			t.Fatal(err)
		}
		client := newClient(func(o *vectorapi.Options) {
			o.BeforeRetry, o.RateLimit = gate.Retried, gate.LimitTo
		})
		ex := &exporter.Exporter{API: client, Catalog: db, Targets: []storage.Target{store}, Codec: codec.Zstd,
			Gate: gate, PollInterval: time.Second, PollMaxInterval: 5 * time.Second}
		var phases []string
		type result struct {
			rec catalog.Record
			err error
		}
		done := make(chan result, 1)
		go func() {
			rec, err := ex.Run(ctx, exporter.Request{Site: "acme", Environment: "production", SiteID: "1001", EnvironmentID: "2001",
				Trigger: catalog.TriggerSchedule, ExportTimeout: 2 * time.Hour,
				Progress: func(p exporter.Progress) { phases = append(phases, p.Phase) }})
			done <- result{rec, err}
		}()
		synctest.Wait()
		start := time.Now()
		if st := sim.Stats(); st.RateLimited != 1 || st.DBOperations != 1 {
			t.Fatalf("after the job's export request: %d refused, %d accepted; want 1 and 1 (the other client's)", st.RateLimited, st.DBOperations)
		}
		if b := gate.Budget(start); b.PausedUntil.Sub(start) < 59*time.Minute {
			t.Fatalf("budget %+v: want paused for the hour the API asked", b)
		}
		jobs, err := db.Jobs(ctx)
		if err != nil || len(jobs) != 1 || jobs[0].State != catalog.JobQueued {
			t.Fatalf("persisted job = %+v, %v; want it queued, not failed", jobs, err)
		}
		time.Sleep(59 * time.Minute)
		synctest.Wait()
		if st := sim.Stats(); st.RateLimited != 1 || st.DBOperations != 1 || len(done) != 0 {
			t.Fatalf("59 minutes later: %d refused, %d accepted, done %v; want no second request before the hour", st.RateLimited, st.DBOperations, len(done) != 0)
		}
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		res := <-done
		if res.err != nil {
			t.Fatalf("job after the wait: %v, want success", res.err)
		}
		if st := sim.Stats(); st.RateLimited != 1 || st.DBOperations != 2 {
			t.Errorf("in all: %d refused, %d accepted; want 1 and 2", st.RateLimited, st.DBOperations)
		}
		sawWait := false
		for _, p := range phases {
			sawWait = sawWait || len(p) > 22 && p[:22] == "waiting for API budget"
		}
		if !sawWait {
			t.Errorf("progress phases %v never said the job waits for API budget", phases)
		}
		if jobs, _ := db.Jobs(ctx); len(jobs) != 1 || jobs[0].State != catalog.JobSucceeded || jobs[0].BackupID != res.rec.ID {
			t.Errorf("persisted job after = %+v, want succeeded", jobs)
		}
		if err := gate.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		sim.Close()
	})
}
