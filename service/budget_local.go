package service

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/nexsalto/nexsalto/access"
	"github.com/nexsalto/nexsalto/metrics"
	"github.com/nexsalto/nexsalto/nexudus"
)

// localBudget is nexudus.budget local: the pacing the Nexudus client does by itself (calls a minute/
// requests_per_minute apart, no burst), plus a count of the calls it let through, for the budget metrics.
type localBudget struct {
	limiter *rate.Limiter // nil: no limit

	mu            sync.Mutex
	calls, writes []time.Time // within the last minute
	day           string
	writesToday   int64
}

func newLocalBudget(perMinute int) *localBudget {
	b := &localBudget{}
	if perMinute > 0 {
		b.limiter = rate.NewLimiter(rate.Every(nexudus.CallInterval(perMinute)), 1)
	}
	return b
}

// Wait is nexudus.Budget's: every HTTP attempt of the client waits here first.
func (b *localBudget) Wait(ctx context.Context, write bool) error {
	if b.limiter != nil {
		if err := b.limiter.Wait(ctx); err != nil {
			return err
		}
	}
	now := time.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.prune(now)
	b.calls = append(b.calls, now)
	if write {
		b.writes = append(b.writes, now)
		if d := access.BudgetDay(now); d != b.day {
			b.day, b.writesToday = d, 0
		}
		b.writesToday++
	}
	return nil
}

func (b *localBudget) prune(now time.Time) {
	drop := func(ts []time.Time) []time.Time {
		i := 0
		for i < len(ts) && now.Sub(ts[i]) >= time.Minute {
			i++
		}
		return append(ts[:0], ts[i:]...)
	}
	b.calls, b.writes = drop(b.calls), drop(b.writes)
}

// used is the calls of the last minute and of the UTC day, by window.
func (b *localBudget) used(now time.Time) map[string]int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.prune(now)
	today := int64(0)
	if b.day == access.BudgetDay(now) {
		today = b.writesToday
	}
	return map[string]int64{metrics.BudgetCallsMinute: int64(len(b.calls)),
		metrics.BudgetWritesMinute: int64(len(b.writes)), metrics.BudgetWritesDay: today}
}
