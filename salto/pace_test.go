package salto

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"
)

// Queued calls are served by how long they have been due, not by when they asked.
func TestPacerServesTheLongestDueFirst(t *testing.T) {
	base := time.Now().Add(-time.Hour)
	dues := []time.Duration{5, 1, 4, 2, 3} // asked in this order, due in another
	var ctxs []context.Context
	for _, d := range dues {
		ctxs = append(ctxs, WithDue(context.Background(), base.Add(d*time.Minute), time.Time{}))
	}
	if got := servedOrder(t, ctxs); !slices.Equal(got, []int{1, 3, 4, 2, 0}) {
		t.Fatalf("served the calls asked in the order %v as %v, want the longest due first (1 3 4 2 0)", dues, got)
	}
}

// A grant whose access ends before it would be late goes by its end: the short booking caught by an outage is
// served before it is over, ahead of changes due earlier whose access lasts; the rest keep the order they fell
// due in, and a call without a mark counts as due when it asks.
func TestPacerServesAShortGrantBeforeItEnds(t *testing.T) {
	now := time.Now()
	ctxs := []context.Context{
		WithDue(context.Background(), now.Add(-40*time.Second), now.Add(time.Hour)), // 0: due longest, ends in an hour
		context.Background(), // 1: due now, no end
		WithDue(context.Background(), now.Add(-10*time.Second), now.Add(20*time.Second)),     // 2: ends in 20 s
		WithDue(context.Background(), now.Add(-30*time.Second), time.Time{}),                 // 3: no end
		WithDue(context.Background(), now.Add(-5*time.Second), now.Add(LateAfter+time.Hour)), // 4: ends later than late
	}
	if got := servedOrder(t, ctxs); !slices.Equal(got, []int{2, 0, 3, 4, 1}) {
		t.Fatalf("served %v, want 2 0 3 4 1: the grant ending in 20 s first, then by due instant", got)
	}
}

// Background calls (presence, reconciliation) asked first go after every change due within their 10 minutes,
// and still before a change due later than that would be late.
func TestPacerServesBackgroundCallsAfterDueChanges(t *testing.T) {
	now := time.Now()
	bg := AsBackground(context.Background())
	ctxs := []context.Context{
		bg, // 0: presence's entry read, asked first
		AsBackground(WithDue(context.Background(), now.Add(-time.Minute), time.Time{})), // 1: due work stays due work
		bg,                   // 2: reconciliation's list
		context.Background(), // 3: a grant due now
		WithDue(context.Background(), now.Add(-30*time.Second), time.Time{}), // 4: a revoke due 30 s ago
	}
	if got := servedOrder(t, ctxs); !slices.Equal(got, []int{1, 4, 3, 0, 2}) {
		t.Fatalf("served %v, want 1 4 3 0 2: the due changes first, background calls in their order after them", got)
	}
}

// servedOrder queues one call per context (in that order, behind a slot already taken) and returns the indexes
// in the order the pacer served them.
func servedOrder(t *testing.T, ctxs []context.Context) []int {
	t.Helper()
	p := newPacer(20, time.Now) // 50 ms slots
	if err := p.wait(context.Background()); err != nil {
		t.Fatal(err) // takes the free slot: everyone below queues
	}
	var mu sync.Mutex
	var served []int
	var wg sync.WaitGroup
	for i, ctx := range ctxs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := p.wait(ctx); err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			served = append(served, i)
			mu.Unlock()
		}()
		waitQueued(t, p, i+1) // all queue well inside the first 50 ms slot
	}
	wg.Wait()
	return served
}

// Slots are spaced by the rate: n calls in a row take (n-1) intervals, not less.
func TestPacerKeepsTheRate(t *testing.T) {
	p := newPacer(50, time.Now) // 20 ms slots
	const n = 26
	start := time.Now()
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := p.wait(context.Background()); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if took, floor := time.Since(start), time.Duration(n-1)*20*time.Millisecond; took < floor-5*time.Millisecond {
		t.Fatalf("%d calls took %v, faster than the rate allows (%v)", n, took, floor)
	} else if took > 2*floor {
		t.Fatalf("%d calls took %v, far slower than the rate (%v)", n, took, floor)
	}
}

// A caller whose deadline comes before its slot is refused at once, and one that gives up leaves the queue
// without holding up the others.
func TestPacerRefusesSlotsPastTheDeadlineAndForgetsCallersWhoLeave(t *testing.T) {
	p := newPacer(10, time.Now) // 100 ms slots
	if err := p.wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	gone, leave := context.WithCancel(context.Background())
	left := make(chan error, 1)
	go func() { left <- p.wait(gone) }()
	waitQueued(t, p, 1)

	short, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := p.wait(short); err == nil {
		t.Fatal("a slot 100 ms away was given to a caller with 20 ms left")
	} else if time.Since(start) > 10*time.Millisecond {
		t.Fatalf("refused after %v, not at once", time.Since(start))
	}

	leave()
	if err := <-left; err == nil {
		t.Fatal("a caller that gave up was served")
	}
	start = time.Now()
	if err := p.wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 150*time.Millisecond {
		t.Fatalf("the next caller waited %v: the one that left still held a slot", took)
	}
}

func waitQueued(t *testing.T, p *pacer, n int) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		p.mu.Lock()
		q := len(p.waiting)
		p.mu.Unlock()
		if q >= n {
			return
		}
	}
	t.Fatalf("fewer than %d callers queued", n)
}
