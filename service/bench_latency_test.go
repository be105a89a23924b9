package service_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nexsalto/nexsalto/config"
	"github.com/nexsalto/nexsalto/nexudus"
	"github.com/nexsalto/nexsalto/service"
	nexudussim "github.com/nexsalto/nexsalto/simulators/nexudus"
)

// BenchmarkWebhookToSaltoLatency: a booking that is due now, announced by a signed webhook posted straight to
// the worker's receiver at a steady rate for 20 s; the latency is from the POST to Salto answering the add of
// the customer's platform user to the room's access group (the last of the room's two groups). The signed
// webhook's body stands for the booking's read. In the "new" runs each customer has a Salto user with the same
// email but no customer workflow yet, so every webhook costs one Nexudus read (the coworker, to find the Salto
// user) and three Salto calls (find by email, two adds). In the "known" runs every customer already holds a
// booth booking (granted before the measurement), so the room costs no Nexudus read at all.
// The change poller and reconciliation are off: they would find the seeded bookings before the webhooks.
//
// Budget: p99 under 300 ms for known customers at 20 webhooks/s within Nexudus' documented 120 calls/min; the
// rates below 20 find where this machine's limit lies, and the CPU per webhook says why: the embedded server,
// the worker and the simulators share the two cores. New customers need a read each, so at the documented
// budget they are bounded by it (2 a second); the raised runs show the latency without that bound.
func BenchmarkWebhookToSaltoLatency(b *testing.B) {
	b.Run("nexudus=120per_min/customers=known/rate=20", func(b *testing.B) { benchWebhookLatency(b, 20, 400, 0, 120, true) })
	b.Run("nexudus=120per_min/customers=new/rate=2", func(b *testing.B) { benchWebhookLatency(b, 2, 40, 0, 120, false) })
	b.Run("nexudus=120per_min/customers=new/rate=20", func(b *testing.B) { benchWebhookLatency(b, 20, 40, 0, 120, false) })
	for _, rate := range []int{5, 20} {
		b.Run(fmt.Sprintf("nexudus=raised/customers=new/rate=%d", rate), func(b *testing.B) {
			benchWebhookLatency(b, rate, 20*rate, 20, 12000, false)
		})
	}
}

