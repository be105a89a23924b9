package service

import (
	"context"
	"testing"
	"time"

	"github.com/nexsalto/nexsalto/access"
	"github.com/nexsalto/nexsalto/metrics"
)

// nexudus.budget local paces calls as the client would by itself and counts them for the budget metrics.
func TestLocalBudgetPacesAndCounts(t *testing.T) {
	b := newLocalBudget(600) // a call every 102 ms
	start := time.Now()
	for i, write := range []bool{false, true, false} {
		if err := b.Wait(context.Background(), write); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if took := time.Since(start); took < 200*time.Millisecond {
		t.Errorf("three calls in %s: not paced at 600 a minute", took)
	}
	used := b.used(time.Now())
	if used[metrics.BudgetCallsMinute] != 3 || used[metrics.BudgetWritesMinute] != 1 || used[metrics.BudgetWritesDay] != 1 {
		t.Errorf("used = %v, want 3 calls and 1 write", used)
	}
	if later := b.used(time.Now().Add(61 * time.Second)); later[metrics.BudgetCallsMinute] != 0 {
		t.Errorf("a minute later: %v, want no call in the last minute", later)
	}
}

// The shared budget's calls of the last minute come from the budget workflow's running totals.
func TestSharedBudgetUseOverTheLastMinute(t *testing.T) {
	c := &collector{}
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	st := access.BudgetState{Reserved: 100, Writes: 10, Day: "2026-03-01", WritesToday: 40}
	if u := c.sharedUse(st, t0); u[metrics.BudgetCallsMinute] != 0 || u[metrics.BudgetWritesDay] != 40 {
		t.Errorf("first sample: %v, want nothing spent yet and 40 writes today", u)
	}
	st.Reserved, st.Writes = 130, 12
	if u := c.sharedUse(st, t0.Add(30*time.Second)); u[metrics.BudgetCallsMinute] != 30 || u[metrics.BudgetWritesMinute] != 2 {
		t.Errorf("after 30 s: %v, want 30 calls and 2 writes", u)
	}
	st.Reserved = 190
	if u := c.sharedUse(st, t0.Add(90*time.Second)); u[metrics.BudgetCallsMinute] != 60 {
		t.Errorf("after 90 s: %v, want the 60 calls since the sample a minute old", u)
	}
	st.Day = "2026-02-28"
	if u := c.sharedUse(st, t0.Add(100*time.Second)); u[metrics.BudgetWritesDay] != 0 {
		t.Errorf("writes of another day counted: %v", u)
	}
}
