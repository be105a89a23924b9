package activities

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	nexudussim "github.com/nexsalto/nexsalto/simulators/nexudus"
)

// The coworker list is the account's: the reconciliations of several locations that run together read it
// once between them, a reconciliation 2 min later reads it again, and the index has every coworker's email.
func TestLocationsShareOneReadOfTheAccountsCoworkers(t *testing.T) {
	now := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	a, sim := newLoader(t, now)
	var mu sync.Mutex
	a.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	var more []nexudussim.Coworker
	for i := range 2*reconcilePageSize + 10 { // three pages
		more = append(more, nexudussim.Coworker{Base: nexudussim.Base{Id: 1000 + i}, FullName: "C",
			Email: "c" + string(rune('a'+i%26)) + "@example.com", Active: true})
	}
	more[0].Email = "Ana@Example.com" // a second coworker with Ana's email
	if _, err := sim.Seed(nexudussim.Dataset{Coworkers: more}); err != nil {
		t.Fatal(err)
	}
	lists := func() int { return sim.Stats().Calls["GET /api/spaces/coworkers"] }
	sim.ResetStats()
	var wg sync.WaitGroup
	snaps := make([]snapshot, 5)
	for i := range snaps {
		wg.Go(func() {
			if err := a.readCoworkers(context.Background(), &snaps[i], func() {}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if got := lists(); got != 3 {
		t.Errorf("5 locations reconciling together read %d pages of coworkers, want 3 (one read)", got)
	}
	for i, s := range snaps {
		if !slices.Equal(s.Emails["ana@example.com"], []int64{100, 1000}) {
			t.Errorf("location %d: Ana's email is %v's", i, s.Emails["ana@example.com"])
		}
	}
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	var s snapshot
	if err := a.readCoworkers(context.Background(), &s, func() {}); err != nil {
		t.Fatal(err)
	}
	if got := lists(); got != 6 {
		t.Errorf("a reconciliation 2 min later read %d pages in all, want 6 (a read of its own)", got-3)
	}
}
