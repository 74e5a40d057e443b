package catalog

import (
	"context"
	"testing"
	"time"
)

func TestLedgerSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	for i, op := range []string{"export", "retry", "import"} {
		if err := db.SpendBudget(ctx, Operation{At: now.Add(time.Duration(i*40-90) * time.Minute), Op: op, Ref: "job"}); err != nil {
			t.Fatal(err)
		}
	}
	// A day-old entry is dropped when the next is written.
	if err := db.SpendBudget(ctx, Operation{At: now.Add(-25 * time.Hour), Op: "export"}); err != nil {
		t.Fatal(err)
	}
	if err := db.SpendBudget(ctx, Operation{At: now, Op: "export"}); err != nil {
		t.Fatal(err)
	}
	ops, err := db.BudgetSpent(ctx, now.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(ops) != 3 || ops[0].Op != "retry" || ops[1].Op != "import" || ops[2].Op != "export" {
		t.Fatalf("BudgetSpent(last hour) = %+v, want retry, import, export", ops)
	}
	if all, _ := db.BudgetSpent(ctx, time.Time{}); len(all) != 4 {
		t.Errorf("ledger holds %d entries, want 4 (the day-old one dropped)", len(all))
	}
	if err := db.SetBudgetPausedUntil(ctx, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := db.SetBudgetPausedUntil(ctx, now.Add(time.Minute)); err != nil { // earlier: ignored
		t.Fatal(err)
	}
	if got, err := db.BudgetPausedUntil(ctx); err != nil || !got.Equal(now.Add(time.Hour)) {
		t.Errorf("BudgetPausedUntil = %v, %v; want %v", got, err, now.Add(time.Hour))
	}
}
