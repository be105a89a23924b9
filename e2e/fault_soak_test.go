package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nexsalto/nexsalto/nexudus"
)

// TestFaultSoak runs the worker command for NEXSALTO_SOAK (e.g. 30m; go test -timeout must be longer) at 5
// booking webhooks a second, each booking granted and revoked within the run, and samples the worker's
// resident memory and goroutines every 10 s after a 2-minute warm-up. A leak shows as growth from the first
// samples to the last: the test fails when either ends more than 10% above where it started, or when a
// grant or revoke is lost.
//
//	NEXSALTO_SOAK=30m go test -count=1 -run TestFaultSoak -v -timeout 45m ./e2e/
func TestFaultSoak(t *testing.T) {
	raw := os.Getenv("NEXSALTO_SOAK")
	if raw == "" {
		t.Skip("soak: set NEXSALTO_SOAK to a duration (30m), with a longer -timeout")
	}
	run, err := time.ParseDuration(raw)
	if err != nil || run < 3*time.Minute {
		t.Fatalf("NEXSALTO_SOAK=%q: a duration of at least 3m (2 of warm-up, then 10 s samples)", raw)
	}
	const (
		perSecond   = 5
		warmUp      = 2 * time.Minute
		sampleEvery = 10 * time.Second
		lead, lag   = 2 * time.Second, 2 * time.Second
		bound       = 60 * time.Second
		// Customers of one location, introduced one a second during the warm-up, then booking again and
		// again: the worker holds as many customer workflows at the last sample as at the first, so growth
		// is a leak, not a growing population in its cache (customer workflows stay open for weeks).
		pool = 100
	)
	s := newStack(t, stackOptions{noWorker: true, lead: lead, lag: lag})
	// The bookings stand in for customers booking in the Nexudus portal, which costs the API nothing; made
	// through the API, 5 a second exceed the daily write cap in 8 minutes. The worker's own budget (its
	// configuration: 120 calls a minute, 2,500 writes a day) is unchanged.
	f := s.nexudus.Faults()
	f.WritesPerDay = 0
	if err := s.nexudus.SetFaults(f); err != nil {
		t.Fatal(err)
	}
	// Even customers have a Salto user to be found by email, odd ones get one created by the worker. Each is
	// new (one coworker read of Nexudus) at its first booking and known afterwards: at most one a second is new.
	ids := seedFaultWorld(t, s, 3000, pool, func(i int) bool { return i%2 == 0 })
	w := newChildWorker(t, s, true, faultConfig)
	w.start()
	watch := newAccessWatch(s, bound)
	began := time.Now()
	end := began.Add(run)

	type sample struct {
		rssKB, goroutines int
		mem               map[string]uint64 // runtime.MemStats: what the resident memory is made of
	}
	var (
		smu     sync.Mutex
		samples []sample
	)
	sampled, quit := make(chan struct{}), make(chan struct{})
	defer func() { close(quit); <-sampled }() // a test that fails early stops sampling before it returns
	go func() {
		defer close(sampled)
		for at := began.Add(warmUp); !at.After(end); at = at.Add(sampleEvery) {
			select {
			case <-quit:
				return
			case <-time.After(time.Until(at)):
			}
			rss, err1 := w.rssKB()
			g, err2 := w.goroutines()
			mem, err3 := w.memStats()
			gc, err4 := readMetrics("http://" + w.webhook + "/metrics")
			if err1 != nil || err2 != nil || err3 != nil || err4 != nil {
				t.Errorf("sample at +%s: %v, %v, %v, %v", time.Since(began).Round(time.Second), err1, err2, err3, err4)
				continue
			}
			// The collector's own account of its last cycle: the heap it found live, and the stacks and
			// globals it scanned, which with GOGC make its next goal.
			for _, name := range []string{"go_gc_heap_live_bytes", "go_gc_scan_stack_bytes", "go_gc_scan_globals_bytes"} {
				mem[name] = uint64(gc.value(name))
			}
			smu.Lock()
			samples = append(samples, sample{rss, g, mem})
			first := len(samples) == 1
			smu.Unlock()
			// NEXSALTO_SOAK_PROFILES=dir keeps heap profiles of the first and the latest sample: what grew
			// is `go tool pprof -base dir/heap-first.pb.gz -top dir/heap-last.pb.gz`.
			if dir := os.Getenv("NEXSALTO_SOAK_PROFILES"); dir != "" {
				name := "heap-last.pb.gz"
				if first {
					name = "heap-first.pb.gz"
				}
				if err := w.saveHeapProfile(filepath.Join(dir, name)); err != nil {
					t.Logf("heap profile: %v", err)
				}
			}
		}
	}()

	rng := rand.New(rand.NewPCG(3, 4))
	ctx := context.Background()
	var all []*bookingTrack
	customers, skipped := 0, 0
	nextNew := began
	tick := time.NewTicker(time.Second / perSecond)
	for now := range tick.C {
		if !now.Before(end) {
			break
		}
		var b *bookingTrack
		room := faultRooms[rng.IntN(len(faultRooms))]
		if customers < pool && !now.Before(nextNew) {
			b = &bookingTrack{accessKey: accessKey{ids[customers], room.group}, resource: room.resource}
			customers++
			nextNew = now.Add(time.Second)
		} else {
			// A known customer with no booking of that room in flight (Salto's membership then tells which
			// booking it is); a few tries, then this tick is skipped.
			for range 20 {
				room = faultRooms[rng.IntN(len(faultRooms))]
				k := accessKey{ids[rng.IntN(max(customers, 1))], room.group}
				if customers > 0 && !watch.busy(k) {
					b = &bookingTrack{accessKey: k, resource: room.resource}
					break
				}
			}
		}
		if b == nil {
			skipped++
			continue
		}
		start := now.Add(5*time.Second + randDur(rng, 10*time.Second)).Truncate(time.Second)
		stop := start.Add(20*time.Second + randDur(rng, 40*time.Second)).Truncate(time.Second)
		b.grantDue, b.revokeDue = start.Add(-lead), stop.Add(lag)
		if b.id, err = s.nx.CreateBooking(ctx, nexudus.Booking{ResourceId: int(b.resource), CoworkerId: b.coworker,
			FromTime: nexudus.NewTime(start.UTC()), ToTime: nexudus.NewTime(stop.UTC())}); err != nil {
			t.Fatal(err)
		}
		watch.add(b)
		all = append(all, b)
	}
	tick.Stop()
	made := time.Since(began)
	<-sampled // the last sample is taken at the end
	eventually(t, 70*time.Second+bound, "every booking settled", func() bool { return watch.inFlight() == 0 })
	watch.close()

	fig := watch.figures(all)
	smu.Lock()
	defer smu.Unlock()
	if len(samples) < 6 {
		t.Fatalf("%d samples after the warm-up: too few to compare", len(samples))
	}
	avg := func(ss []sample, f func(sample) int) float64 {
		sum := 0
		for _, s := range ss {
			sum += f(s)
		}
		return float64(sum) / float64(len(ss))
	}
	rss := func(s sample) int { return s.rssKB }
	gor := func(s sample) int { return s.goroutines }
	first, last := samples[:3], samples[len(samples)-3:]
	rss0, rss1 := avg(first, rss), avg(last, rss)
	g0, g1 := avg(first, gor), avg(last, gor)
	printFigures(t, "fault soak: %s at %.1f webhooks/s; bookings %d granted %d revoked %d lost %d; RSS start %.1f MB "+
		"end %.1f MB (%+.1f%%); goroutines start %.0f end %.0f (%+.1f%%)", run, float64(len(all))/made.Seconds(),
		len(all), fig.granted, fig.revoked, fig.lost(), rss0/1024, rss1/1024, 100*(rss1/rss0-1), g0, g1, 100*(g1/g0-1))
	printFigures(t, "fault soak: grant lateness %s; revoke lateness %s; customers %d, Salto users %d; ticks skipped "+
		"for want of a free customer %d; samples %d: RSS MB %s; goroutines %s", pctls(fig.grantLate),
		pctls(fig.revokeLate), customers, len(s.salto.Users(site1)), skipped, len(samples),
		series(samples, func(s sample) string { return fmt.Sprintf("%.0f", float64(s.rssKB)/1024) }),
		series(samples, func(s sample) string { return fmt.Sprint(s.goroutines) }))
	// Where the resident memory went, start → end (MB): heap spans in use, free heap kept from the OS, stacks,
	// the runtime's own structures; a leak in the heap shows in the first, fragmentation or pacing elsewhere.
	classes := []struct {
		name string
		of   func(map[string]uint64) uint64
	}{
		{"heap in use", func(m map[string]uint64) uint64 { return m["HeapInuse"] }},
		{"heap free kept", func(m map[string]uint64) uint64 { return m["HeapIdle"] - m["HeapReleased"] }},
		{"stacks", func(m map[string]uint64) uint64 { return m["Stack"] }}, // in use (the line's first figure)
		{"runtime", func(m map[string]uint64) uint64 {
			return m["MSpanInuse"] + m["MCacheInuse"] + m["BuckHashSys"] + m["GCSys"] + m["OtherSys"]
		}},
		{"next GC", func(m map[string]uint64) uint64 { return m["NextGC"] }},
		{"live at the last GC", func(m map[string]uint64) uint64 { return m["go_gc_heap_live_bytes"] }},
		{"stacks scanned", func(m map[string]uint64) uint64 { return m["go_gc_scan_stack_bytes"] }},
		{"globals scanned", func(m map[string]uint64) uint64 { return m["go_gc_scan_globals_bytes"] }},
	}
	var breakdown []string
	for _, c := range classes {
		mb := func(s sample) int { return int(c.of(s.mem) >> 10) }
		breakdown = append(breakdown, fmt.Sprintf("%s %.1f → %.1f (%s)", c.name, avg(first, mb)/1024,
			avg(last, mb)/1024, series(samples, func(s sample) string { return fmt.Sprintf("%.0f", float64(mb(s))/1024) })))
	}
	printFigures(t, "fault soak: memory MB %s", strings.Join(breakdown, "; "))
	fig.check(t)
	if rss1 > 1.1*rss0 {
		t.Errorf("RSS grew %.1f%% from the first samples to the last (bound 10%%)", 100*(rss1/rss0-1))
	}
	if g1 > 1.1*g0 {
		t.Errorf("goroutines grew %.1f%% from the first samples to the last (bound 10%%)", 100*(g1/g0-1))
	}
}

// series prints samples as "a b c …", at most 20 of them evenly picked.
func series[S any](ss []S, f func(S) string) string {
	out := ""
	step := max(1, (len(ss)+19)/20)
	for i := 0; i < len(ss); i += step {
		if out != "" {
			out += " "
		}
		out += f(ss[i])
	}
	return out
}
