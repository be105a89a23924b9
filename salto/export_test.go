package salto

import (
	"context"
	"time"
)

// SetClock replaces the client's clock (token expiry) so tests can move time without sleeping.
func SetClock(c *Client, now func() time.Time) { c.now = now }

// RawDo sends a request the public API has no method for (for example an $orderby the client never uses), so
// tests can see how such answers are classified.
func RawDo(ctx context.Context, c *Client, method, path string, q [][2]string, body any) error {
	return c.do(ctx, method, c.endpoint(path, q), body, nil)
}

// PageRetries is how often a failed page after the first is read again in place.
const PageRetries = pageRetries
