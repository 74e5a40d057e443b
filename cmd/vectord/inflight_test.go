package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/builtfast/vectord/vectorsim"
)

// TestKilledWithExportInFlightSpendsNoSecondOperation: the daemon is
// SIGKILLed while its export request is at the API (the answer held back).
// The request was written to the ledger before it was sent, so the
// restarted daemon — db_operations_per_hour: 1 on both sides — and a
// manual backup beside it wait for the budget instead of being refused: no
// 429. Ctrl-C on the waiting backup cancels its job in the daemon.
func TestKilledWithExportInFlightSpendsNoSecondOperation(t *testing.T) {
	dir := t.TempDir()
	sim := vectorsim.New(vectorsim.Options{Token: testToken, TempDir: dir, DBOpsPerHour: 1})
	sim.AddSite("1002")
	var once sync.Once
	held := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/database/export") {
			first := false
			once.Do(func() { first = true })
			if first {
				rec := httptest.NewRecorder()
				sim.ServeHTTP(rec, r) // the API acts: the export exists, the budget is spent
				close(held)
				<-r.Context().Done() // the answer never leaves: the daemon dies waiting
				return
			}
		}
		sim.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	e := &e2e{t: t, sim: sim, dir: dir, cfg: filepath.Join(dir, "config.yaml"), listen: freeAddr(t)}
	cfg := fmt.Sprintf(`api:
  base_url: %s/api/v1/vector
  token: %s
  poll_interval: 20ms
  poll_max_interval: 100ms
  requests_per_minute: 6000
  db_operations_per_hour: 1
state_dir: %s/state
storage:
  local:
    path: %s/backups
server:
  listen: %s
defaults:
  jitter: 0s
  schedule: "@every 1h"
sites:
  - name: globex
    id: "1002"
`, srv.URL, testToken, dir, dir, e.listen)
	if err := os.WriteFile(e.cfg, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	p := e.start() // the catch-up backup sends its export request
	select {
	case <-held:
	case <-time.After(20 * time.Second):
		t.Fatalf("no export request reached the API\n%s", p.stderr)
	}
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done

	p = e.start()
	// The catch-up job waits for the hour's budget, and says so.
	code, sout, serr := e.cli("status", "--json")
	var rep statusReport
	if code != 0 || json.Unmarshal([]byte(sout), &rep) != nil || len(rep.Environments) != 1 {
		t.Fatalf("status --json = %d %q %q", code, sout, serr)
	}
	if j := rep.Environments[0].Job; j == nil || j.State != "queued" || j.Position != 1 || j.EstimatedStart == nil ||
		j.EstimatedStart.Sub(rep.Time) < 50*time.Minute || rep.Budget.Remaining != 0 {
		t.Errorf("status: job %+v, budget %+v; want the job queued first, starting in about an hour, no budget left", j, rep.Budget)
	}
	if code, sout, _ := e.cli("status"); code != 0 || !strings.Contains(sout, "queued #1") {
		t.Errorf("status = %d %q, want the job queued first", code, sout)
	}
	if m := scrape("http://" + e.listen + "/metrics"); !strings.Contains(m, "\nvectord_api_budget_remaining 0\n") ||
		!strings.Contains(m, "\nvectord_api_rate_limited_until_timestamp_seconds 0\n") {
		t.Errorf("/metrics budget gauges:\n%s", grepLines(m, "vectord_api_"))
	}
	var out, errb bytes.Buffer
	m := &Main{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	code = m.Run(ctx, []string{"backup", "--site", "globex", "--config", e.cfg})
	if code == 0 {
		t.Fatalf("a backup beside the daemon succeeded although the hour's only operation was spent: %q", out.String())
	}
	if !strings.Contains(errb.String(), "canceled in the daemon") {
		t.Errorf("backup stopped waiting without canceling its job: %q", errb.String())
	}
	if st := sim.Stats(); st.RateLimited != 0 || st.DBOperations != 1 {
		t.Errorf("the API saw %d database operations and refused %d, want 1 and none refused", st.DBOperations, st.RateLimited)
	}
	if code := p.stop(t, syscall.SIGTERM, 20*time.Second); code != 0 {
		t.Fatalf("exit = %d\n%s", code, p.stderr)
	}
	if code, out, errs := e.cli("check", "--read-data"); code != 0 {
		t.Errorf("check = %d %q %q", code, out, errs)
	}
}
