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
func (e *env) sharedClient() *nexudus.Client {
	e.t.Helper()
	nc := service.NexudusConfig(e.cfg.Nexudus)
	nc.Budget = &budget.Shared{Temporal: e.tc, TaskQueue: access.BudgetTaskQueue(e.cfg.Temporal.TaskQueue),
		Limits: access.BudgetInput{CallsPerMinute: e.cfg.Nexudus.RequestsPerMinute,
			WritesPerMinute: e.cfg.Nexudus.WritesPerMinute, WritesPerDay: e.cfg.Nexudus.WritesPerDay}}
	c, err := nexudus.New(nc)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// Two worker replicas hammering Nexudus share the account's documented 120 calls a minute between them, not
// 120 each: over 15 s they make at most 15 s / 510 ms + 1 calls together, Nexudus throttles none, and a
// replica's urgent read waits behind background work for at most the 2 s background may queue ahead.
func TestTwoReplicasShareTheNexudusBudget(t *testing.T) {
	e := newEnv(t, envOptions{lead: time.Second, lag: time.Second, policy: config.PolicyKeep, nexudusRPM: 120,
		nexudusSimRPM: 120, noWebhooks: true, noSync: true})
	replicas := []*nexudus.Client{e.sharedClient(), e.sharedClient()}
	e.nexsim.ResetStats()
	began := time.Now()
	ctx, cancel := context.WithTimeout(e.ctx, 15*time.Second)
	defer cancel()
	bg := nexudus.WithPriority(ctx, nexudus.Priority(access.PriorityBackground))
	var calls [2]atomic.Int64
	var wg sync.WaitGroup
	for i, c := range replicas {
		for range 4 { // each replica reconciles with 4 calls in flight
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					if _, err := c.GetCoworker(bg, 100); err != nil {
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
