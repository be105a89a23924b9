package nexudus_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nexsalto/nexsalto/nexudus"
	nexudussim "github.com/nexsalto/nexsalto/simulators/nexudus"
)

func TestThrottleRetryAfterHonoured(t *testing.T) {
	e := newEnv(t, nexudussim.Options{})
	c := e.client(t, nil)
	_, err := c.GetCoworker(ctx(t), 1) // log in first: the token call is not throttled anyway
	require.NoError(t, err)

	require.NoError(t, e.sim.SetFaults(nexudussim.Faults{ThrottleNext: 1, RetryAfter: 1}))
	start := time.Now()
	co, err := c.GetCoworker(ctx(t), 1)
	require.NoError(t, err)
	assert.Equal(t, "Ada Lovelace", co.FullName)
	assert.GreaterOrEqual(t, time.Since(start), time.Second, "the client waited Retry-After")
	assert.Equal(t, 1, e.sim.Stats().Throttled)
}

func TestThrottleGivesUpBeyondMaxWait(t *testing.T) {
	e := newEnv(t, nexudussim.Options{})
	c := e.client(t, func(cfg *nexudus.Config) { cfg.MaxThrottleWait = 1500 * time.Millisecond })
	_, err := c.GetCoworker(ctx(t), 1)
	require.NoError(t, err)

	require.NoError(t, e.sim.SetFaults(nexudussim.Faults{ThrottleRate: 1, RetryAfter: 1}))
	start := time.Now()
	_, err = c.GetCoworker(ctx(t), 1)
	elapsed := time.Since(start)
	require.Error(t, err)
	assert.True(t, nexudus.IsThrottled(err))
	assert.True(t, nexudus.IsRetryable(err))
	assert.Equal(t, time.Second, nexudus.RetryAfter(err))
	var ne *nexudus.Error
	require.ErrorAs(t, err, &ne)
	assert.Equal(t, 409, ne.Status)
	assert.NotEmpty(t, ne.Message)
	// One wait of 1s fits in 1.5s; a second would not, so it gives up after two tries.
	assert.GreaterOrEqual(t, elapsed, time.Second)
	assert.Less(t, elapsed, 1900*time.Millisecond, "a second 1s wait would exceed the allowance")
	assert.Equal(t, 2, e.sim.Stats().Throttled)

	// A Retry-After longer than the whole allowance is not waited at all.
	require.NoError(t, e.sim.SetFaults(nexudussim.Faults{ThrottleRate: 1, RetryAfter: 5}))
	start = time.Now()
	_, err = c.GetCoworker(ctx(t), 1)
	assert.True(t, nexudus.IsThrottled(err))
	assert.Equal(t, 5*time.Second, nexudus.RetryAfter(err))
	assert.Less(t, time.Since(start), 500*time.Millisecond)
}

func TestThrottleWaitStopsWithContext(t *testing.T) {
	e := newEnv(t, nexudussim.Options{})
	c := e.client(t, nil)
	require.NoError(t, e.sim.SetFaults(nexudussim.Faults{ThrottleRate: 1, RetryAfter: 10}))
	cctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.GetCoworker(cctx, 1)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 2*time.Second)
	assert.False(t, nexudus.IsRetryable(err))
}

func TestServerCallBudget(t *testing.T) {
	e := newEnv(t, nexudussim.Options{CallsPerMinute: 3})
	c := e.client(t, func(cfg *nexudus.Config) { cfg.MaxThrottleWait = -1 })
	for range 3 {
		_, err := c.GetCoworker(ctx(t), 1)
		require.NoError(t, err)
	}
	_, err := c.GetCoworker(ctx(t), 1)
	require.Error(t, err)
	assert.True(t, nexudus.IsThrottled(err))
	ra := nexudus.RetryAfter(err)
	assert.Greater(t, ra, 50*time.Second, "the slot frees a minute after the first call")
	assert.LessOrEqual(t, ra, 60*time.Second)
}

func TestClientSideBudget(t *testing.T) {
	e := newEnv(t, nexudussim.Options{})
	c := e.client(t, func(cfg *nexudus.Config) { cfg.RequestsPerMinute = 1200; cfg.Auth = nexudus.AuthBasic }) // 20/s, burst 20
	start := time.Now()
	for range 30 {
		_, err := c.GetBusiness(ctx(t), 1)
		require.NoError(t, err)
	}
	assert.GreaterOrEqual(t, time.Since(start), 450*time.Millisecond, "10 calls beyond the burst wait 50ms each")
}

func TestServerErrorsAreRetryable(t *testing.T) {
	e := newEnv(t, nexudussim.Options{})
	c := e.client(t, nil)
	require.NoError(t, e.sim.SetFaults(nexudussim.Faults{ErrorNext: 1}))
	_, err := c.GetCoworker(ctx(t), 1)
	var ne *nexudus.Error
	require.ErrorAs(t, err, &ne)
	assert.Equal(t, 500, ne.Status)
	assert.True(t, nexudus.IsRetryable(err))
	_, err = c.GetCoworker(ctx(t), 1)
	assert.NoError(t, err, "only the next call was failed")

	_, err = c.GetCoworker(ctx(t), 999)
	assert.True(t, nexudus.IsNotFound(err))
	assert.False(t, nexudus.IsRetryable(err))

	dead := e.client(t, func(cfg *nexudus.Config) { cfg.BaseURL = "http://127.0.0.1:1"; cfg.Auth = nexudus.AuthBasic })
	_, err = dead.GetCoworker(ctx(t), 1)
	require.ErrorAs(t, err, &ne)
	assert.Zero(t, ne.Status)
	assert.True(t, nexudus.IsRetryable(err), "network failures are retryable: %v", err)
}

func TestAttemptTimeoutIsRetryable(t *testing.T) {
	e := newEnv(t, nexudussim.Options{})
	c := e.client(t, func(cfg *nexudus.Config) { cfg.Timeout = 100 * time.Millisecond; cfg.Auth = nexudus.AuthBasic })
	require.NoError(t, e.sim.SetFaults(nexudussim.Faults{Latency: 300 * time.Millisecond}))
	_, err := c.GetCoworker(ctx(t), 1)
	require.Error(t, err)
	assert.True(t, nexudus.IsRetryable(err), "%v", err)
}
