package service_test

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/nexsalto/nexsalto/access"
	"github.com/nexsalto/nexsalto/config"
	nexudussim "github.com/nexsalto/nexsalto/simulators/nexudus"
	"github.com/nexsalto/nexsalto/simulators/saltoks"
)

// BenchmarkThousandGrantsAtOneInstant: 1,000 customers whose customer workflows know their Salto user, 1,000
// bookings granting at the same instant T, Salto limited to 20 requests/s (the simulator answers 429 above it,
// the worker's client is configured to 20/s). Each grant is one Salto call, so the rate limit alone puts the
// last one at T + 50 s. Budget: every grant lands, the last by T + 1000/20 s + 10 s.
func BenchmarkThousandGrantsAtOneInstant(b *testing.B) {
	const (
		n        = 1000
		saltoRPS = 20
	)
	rec := newGrantLog()
	e := newEnv(b, envOptions{lead: 0, lag: time.Second, policy: config.PolicyKeep, saltoRPS: 500, nexudusRPM: 600000,
		saltoHandler: rec.wrap, noWebhooks: true, noSync: true})
	ctx, cancel := context.WithTimeout(e.ctx, 20*time.Minute)
	defer cancel()
	ids, platform := benchCustomers(b, e, 3000, n)

	// Warm-up, Salto unlimited: a day pass per customer starts its customer workflow, which links the Salto
	// user and adds the pass's groups.
	var ds nexudussim.Dataset
	refs := make([]access.Ref, n)
	expires := time.Now().Add(3 * time.Hour)
	for i, id := range ids {
		ds.CoworkerTimePasses = append(ds.CoworkerTimePasses, nexudussim.CoworkerTimePass{Base: nexudussim.Base{Id: 50000 + i},
			CoworkerId: id, BusinessId: business, TimePassId: dayPassID, ExpireDate: nexudussim.At(expires)})
		refs[i] = access.Ref{Kind: access.KindPass, ID: int64(50000 + i)}
	}
	if _, err := e.nexsim.Seed(ds); err != nil {
		b.Fatal(err)
	}
	began := time.Now()
	if err := startAll(ctx, e, refs, 16); err != nil {
		b.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Minute)
	ok := waitUntil(wctx, 200*time.Millisecond, func() bool { return rec.count(gEntrance, platform) == n })
	wcancel()
	if !ok {
		b.Fatalf("warm-up: %d of %d customers granted their pass", rec.count(gEntrance, platform), n)
	}
	b.Logf("warm-up: %d customers linked and granted a pass in %s", n, time.Since(began).Round(time.Second))
	time.Sleep(2 * time.Second) // let the customer workflows publish and go to sleep

	// Salto now limited to 20 requests/s, on both sides.
	e.restartWorker(func(c *config.Config) { c.Salto.RequestsPerSecond = saltoRPS })
	if err := e.salto.SetFaults(saltoks.Faults{RequestsPerSecond: saltoRPS}); err != nil {
		b.Fatal(err)
	}
	e.salto.ResetStats()
	rec.resetStatuses()

	T := time.Now().Add(75 * time.Second).Truncate(time.Second)
	bookings := seedBookings(b, e, 60000, boothID, ids, T, T.Add(time.Hour))
	for i, bk := range bookings {
		refs[i] = access.Ref{Kind: access.KindBooking, ID: int64(bk.Id)}
	}
	began = time.Now()
	if err := startAll(ctx, e, refs, 16); err != nil {
		b.Fatal(err)
	}
	query := "AccessKind = 'booking' AND AccessState = 'scheduled' AND ExecutionStatus = 'Running'"
	var scheduled int64
	sctx, scancel := context.WithDeadline(ctx, T)
	waitUntil(sctx, time.Second, func() bool {
		scheduled, _ = countWorkflows(ctx, e, query)
		return scheduled >= n
	})
	scancel()
	b.Logf("%d booking workflows started and %d sleeping to T after %s (T − %s)", n, scheduled,
		time.Since(began).Round(time.Second), time.Until(T).Round(time.Second))
	if rec.count(gBooth, platform) > 0 {
		b.Fatalf("%d grants before T", rec.count(gBooth, platform))
	}

	bound := time.Duration(n/saltoRPS)*time.Second + 10*time.Second
	time.Sleep(time.Until(T))
	b.ResetTimer()
	cpu0 := cpuTime()
	dctx, dcancel := context.WithDeadline(ctx, T.Add(bound+60*time.Second))
	waitUntil(dctx, 100*time.Millisecond, func() bool { return rec.count(gBooth, platform) == n })
	dcancel()
	b.StopTimer()
	cpu, wall := cpuTime()-cpu0, time.Since(T)

	var delays []time.Duration
	for _, p := range platform {
		if t, ok := rec.at(gBooth, p); ok {
			delays = append(delays, t.Sub(T))
		}
	}
	slices.Sort(delays)
	last := percentile(delays, 1)
	st := e.salto.Stats()
	b.ReportMetric(float64(len(delays)), "landed")
	b.ReportMetric(last.Seconds(), "last_s")
	b.ReportMetric(bound.Seconds(), "bound_s")
	b.ReportMetric(percentile(delays, .5).Seconds(), "p50_s")
	b.ReportMetric(float64(rec.status(http.StatusTooManyRequests)), "salto_429s")
	b.Logf("%d of %d grants landed; first %.1f s, p50 %.1f s, p99 %.1f s, last %.1f s after T (bound %s = %d/%d s + 10 s)",
		len(delays), n, percentile(delays, 0).Seconds(), percentile(delays, .5).Seconds(), percentile(delays, .99).Seconds(),
		last.Seconds(), bound, n, saltoRPS)
	b.Logf("Salto after the restart: %d calls %v, answers %v; CPU of this process %.2f cores from T to the last grant",
		st.Total, st.Calls, st.Responses, cpu.Seconds()/wall.Seconds())
	// Grants per 5 s after T: a steady 100 is the rate limit at work; gaps are time the limit left unused.
	var buckets []int
	for _, d := range delays {
		i := int(d / (5 * time.Second))
		for len(buckets) <= i {
			buckets = append(buckets, 0)
		}
		buckets[i]++
	}
	b.Logf("grants per 5 s after T: %v", buckets)
	// Workflow tasks that timed out before a worker took them (sticky queue of a worker that is gone, or a
	// worker too busy to poll) in a sample of the customer workflows.
	// Where the time goes, from the same sample: T → the booking's signal reaching the customer workflow (timer
	// tasks, booking workflow tasks) and that signal → the grant (customer workflow task, rate limit, Salto).
	timedOut, sampled := 0, 0
	var toSignal, toGrant []time.Duration
	for i, id := range ids[:50] {
		wfID := access.CustomerKey{LocationID: business, CoworkerID: int64(id)}.WorkflowID()
		hist, _ := e.history(wfID) // a sample: what could be read
		for _, ev := range hist {
			switch ev.GetEventType() {
			case enumspb.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT:
				timedOut++
			case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
				if at := ev.GetEventTime().AsTime(); !at.Before(T) {
					toSignal = append(toSignal, at.Sub(T))
					if g, ok := rec.at(gBooth, platform[i]); ok {
						toGrant = append(toGrant, g.Sub(at))
					}
				}
			}
		}
		sampled++
	}
	// The bookings' grant timers (a timer runs from when the server takes the command, so a late workflow task
	// moves it) and their workflow tasks after T that timed out before a worker took them.
	var drift, fired []time.Duration
	bookingTimeouts := 0
	for _, ref := range refs[:50] {
		hist, _ := e.history(ref.WorkflowID())
		var due time.Time
		for _, ev := range hist {
			switch ev.GetEventType() {
			case enumspb.EVENT_TYPE_TIMER_STARTED:
				if due.IsZero() {
					due = ev.GetEventTime().AsTime().Add(ev.GetTimerStartedEventAttributes().GetStartToFireTimeout().AsDuration())
					drift = append(drift, due.Sub(T))
				}
			case enumspb.EVENT_TYPE_TIMER_FIRED:
				if len(fired) < len(drift) {
					fired = append(fired, ev.GetEventTime().AsTime().Sub(due))
				}
			case enumspb.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT:
				bookingTimeouts++
			}
		}
	}
	slices.Sort(drift)
	slices.Sort(fired)
	b.Logf("50 booking workflows: grant timer due T + p50 %.1f s (max %.1f s), fired p50 %.1f s after due; "+
		"workflow tasks timed out before a worker took them: %d", percentile(drift, .5).Seconds(),
		percentile(drift, 1).Seconds(), percentile(fired, .5).Seconds(), bookingTimeouts)
	slices.Sort(toSignal)
	slices.Sort(toGrant)
	b.Logf("in %d customer workflows: T → booking's signal p50 %.1f s, max %.1f s; signal → grant p50 %.1f s, max %.1f s; "+
		"workflow tasks timed out before a worker started them: %d", sampled, percentile(toSignal, .5).Seconds(),
		percentile(toSignal, 1).Seconds(), percentile(toGrant, .5).Seconds(), percentile(toGrant, 1).Seconds(), timedOut)
}
