package main

import (
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/builtfast/vectord/vectorsim"
)

// TestSharedBudgetEveryEnvironmentInTurn: the account allows one database
// operation per window and another client spends from it too, while the
// daemon believes it has 1000 an hour. Six environments due every two
// seconds: every one gets a backup, in turn, and at most one of the
// daemon's export requests per refusal window is answered 429 — no
// stampede. VECTORD_SHARED_BUDGET_RUN sets the run's length (default 30s;
// the figures in the notes come from 60s).
func TestSharedBudgetEveryEnvironmentInTurn(t *testing.T) {
	run := 30 * time.Second
	if v := os.Getenv("VECTORD_SHARED_BUDGET_RUN"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatal(err)
		}
		run = d
	}
	const window = 2 * time.Second
	var sites strings.Builder
	for i := 1; i <= 6; i++ {
		fmt.Fprintf(&sites, "  - name: site%d\n    id: \"%d\"\n", i, 1000+i)
	}
	e := newE2E(t, e2eOptions{
		sim:      vectorsim.Options{DBOpsPerHour: 1, DBOpsWindow: window},
		defaults: `schedule: "@every 2s"`,
		sites:    sites.String(),
	})
	for i := 4; i <= 6; i++ {
		e.sim.AddSite(fmt.Sprint(1000 + i))
	}
	base := e.apiBase()
	p := e.start()
	started := time.Now()

	// The other client: an export request every 5 seconds.
	var otherSent, otherRefused atomic.Int64
	stopOther := make(chan struct{})
	otherDone := make(chan struct{})
	go func() {
		defer close(otherDone)
		tick := time.NewTicker(5 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-stopOther:
				return
			case <-tick.C:
			}
			req, _ := http.NewRequest(http.MethodPost, base+"/sites/1001/database/export", nil)
			req.Header.Set("Authorization", "Bearer "+testToken)
			req.Header.Set("Accept", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				continue
			}
			resp.Body.Close()
			otherSent.Add(1)
			if resp.StatusCode == http.StatusTooManyRequests {
				otherRefused.Add(1)
			}
		}
	}()
	deadline := time.Now().Add(run)
	for time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	close(stopOther)
	<-otherDone
	if code := p.stop(t, syscall.SIGTERM, 30*time.Second); code != 0 {
		t.Fatalf("daemon exit = %d\n%s", code, p.stderr)
	}
	elapsed := time.Since(started)
	st := e.sim.Stats()
	daemonAccepted := int64(st.DBOperations) - (otherSent.Load() - otherRefused.Load())
	daemon429 := int64(st.RateLimited) - otherRefused.Load()
	perSite := map[string]int{}
	for _, r := range e.records() {
		perSite[r.Site]++
	}
	windows := int64(elapsed/window) + 1
	t.Logf("%v: daemon export requests %d (accepted %d, answered 429 %d); other client %d (refused %d); refusal windows %d; backups per environment %v",
		elapsed.Round(time.Second), daemonAccepted+daemon429, daemonAccepted, daemon429, otherSent.Load(), otherRefused.Load(), windows, perSite)
	for i := 1; i <= 6; i++ {
		if perSite[fmt.Sprintf("site%d", i)] == 0 {
			t.Errorf("site%d got no backup in %v: starved", i, elapsed.Round(time.Second))
		}
	}
	if daemon429 > windows {
		t.Errorf("%d of the daemon's export requests were answered 429 in %d windows: more than one per window", daemon429, windows)
	}
	if strings.Contains(p.stderr.String(), `"reason":"api"`) || strings.Contains(p.stderr.String(), "backup failed") {
		t.Errorf("a wait for budget was logged as a failure:\n%s", grepLines(p.stderr.String(), "backup failed"))
	}
	if code, out, errs := e.cli("check", "--read-data"); code != 0 {
		t.Errorf("check = %d %q %q", code, out, errs)
	}
}

// apiBase is the simulator's API base URL, as the config names it.
func (e *e2e) apiBase() string {
	e.t.Helper()
	raw, err := os.ReadFile(e.cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, l := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "base_url: "); ok {
			return v
		}
	}
	e.t.Fatal("no base_url in the config")
	return ""
}
