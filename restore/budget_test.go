package restore_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/builtfast/vectord/restore"
	"github.com/builtfast/vectord/vectorapi"
	"github.com/builtfast/vectord/vectorsim"
)

// TestImportSpendsTheBudgetAndWaitsOutA429: the import's database
// operation is admitted by the budget before it is sent; a 429 on the
// import session (the account's budget spent by another client) pauses it
// and the session is asked for again, not the restore failed.
func TestImportSpendsTheBudgetAndWaitsOutA429(t *testing.T) {
	h := newHarness(t, vectorapi.RoutesOpenAPI, vectorsim.Options{DBOpsPerHour: 1})
	// Another client spends the hour's only database operation.
	if _, err := h.client.StartExport(t.Context(), vectorapi.Target{SiteID: siteID}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var admitted []string
	var pausedUntil time.Time
	h.im.Budget = func(ctx context.Context, op, ref string) error {
		mu.Lock()
		defer mu.Unlock()
		admitted = append(admitted, op+" "+ref)
		if !pausedUntil.IsZero() {
			h.clock.Advance(pausedUntil.Sub(h.clock.Now()) + time.Second) // the wait, on the simulator's clock
		}
		return nil
	}
	h.im.Pause = func(until time.Time) {
		mu.Lock()
		defer mu.Unlock()
		pausedUntil = until
	}
	data := sqlDump(t, "budget", 64<<10)
	res, err := h.im.Import(t.Context(), target(""), newMemSource(data).Source("dump.sql"), restore.Options{NoSnapshot: true})
	if err != nil {
		t.Fatalf("Import: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(admitted) != 2 || admitted[0] != "import "+siteID || pausedUntil.IsZero() {
		t.Errorf("budget admissions %v, paused until %v; want two imports admitted around one 429 pause", admitted, pausedUntil)
	}
	if got := h.imported(""); got.LastSHA256 != sha(data) || res.Bytes != int64(len(data)) {
		t.Errorf("imported %+v, want the dump", got)
	}
	if st := h.sim.Stats(); st.RateLimited != 1 {
		t.Errorf("429 answers = %d, want 1", st.RateLimited)
	}
}