func benchWebhookLatency(b *testing.B, perSecond, n, warm, nexudusRPM int, known bool) {
	rec := newGrantLog()
	e := newEnv(b, envOptions{lead: time.Second, lag: time.Second, policy: config.PolicyKeep, saltoRPS: 100,
		nexudusRPM: nexudusRPM, nexudusSimRPM: nexudusRPM, saltoHandler: rec.wrap, noWebhooks: true, noSync: true})
	ids, platform := benchCustomers(b, e, 1000, warm+n)
	now := time.Now().Truncate(time.Second)
	bookings := seedBookings(b, e, 10000, roomID, ids, now, now.Add(2*time.Hour))
	url := service.WebhookURL(e.hookURL, e.cfg.Webhooks.PathPrefix, nexudus.ActionBookingCreate, "")
	hc := &http.Client{Timeout: 20 * time.Second}
	var refused atomic.Int64
	send := func(bk nexudussim.Booking) {
		if code, err := bookingWebhook(e.ctx, hc, url, bk); err != nil || code != http.StatusOK {
			refused.Add(1)
		}
	}
	// Warm-up outside the measurement: pollers, connections, the Salto token.
	if warm > 0 {
		for i := range warm {
			send(bookings[i])
		}
		ctx, cancel := context.WithTimeout(e.ctx, time.Minute)
		ok := waitUntil(ctx, 50*time.Millisecond, func() bool { return rec.count(gRoom, platform[:warm]) == warm })
		cancel()
		if !ok {
			b.Fatalf("warm-up: %d of %d granted", rec.count(gRoom, platform[:warm]), warm)
		}
		time.Sleep(time.Second)
	}
	if known {
		// Each measured customer is linked first, by a booth booking, at the pace Nexudus' budget allows.
		booths := seedBookings(b, e, 50000, boothID, ids[warm:], now, now.Add(2*time.Hour))
		for i, bk := range booths {
			send(bk)
			if i%10 == 9 {
				time.Sleep(200 * time.Millisecond)
			}
		}
		ctx, cancel := context.WithTimeout(e.ctx, 10*time.Minute)
		ok := waitUntil(ctx, 100*time.Millisecond, func() bool { return rec.count(gBooth, platform[warm:]) == n })
		cancel()
		if !ok {
			b.Fatalf("linking: %d of %d in the booth", rec.count(gBooth, platform[warm:]), n)
		}
		time.Sleep(time.Second)
	}
	readsBefore, saltoBefore, throttledBefore := nexudusReads(e), e.salto.Stats().Total, e.nexsim.Stats().Throttled
	bookings, platform = bookings[warm:], platform[warm:]

	b.ResetTimer()
	cpu0 := cpuTime()
	sent := make([]time.Time, n)
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Second / time.Duration(perSecond))
	begin := time.Now()
	for i := range n {
		<-tick.C
		sent[i] = time.Now()
		wg.Add(1)
		go func() { defer wg.Done(); send(bookings[i]) }()
	}
	tick.Stop()
	rate := float64(n-1) / sent[n-1].Sub(begin).Seconds()
	// Bounded: at the documented budget the reads alone take n·2 / (budget/60) seconds.
	within := 90*time.Second + time.Duration(float64(2*n)/(float64(nexudusRPM)/60)*float64(time.Second))
	ctx, cancel := context.WithTimeout(e.ctx, within)
	waitUntil(ctx, 100*time.Millisecond, func() bool { return rec.count(gRoom, platform) == n })
	cancel()
	wg.Wait()
	b.StopTimer()
	cpu, wall := cpuTime()-cpu0, time.Since(begin)

	var lat, first []time.Duration
	for i := range n {
		room, ok := rec.at(gRoom, platform[i])
		if !ok {
			continue
		}
		lat = append(lat, room.Sub(sent[i]))
		if ent, ok := rec.at(gEntrance, platform[i]); ok && ent.Before(room) {
			room = ent
		}
		first = append(first, room.Sub(sent[i]))
	}
	slices.Sort(lat)
	slices.Sort(first)
	reads := nexudusReads(e) - readsBefore
	b.ReportMetric(rate, "webhooks/s")
	b.ReportMetric(float64(len(lat)), "granted")
	b.ReportMetric(ms(percentile(lat, 0.50)), "p50_ms")
	b.ReportMetric(ms(percentile(lat, 0.99)), "p99_ms")
	b.ReportMetric(ms(percentile(lat, 1)), "max_ms")
	b.ReportMetric(float64(reads)/float64(n), "nexudus_reads/webhook")
	b.ReportMetric(float64(e.nexsim.Stats().Throttled-throttledBefore), "nexudus_409s")
	b.ReportMetric(ms(cpu)/float64(n), "cpu_ms/webhook")
	perWebhook := float64(reads) / float64(n)
	b.Logf("Nexudus budget: %d calls/min in the worker's client and in the simulator (documented: 120/min). "+
		"At %d webhooks/s and %.1f reads each the load is %.0f reads/min; this budget sustains %.1f webhooks/s",
		nexudusRPM, perSecond, perWebhook, perWebhook*float64(perSecond)*60, float64(nexudusRPM)/60/perWebhook)
	b.Logf("%d webhooks sent at %.1f/s, %d refused; %d of %d granted within %s", n, rate, refused.Load(), len(lat), n, within)
	b.Logf("CPU of this process (server, worker, simulators): %.0f ms per webhook, %.2f cores over %s; "+
		"at %d webhooks/s that is %.1f cores", ms(cpu)/float64(n), cpu.Seconds()/wall.Seconds(), wall.Round(time.Second),
		perSecond, ms(cpu)/float64(n)*float64(perSecond)/1000)
	b.Logf("POST → room group: p50 %.0f ms, p90 %.0f ms, p99 %.0f ms, max %.0f ms (target: p99 < 1000 ms)",
		ms(percentile(lat, .5)), ms(percentile(lat, .9)), ms(percentile(lat, .99)), ms(percentile(lat, 1)))
	b.Logf("POST → first group:  p50 %.0f ms, p99 %.0f ms, max %.0f ms",
		ms(percentile(first, .5)), ms(percentile(first, .99)), ms(percentile(first, 1)))
	b.Logf("Nexudus reads %d (%.2f/webhook), 409s %d (%d before the measurement); Salto calls %d (%.2f/webhook), %v",
		reads, perWebhook, e.nexsim.Stats().Throttled-throttledBefore, throttledBefore, e.salto.Stats().Total-saltoBefore, float64(e.salto.Stats().Total-saltoBefore)/float64(n),
		e.salto.Stats().Calls)
}
