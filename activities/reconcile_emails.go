package activities

import (
	"context"
	"sync"
	"time"
)

// accountEmailsMaxAge is how long one read of the account's coworkers serves the reconciliations of every
// location in this worker. They run together (each location's schedule, every 15 min by default), so they
// share one read per round (those that start while it runs wait for it), and the next round reads afresh.
const accountEmailsMaxAge = 2 * time.Minute

// accountEmails is the account's coworker email index. The coworker list is account-wide: read by each
// location, 50 locations of 25,000 coworkers cost 1,250 calls a round (25 pages each), 70% of the 1,755 the
// account's budget has in 15 min (measured: 1,084 list pages in 20 min of the 50-location benchmark).
type accountEmails struct {
	mu      sync.Mutex
	read    time.Time // when the kept index's read began
	emails  map[string][]int64
	reading chan struct{} // closed when the read in progress ends; nil when none is
}

// get returns an index read within accountEmailsMaxAge, reading it when there is none: one caller reads, the
// others wait for it (calling wait now and then, for their heartbeats) and read themselves if it fails. The
// index is shared: callers only read it.
func (x *accountEmails) get(ctx context.Context, now func() time.Time, read func(context.Context) (map[string][]int64, error),
	wait func()) (map[string][]int64, error) {
	for {
		x.mu.Lock()
		if x.emails != nil && now().Sub(x.read) < accountEmailsMaxAge {
			m := x.emails
			x.mu.Unlock()
			return m, nil
		}
		if ch := x.reading; ch != nil {
			x.mu.Unlock()
			if err := waitClosed(ctx, ch, wait); err != nil {
				return nil, err
			}
			continue
		}
		ch := make(chan struct{})
		x.reading = ch
		began := now()
		x.mu.Unlock()
		m, err := read(ctx)
		x.mu.Lock()
		if err == nil {
			x.emails, x.read = m, began
		}
		x.reading = nil
		close(ch)
		x.mu.Unlock()
		return m, err
	}
}

// waitClosed waits for ch, calling beat every 10 s, until ctx ends.
func waitClosed(ctx context.Context, ch <-chan struct{}, beat func()) error {
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ch:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			beat()
		}
	}
}
