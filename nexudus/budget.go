package nexudus

import (
	"context"
	"time"
)

// Budget paces calls across every client of a Nexudus account (Nexudus' limits are per account): Wait returns
// when this call may be made, write saying whether it writes. The context says the call's priority.
type Budget interface {
	Wait(ctx context.Context, write bool) error
}

// Priority orders calls competing for a shared Budget: 1 first. Zero (unset) is taken as the lowest.
type Priority int

type priorityKey struct{}

// WithPriority marks the calls made with ctx.
func WithPriority(ctx context.Context, p Priority) context.Context {
	return context.WithValue(ctx, priorityKey{}, p)
}

// PriorityOf is the priority ctx carries, 0 if none.
func PriorityOf(ctx context.Context) Priority {
	p, _ := ctx.Value(priorityKey{}).(Priority)
	return p
}

// CallInterval is the spacing that keeps calls within perMinute in Nexudus' sliding minute: 2% under the rate,
// since calls spaced exactly at it land a few milliseconds closer now and then. Zero for no limit.
func CallInterval(perMinute int) time.Duration {
	if perMinute <= 0 {
		return 0
	}
	return time.Minute * 102 / 100 / time.Duration(perMinute)
}
