package salto

import (
	"container/heap"
	"context"
	"sync"
	"time"
)

// The client's rate limit serves its slots to the call that has been due longest, not to whoever asked first.
// After an outage every grant and revoke that waited retries within a few seconds; the backlog then drains at
// the rate limit in the order the changes fell due, so the customer who has waited longest gets in first, and
// never faster than the limit, so recovery does not turn into a storm of 429s. (golang.org/x/time/rate serves
// callers in the order they ask.)
//
// One exception: a grant whose access ends sooner than LateAfter after it fell due (a short booking caught by
// the outage) goes by its end instead, so the drain serves it before it is over rather than after. Every call
// is thus served by its deadline, the earlier of "LateAfter after it fell due" and "when it stops being of
// use"; with no end near, that is the order the changes fell due.

// LateAfter is how long after it fell due a change counts as late: the deadline of every call, unless the
// access it grants ends sooner.
const LateAfter = 2 * time.Minute

// BackgroundLateAfter is the deadline of background calls (presence's entry reads, reconciliation's lists),
// counted from when they ask: they take the slots no due change needs, and still get theirs when doors keep
// the limit busy (measured at 50 sites: presence and reconciliation alone kept it busy, and grants queued
// behind them for minutes).
const BackgroundLateAfter = 10 * time.Minute

type dueKey struct{}

type backgroundKey struct{}

// AsBackground marks the calls made with ctx as background work: served after every change that is due.
func AsBackground(ctx context.Context) context.Context {
	return context.WithValue(ctx, backgroundKey{}, true)
}

// IsBackground reports whether ctx was marked by AsBackground.
func IsBackground(ctx context.Context) bool { return ctx.Value(backgroundKey{}) != nil }

type due struct{ since, serveBy time.Time }

// WithDue marks the calls made with ctx as due since t and of use until serveBy (zero: no end), for the
// order in which queued calls get the rate limit's slots. Calls without a mark are due when they ask.
func WithDue(ctx context.Context, t, serveBy time.Time) context.Context {
	if t.IsZero() && serveBy.IsZero() {
		return ctx
	}
	return context.WithValue(ctx, dueKey{}, due{since: t, serveBy: serveBy})
}

// deadlineOf is when the call made with ctx should be served by: LateAfter after it fell due, or the end of the
// access it is for when that is sooner.
func deadlineOf(ctx context.Context, now time.Time) time.Time {
	d, _ := ctx.Value(dueKey{}).(due)
	if d.since.IsZero() && d.serveBy.IsZero() && IsBackground(ctx) {
		return now.Add(BackgroundLateAfter)
	}
	if d.since.IsZero() {
		d.since = now
	}
	dl := d.since.Add(LateAfter)
	if !d.serveBy.IsZero() && d.serveBy.Before(dl) {
		return d.serveBy
	}
	return dl
}

// pacer hands out one slot every interval (burst 1: requests are spaced evenly, so the client never bursts
// past a server-side limit).
type pacer struct {
	interval time.Duration
	now      func() time.Time

	mu      sync.Mutex
	next    time.Time // the earliest instant of the next slot
	waiting waiters
	seq     uint64
	timer   *time.Timer
}

func newPacer(perSecond float64, now func() time.Time) *pacer {
	return &pacer{interval: time.Duration(float64(time.Second) / perSecond), now: now}
}

type waiter struct {
	deadline time.Time
	seq      uint64
	ready    chan struct{}
	index    int // in the heap; -1 once served or gone
}

// wait blocks until the caller's slot. A slot that cannot come before ctx's deadline is refused at once, so a
// caller with a short deadline (a local activity's single try) fails fast instead of queueing in vain.
func (p *pacer) wait(ctx context.Context) error {
	p.mu.Lock()
	now := p.now()
	if len(p.waiting) == 0 && !now.Before(p.next) {
		p.take(now)
		p.mu.Unlock()
		return nil
	}
	w := &waiter{deadline: deadlineOf(ctx, now), seq: p.seq, ready: make(chan struct{})}
	p.seq++
	if dl, ok := ctx.Deadline(); ok && p.slotFor(w, now).After(dl) {
		p.mu.Unlock()
		return context.DeadlineExceeded
	}
	heap.Push(&p.waiting, w)
	p.arm(now)
	p.mu.Unlock()

	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
		p.mu.Lock()
		defer p.mu.Unlock()
		if w.index < 0 { // served while giving up: the slot goes unused
			return ctx.Err()
		}
		heap.Remove(&p.waiting, w.index)
		return ctx.Err()
	}
}

// take uses the slot at now. A timer that fired late does not shift the slots after it (the limit's average
// holds); after an idle spell the slots start again from now.
func (p *pacer) take(now time.Time) {
	base := p.next
	if now.Sub(base) >= p.interval {
		base = now
	}
	p.next = base.Add(p.interval)
}

// slotFor estimates when w would be served: after every waiter ahead of it.
func (p *pacer) slotFor(w *waiter, now time.Time) time.Time {
	ahead := 0
	for _, o := range p.waiting {
		if o.before(w) {
			ahead++
		}
	}
	start := p.next
	if start.Before(now) {
		start = now
	}
	return start.Add(time.Duration(ahead) * p.interval)
}

func (p *pacer) arm(now time.Time) {
	if p.timer != nil || len(p.waiting) == 0 {
		return
	}
	p.timer = time.AfterFunc(max(p.next.Sub(now), 0), p.fire)
}

func (p *pacer) fire() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.timer = nil
	now := p.now()
	if !now.Before(p.next) && len(p.waiting) > 0 {
		w := heap.Pop(&p.waiting).(*waiter)
		close(w.ready)
		p.take(now)
	}
	p.arm(now)
}

func (w *waiter) before(o *waiter) bool {
	if !w.deadline.Equal(o.deadline) {
		return w.deadline.Before(o.deadline)
	}
	return w.seq < o.seq
}

// waiters is a heap of waiters, the one with the earliest deadline on top.
type waiters []*waiter

func (h waiters) Len() int           { return len(h) }
func (h waiters) Less(i, j int) bool { return h[i].before(h[j]) }
func (h waiters) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *waiters) Push(x any) {
	w := x.(*waiter)
	w.index = len(*h)
	*h = append(*h, w)
}
func (h *waiters) Pop() any {
	old := *h
	w := old[len(old)-1]
	old[len(old)-1] = nil
	w.index = -1
	*h = old[:len(old)-1]
	return w
}
