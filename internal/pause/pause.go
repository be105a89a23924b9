// Package pause waits a while, or less when the caller's context ends first: the clients' and the
// activities' waits between tries.
package pause

import (
	"context"
	"time"
)

// For waits d, or until ctx ends, whose error it then returns.
func For(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
