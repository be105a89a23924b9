package salto_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/nexsalto/nexsalto/simulators/saltoks"
)

// A burst of calls queues for the client-side rate limit for as long as the caller's context allows: the
// per-request Timeout does not cut the queue short. (Cut short, every call further back than Timeout failed at
// once and its caller backed off, leaving the limit's next slots unused: a thousand grants due at one instant
// then took longer than the rate alone requires.)
func TestRateLimitQueueOutlastsTheRequestTimeout(t *testing.T) {
	h := newHarness(t, saltoks.Options{})
	cfg := h.config()
	cfg.RequestsPerSecond = 20
	cfg.Timeout = 200 * time.Millisecond
	c := h.client(cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.ListSites(ctx); err != nil { // token first, so that only the queue is timed below
		t.Fatal(err)
	}
	const calls = 12 // the last waits about 600 ms for its slot, three times the Timeout
	var wg sync.WaitGroup
	errs := make(chan error, calls)
	for range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.ListSites(ctx)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("a call queued for the rate limit failed: %v", err)
		}
	}
}
