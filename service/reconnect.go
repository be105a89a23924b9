package service

import (
	"context"
	"errors"
	"strings"
	"time"

	"go.temporal.io/api/serviceerror"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
)

// After the Temporal service was away (a restart, a network cut), the worker must take up the work that fell
// due at once: grants that waited for the service are doors someone stands in front of. Left to the SDK's
// settings a worker resumed 10.5 s after a 20 s restart of the service, because three backoffs, each up to
// 7–10 s, stand between the service coming back and the next poll: gRPC's reconnect, the SDK's retries of a
// long poll inside the call, and the SDK's pause between failed polls. resumeAtOnce shortens all three.
func resumeAtOnce() []grpc.DialOption {
	return []grpc.DialOption{
		// Redial within a second, however long the service has been away; a dial attempt a second to a service
		// that is down costs nothing worth saving.
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff: backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2,
				MaxDelay: time.Second},
			MinConnectTimeout: 5 * time.Second,
		}),
		// The one outer interceptor (the SDK's own retries are chained inside it).
		grpc.WithUnaryInterceptor(pollAgainOnReconnect),
	}
}

// pollAgainOnReconnect runs a long poll so that the service coming back is seen at once. While the service is
// away the poll does not fail (a failed poll makes the SDK pause up to 10 s before the next one): it waits for
// the connection and polls again as soon as it is ready, and a connection coming back also cuts short the
// SDK's own wait between its retries inside the call. A poll that outlives its deadline while the service is
// away answers empty, as the service itself does when a long poll times out, and the SDK polls again. Other
// calls pass through.
func pollAgainOnReconnect(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn,
	invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	if !isLongPoll(method) {
		return invoker(ctx, method, req, reply, cc, opts...)
	}
	for {
		pctx, cancel := context.WithCancel(ctx)
		watched := make(chan bool, 1)
		go func() { watched <- cutWhenBack(pctx, cc, cancel) }()
		err := invoker(pctx, method, req, reply, cc, opts...)
		cut := pctx.Err() != nil && ctx.Err() == nil // ended by cutWhenBack, not by the caller
		cancel()
		away := <-watched
		switch {
		case err == nil:
			return nil
		case ctx.Err() != nil:
			if errors.Is(ctx.Err(), context.DeadlineExceeded) && (away || unavailable(err)) {
				return nil // an empty answer: no task, poll again
			}
			return err
		case cut:
			continue // the connection is back: poll again now
		case !unavailable(err):
			return err
		}
		if !waitReady(ctx, cc) {
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return nil
			}
			return ctx.Err()
		}
	}
}

// waitReady waits until the connection is ready. A connection that is ready already (the service answered
// "unavailable" itself, say while it starts) is given a moment before the next try.
func waitReady(ctx context.Context, cc *grpc.ClientConn) bool {
	if cc.GetState() == connectivity.Ready {
		t := time.NewTimer(200 * time.Millisecond)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return true
		}
	}
	for {
		st := cc.GetState()
		switch st {
		case connectivity.Ready:
			return true
		case connectivity.Idle:
			cc.Connect()
		}
		if !cc.WaitForStateChange(ctx, st) {
			return false
		}
	}
}

// cutWhenBack watches the connection until ctx ends, and cancels the call once the connection is ready again
// after it was not. It reports whether the connection was away meanwhile.
func cutWhenBack(ctx context.Context, cc *grpc.ClientConn, cut context.CancelFunc) bool {
	away := false
	for {
		st := cc.GetState()
		if st == connectivity.Ready && away {
			cut()
			return true
		}
		if st != connectivity.Ready && st != connectivity.Idle {
			away = true
		}
		if !cc.WaitForStateChange(ctx, st) {
			return away
		}
	}
}

func isLongPoll(method string) bool {
	i := strings.LastIndexByte(method, '/')
	return strings.HasPrefix(method[i+1:], "Poll") && strings.Contains(method, "WorkflowService/")
}

// unavailable reports a call that failed because the service could not be reached (the SDK's interceptors
// have turned the gRPC status into a serviceerror by then).
func unavailable(err error) bool {
	c := serviceerror.ToStatus(err).Code()
	return c == codes.Unavailable || c == codes.DeadlineExceeded
}
