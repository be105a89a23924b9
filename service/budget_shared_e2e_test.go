package service_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nexsalto/nexsalto/access"
	"github.com/nexsalto/nexsalto/budget"
	"github.com/nexsalto/nexsalto/config"
	"github.com/nexsalto/nexsalto/nexudus"
	"github.com/nexsalto/nexsalto/service"
)

// sharedClient is the Nexudus client another worker replica of the account would have.
func (e *env) sharedClient() (*nexudus.Client, *budget.Shared) {
	e.t.Helper()
	nc := service.NexudusConfig(e.cfg.Nexudus)
	b := &budget.Shared{Temporal: e.tc, TaskQueue: access.BudgetTaskQueue(e.cfg.Temporal.TaskQueue),
		Limits: access.BudgetInput{CallsPerMinute: e.cfg.Nexudus.RequestsPerMinute,
			WritesPerMinute: e.cfg.Nexudus.WritesPerMinute, WritesPerDay: e.cfg.Nexudus.WritesPerDay}}
	nc.Budget = b
	c, err := nexudus.New(nc)
	if err != nil {
		e.t.Fatal(err)
	}
	return c, b
}

// Two worker replicas hammering Nexudus share the account's documented 120 calls a minute between them, not
// 120 each: over 15 s they make at most 15 s / 510 ms + 1 calls together, Nexudus throttles none, and a
// replica's urgent read waits behind background work for at most the 2 s background may queue ahead. Each
// replica has 50 callers (a chain's presence tracking and reconciliation), and asks for all its waiting calls
// in one update at a time: fewer updates than calls, and none refused by the server.
func TestTwoReplicasShareTheNexudusBudget(t *testing.T) {
	e := newEnv(t, envOptions{lead: time.Second, lag: time.Second, policy: config.PolicyKeep, nexudusRPM: 120,
		nexudusSimRPM: 120, noWebhooks: true, noSync: true})
	c0, b0 := e.sharedClient()
	c1, b1 := e.sharedClient()
	replicas, budgets := []*nexudus.Client{c0, c1}, []*budget.Shared{b0, b1}
	e.nexsim.ResetStats()
	began := time.Now()
	ctx, cancel := context.WithTimeout(e.ctx, 15*time.Second)
	defer cancel()
	bg := nexudus.WithPriority(ctx, nexudus.Priority(access.PriorityBackground))
	var calls [2]atomic.Int64
	var wg sync.WaitGroup
	for i, c := range replicas {
		for range 50 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					if _, err := c.GetCoworker(bg, 100); err != nil {
						if ctx.Err() == nil {
							t.Errorf("a background read failed: %v", err)
						}
						return
					}
					calls[i].Add(1)
				}
			}()
		}
	}
	var worst time.Duration
	urgent := nexudus.WithPriority(e.ctx, nexudus.Priority(access.PriorityUrgent))
	for range 3 {
		time.Sleep(1500 * time.Millisecond)
		asked := time.Now()
		if _, err := replicas[1].GetCoworker(urgent, 101); err != nil {
			t.Fatal(err)
		}
		worst = max(worst, time.Since(asked))
	}
	wg.Wait()
	elapsed := time.Since(began)
	total := calls[0].Load() + calls[1].Load() + 3
	t.Logf("%s: %d + %d background calls, 3 urgent; worst urgent wait %s; %d throttled", elapsed.Round(time.Millisecond),
		calls[0].Load(), calls[1].Load(), worst.Round(time.Millisecond), e.nexsim.Stats().Throttled)
	if max := int64(elapsed/(510*time.Millisecond)) + 1; total > max {
		t.Errorf("%d calls in %s, the account's budget allows %d", total, elapsed.Round(time.Millisecond), max)
	}
	var accepted int64
	for i, b := range budgets {
		st := b.Stats()
		accepted += st.Updates - st.Rejected - st.Retried
		t.Logf("replica %d: %d calls, %d updates (%d rejected whole, %d refused by the server)", i, calls[i].Load(),
			st.Updates, st.Rejected, st.Retried)
		if st.Rejected > int64(elapsed/(100*time.Millisecond)) {
			t.Errorf("replica %d was turned away %d times in %s: more than once per 100 ms", i, st.Rejected, elapsed)
		}
		if st.Retried != 0 {
			t.Errorf("the server refused %d of replica %d's updates (too many in flight?)", st.Retried, i)
		}
	}
	// Each accepted update spends at least one of the account's instants (one per 510 ms, and background
	// work reserves up to 2 s ahead of the end; the 3 urgent reads may go further).
	if bound := int64((elapsed+2*time.Second)/(510*time.Millisecond)) + 1 + 3; accepted > bound {
		t.Errorf("%d accepted updates, more than the %d instants the budget had to give", accepted, bound)
	}
	if calls[0].Load() == 0 || calls[1].Load() == 0 {
		t.Errorf("a replica made no call: %d, %d", calls[0].Load(), calls[1].Load())
	}
	if n := e.nexsim.Stats().Throttled; n != 0 {
		t.Errorf("Nexudus throttled %d calls", n)
	}
	if worst > 2600*time.Millisecond {
		t.Errorf("an urgent read waited %s behind background work", worst)
	}
}

// A call whose caller leaves before its instant (a timed-out activity) has spent the account's budget either
// way: the next caller of the process makes its call at that instant instead of queueing behind it. Twelve
// urgent reads asked at once get instants 0 … 5.6 s; eight new ones asked at 1.9 s get 6.1 … 9.7 s; when the
// eight with the latest instants of the first twelve leave at 2 s, the new ones are moved to the instants they
// left and are all served within 6 s.
func TestALeftCallersInstantServesTheNextCaller(t *testing.T) {
	e := newEnv(t, envOptions{lead: time.Second, lag: time.Second, policy: config.PolicyKeep, nexudusRPM: 120,
		nexudusSimRPM: 120, noWebhooks: true, noSync: true})
	c, b := e.sharedClient()
	urgent := nexudus.WithPriority(e.ctx, nexudus.Priority(access.PriorityUrgent))
	// The budget workflow runs and the client has its token before the clock starts.
	if _, err := c.GetCoworker(urgent, 100); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	began := time.Now()
	leaving, cancel := context.WithTimeout(urgent, 2*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	var left, served atomic.Int64
	for range 12 {
		wg.Go(func() {
			if _, err := c.GetCoworker(leaving, 100); err != nil {
				left.Add(1)
			}
		})
	}
	time.Sleep(1900 * time.Millisecond)
	var last atomic.Int64
	for range 8 {
		wg.Go(func() {
			if _, err := c.GetCoworker(urgent, 101); err != nil {
				t.Errorf("a new caller's read: %v", err)
				return
			}
			served.Add(1)
			last.Store(max(last.Load(), int64(time.Since(began))))
		})
	}
	wg.Wait()
	st := b.Stats()
	t.Logf("%d of 12 left; 8 new callers served by +%s; %d instants reused, %d updates, %d throttled", left.Load(),
		time.Duration(last.Load()).Round(time.Millisecond), st.Reused, st.Updates, e.nexsim.Stats().Throttled)
	if left.Load() < 7 {
		t.Fatalf("only %d callers left before their instant: the test's premise failed", left.Load())
	}
	if st.Reused < left.Load() || served.Load() != 8 {
		t.Errorf("%d instants reused for %d callers that left (%d new ones served)", st.Reused, left.Load(), served.Load())
	}
	if d := time.Duration(last.Load()); d > 6*time.Second {
		t.Errorf("the new callers were served by +%s: they queued behind the instants others left", d.Round(time.Millisecond))
	}
	if n := e.nexsim.Stats().Throttled; n != 0 {
		t.Errorf("Nexudus throttled %d calls", n)
	}
}
