package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"go.temporal.io/sdk/client"

	"github.com/nexsalto/nexsalto/access"
	"github.com/nexsalto/nexsalto/config"
	"github.com/nexsalto/nexsalto/metrics"
	"github.com/nexsalto/nexsalto/nexudus"
	"github.com/nexsalto/nexsalto/service"
	nexudussim "github.com/nexsalto/nexsalto/simulators/nexudus"
	"github.com/nexsalto/nexsalto/simulators/saltoks"
)

// BenchmarkChainDay: a chain of 50 locations × 500 customers on one Nexudus account, its day's traffic (2,000
// bookings and 5,000 time passes) played compressed NEXSALTO_DAY_COMPRESS times (default 8) for
// NEXSALTO_DAY_SLICE of wall time (default 20m), against the worker command with every production default
// (Nexudus' documented 120 calls/min for the account in the worker and the simulator, 60 writes/min and 2,500
// a day in the simulator, the change poller every minute, reconciliation every 15 minutes and presence at
// every location), each location's first reconciliation 30 s in (the suspend policy's sweep of the chain's
// customers, who kept Salto users and have nothing in Nexudus). Bookings arrive as the signed webhooks Nexudus sends; passes, for which Nexudus sends none,
// only through the change poller. Every booking and pass is a customer's first (each costs a coworker read),
// the worst case for the budget. Figures: Nexudus calls in the busiest minute (never above the budget) and
// 409s, change-poll lag (a pass added in Nexudus → its workflow started by the poller) and a pass's way to the
// door, webhook → door for bookings, writes per simulated day against the daily cap. Each booking's customer
// walks in through the location's presence door (a check-in: one read, one write); pass holders' entries are
// not played (at 7,000 check-ins a day the cap would degrade presence by design, which compression cannot
// show: the cap is per real day).
//
//	go test -run '^$' -bench ChainDay -benchtime 1x -timeout 60m ./e2e/
func BenchmarkChainDay(b *testing.B) {
	if testing.Short() {
		b.Skip("a chain's day, compressed")
	}
	const (
		locations, perLocation = 50, 500
		bookingsPerDay         = 2000
		passesPerDay           = 5000
	)
	compress, slice := 8.0, 20*time.Minute
	if v := os.Getenv("NEXSALTO_DAY_COMPRESS"); v != "" {
		var err error
		if compress, err = strconv.ParseFloat(v, 64); err != nil || compress < 1 {
			b.Fatalf("NEXSALTO_DAY_COMPRESS=%q: a factor of at least 1", v)
		}
	}
	if v := os.Getenv("NEXSALTO_DAY_SLICE"); v != "" {
		var err error
		if slice, err = time.ParseDuration(v); err != nil || slice < 2*time.Minute {
			b.Fatalf("NEXSALTO_DAY_SLICE=%q: a duration of at least 2m", v)
		}
	}
	// The grant lead and revoke lag compress with the day (15 min → under 2 min at 8×).
	lead := time.Duration(float64(15*time.Minute) / compress)
	s := newStack(b, stackOptions{noWorker: true, nexudusPerMinute: 120, simPerMinute: 120, lead: lead, lag: lead})
	// The simulator's documented write budgets (newStack sets writes as calls for the tests).
	f := s.nexudus.Faults()
	f.WritesPerMinute, f.WritesPerDay = 60, 2500
	if err := s.nexudus.SetFaults(f); err != nil {
		b.Fatal(err)
	}
	chain := seedChain(b, s, locations, perLocation)
	w := newChildWorker(b, s, false, func(c *config.Config) {
		c.Locations = chain.locations(lead)
		c.Nexudus.RequestsPerMinute = 120
		c.Salto.RequestsPerSecond = 0
		c.Sync = config.Sync{}
		c.ApplyDefaults()
	})
	w.start()
	hookURL := service.WebhookURL("http://"+w.webhook, s.cfg.Webhooks.PathPrefix, nexudus.ActionBookingCreate, "")
	watch := newChainWatch(s, chain)

	// The day's events in order, spread evenly over the slice at the compressed rate.
	perMinute := func(perDay int) float64 { return float64(perDay) * compress / (24 * 60) }
	type event struct {
		at   time.Duration
		pass bool
	}
	var events []event
	for _, e := range []struct {
		perDay int
		pass   bool
	}{{bookingsPerDay, false}, {passesPerDay, true}} {
		every := time.Duration(float64(time.Minute) / perMinute(e.perDay))
		for at := every / 2; at < slice; at += every {
			events = append(events, event{at, e.pass})
		}
	}
	slices.SortFunc(events, func(a, b event) int { return int(a.at - b.at) })

	s.nexudus.ResetStats() // what the harness spent setting up is not the worker's
	calls := newCallCounter(s)
	rng := rand.New(rand.NewPCG(5, 6))
	hc := &http.Client{Timeout: 30 * time.Second}
	ctx := context.Background()
	var passes []chainChange
	var bookings []chainChange
	b.ResetTimer()
	began := time.Now()
	// Every location's first reconciliation, at a fixed instant of the run: it finds the chain's customers
	// with a Salto user and nothing in Nexudus, and the suspend policy applies to them (a chain's first day
	// with the integration). Left to the Schedule, it would fall where the quarter hour falls in the run.
	sweep := time.AfterFunc(30*time.Second, func() {
		for i := range locations {
			h := s.tc.ScheduleClient().GetHandle(ctx, access.ReconcileID(int64(chain.business(i))))
			if err := h.Trigger(ctx, client.ScheduleTriggerOptions{}); err != nil {
				b.Errorf("trigger the reconciliation of location %d: %v", i, err)
			}
		}
	})
	defer sweep.Stop()
	for i, e := range events {
		time.Sleep(time.Until(began.Add(e.at)))
		loc := rng.IntN(locations)
		cw := chain.nextCustomer(loc)
		now := time.Now()
		if e.pass {
			id := 700000 + i
			if _, err := s.nexudus.Seed(nexudussim.Dataset{CoworkerTimePasses: []nexudussim.CoworkerTimePass{{
				Base: nexudussim.Base{Id: id}, CoworkerId: cw, BusinessId: chain.business(loc),
				TimePassId: chain.timePass(loc), ExpireDate: nexudussim.At(now.Add(24 * time.Hour))}}}); err != nil {
				b.Fatal(err)
			}
			c := chainChange{id: id, loc: loc, coworker: cw, group: chain.passGroup(loc), at: now}
			passes = append(passes, c)
			watch.add(c)
			continue
		}
		id := 800000 + i
		if _, err := s.nexudus.Seed(nexudussim.Dataset{Bookings: []nexudussim.Booking{{Base: nexudussim.Base{Id: id},
			ResourceId: chain.room(loc), CoworkerId: cw, FromTime: nexudussim.At(now.Add(lead / 2)),
			ToTime: nexudussim.At(now.Add(2 * time.Hour))}}}); err != nil {
			b.Fatal(err)
		}
		// The webhook carries the booking as stored (Seed answers the whole state, oldest booking first).
		stored, ok := s.nexudus.Booking(id)
		if !ok {
			b.Fatalf("booking %d not stored", id)
		}
		body, _ := json.Marshal([]nexudussim.Booking{stored})
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, hookURL, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(nexudus.SignatureHeader, nexudus.Sign([]byte(webhookSecret), body))
		now = time.Now()
		resp, err := hc.Do(req)
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("booking webhook: %v %v", resp, err)
		}
		_ = resp.Body.Close()
		// The customer walks in for the booking: presence checks them in (a read and a write of Nexudus).
		if _, err := s.salto.SeedEntry(chain.site(loc), saltoks.EntrySeed{UserID: chain.user[cw],
			LockID: chain.door(loc)}); err != nil {
			b.Fatal(err)
		}
		c := chainChange{id: id, loc: loc, coworker: cw, group: chain.roomGroup(loc), at: now}
		bookings = append(bookings, c)
		watch.add(c)
	}
	played := time.Since(began)
	// Figures are printed whatever arrived; what never did is the benchmark's failure.
	for deadline := time.Now().Add(5 * time.Minute); watch.pending() > 0 && time.Now().Before(deadline); {
		time.Sleep(time.Second)
	}
	missing := watch.pending()
	b.StopTimer()
	calls.close()

	// Change-poll lag: from the pass's creation to the start of the workflow the poller started for it.
	var pollLag []time.Duration
	for _, p := range passes {
		d, err := s.tc.DescribeWorkflowExecution(ctx, access.Ref{Kind: access.KindPass, ID: int64(p.id)}.WorkflowID(), "")
		if err != nil {
			continue // never started: counted in missing
		}
		pollLag = append(pollLag, d.GetWorkflowExecutionInfo().GetStartTime().AsTime().Sub(p.at))
	}
	st := s.nexudus.Stats()
	writes := 0
	for call, n := range st.Calls {
		if !strings.HasPrefix(call, "GET ") && !strings.HasPrefix(call, "POST /api/token") {
			writes += n
		}
	}
	simulated := time.Duration(float64(played) * compress)
	perDay := float64(writes) * float64(24*time.Hour) / float64(simulated)
	peak, peakAt := calls.busiestMinute()
	printFigures(b, "chain day: %d locations × %d customers, %.0f× compressed: %s played (%s of the day), %d bookings "+
		"(webhooks) and %d passes (poller only); Nexudus calls %d (%.1f/min), busiest minute %d at +%s (budget 120), "+
		"409s %d", locations, perLocation, compress, played.Round(time.Second), simulated.Round(time.Minute),
		len(bookings), len(passes), st.Total, float64(st.Total)/played.Minutes(), peak, peakAt.Round(time.Second),
		st.Throttled)
	printFigures(b, "chain day: change-poll lag (pass added → its workflow started) %s (target ≤ 60 s); pass added → "+
		"door %s; booking webhook → door %s; writes %d, %.0f per simulated day (cap 2,500); calls by path %s",
		pctls(pollLag), pctls(watch.latencies(passes)), pctls(watch.latencies(bookings)), writes, perDay,
		topCalls(st.Calls, 8))
	// Where the time went: each vendor request's wait for its rate limit, by the priority of its work.
	m := scrapeMetrics(b, "http://"+w.webhook+"/metrics")
	var waits []string
	for _, vendor := range []string{"nexudus", "salto"} {
		for _, p := range []string{"urgent", "poll", "background", "none"} {
			if n, p50, p99 := m.histogramQuantiles("nexsalto_rate_wait_seconds", "vendor", vendor, "priority", p); n > 0 {
				waits = append(waits, fmt.Sprintf("%s %s ×%d p50 ≤ %s p99 ≤ %s", vendor, p, n, p50, p99))
			}
		}
	}
	printFigures(b, "chain day: wait for the rate limit (bucket bounds) %s; Salto calls %d, by path %s",
		strings.Join(waits, "; "), s.salto.Stats().Total, topCalls(s.salto.Stats().Calls, 8))
	printFigures(b, "chain day: schedule-to-start (bucket bounds) %s; suspensions reconciliation handed to customers %.0f",
		strings.Join(scheduleToStart(m), "; "), m.value("nexsalto_reconcile_drift_repaired_total", "kind", metrics.DriftSuspend))
	if missing > 0 {
		b.Errorf("%d bookings and passes never reached their door within 5 min of the slice's end", missing)
	}
}

// scheduleToStart is how long tasks waited for the worker, by kind of task and task queue (the SDK's
// histograms): a queue whose tasks wait is one whose slots or pollers are taken.
func scheduleToStart(m scrape) []string {
	var out []string
	for _, name := range slices.Sorted(maps.Keys(m)) {
		if !strings.Contains(name, "schedule_to_start") || m[name].GetType() != dto.MetricType_HISTOGRAM {
			continue
		}
		queues := map[string]bool{}
		for _, s := range m[name].GetMetric() {
			for _, l := range s.GetLabel() {
				if l.GetName() == "task_queue" {
					queues[l.GetValue()] = true
				}
			}
		}
		for _, q := range slices.Sorted(maps.Keys(queues)) {
			if n, p50, p99 := m.histogramQuantiles(name, "task_queue", q); n > 0 {
				out = append(out, fmt.Sprintf("%s %s ×%d p50 ≤ %s p99 ≤ %s",
					strings.TrimPrefix(name, "nexsalto_temporal_"), q, n, p50, p99))
			}
		}
	}
	return out
}

// chainChange is a booking or pass of one customer at one location, and when it was made.
type chainChange struct {
	id, loc, coworker int
	group             string
	at                time.Time
}

// chain is the seeded world of BenchmarkChainDay: location i is business 201+i on its own Salto site, with a
// room and a time pass mapped to a group each; its customers are coworkers 100000+1000·i+j, each with a Salto
// user found by email.
type chain struct {
	n, perLocation int
	mu             sync.Mutex
	used           []int
	platform       map[string]int // platform user id → coworker
	user           map[int]string // coworker → platform user id
}

func (c *chain) business(i int) int     { return 201 + i }
func (c *chain) room(i int) int         { return 5000 + i }
func (c *chain) timePass(i int) int     { return 7000 + i }
func (c *chain) site(i int) string      { return fmt.Sprintf("5a171000-0000-4000-8000-%012d", i) }
func (c *chain) roomGroup(i int) string { return fmt.Sprintf("5a172000-0000-4000-8000-%012d", i) }
func (c *chain) passGroup(i int) string { return fmt.Sprintf("5a173000-0000-4000-8000-%012d", i) }
func (c *chain) door(i int) string      { return fmt.Sprintf("5a174000-0000-4000-8000-%012d", i) }
func (c *chain) coworker(i, j int) int  { return 100000 + 1000*i + j }

// nextCustomer is a customer of location i who has had nothing yet.
func (c *chain) nextCustomer(i int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	j := c.used[i] % c.perLocation
	c.used[i]++
	return c.coworker(i, j)
}

func (c *chain) locations(lead time.Duration) []config.Location {
	var out []config.Location
	for i := range c.n {
		out = append(out, config.Location{BusinessID: int64(c.business(i)), Name: "Location " + strconv.Itoa(i+1),
			SaltoSite: c.site(i), TimeZone: "Europe/Amsterdam", GrantLead: lead, RevokeLag: lead,
			NoAccessPolicy: config.PolicySuspend,
			Resources:      map[int64][]string{int64(c.room(i)): {c.roomGroup(i)}},
			Passes:         map[int64][]string{int64(c.timePass(i)): {c.passGroup(i)}},
			PresenceDoors:  []string{c.door(i)}})
	}
	return out
}

func seedChain(t testing.TB, s *stack, n, perLocation int) *chain {
	t.Helper()
	c := &chain{n: n, perLocation: perLocation, used: make([]int, n), platform: map[string]int{},
		user: map[int]string{}}
	// The customers and the chain joined Nexudus long ago: the change poller's first look back finds none of them.
	past := nexudussim.Base{CreatedOn: nexudussim.At(time.Now().Add(-48 * time.Hour))}
	past.UpdatedOn = past.CreatedOn
	var ds nexudussim.Dataset
	for i := range n {
		site := c.site(i)
		if _, err := s.salto.SeedSite(saltoks.SiteSeed{ID: site, SiteUID: "location-" + strconv.Itoa(i+1),
			CustomerReference: "Location " + strconv.Itoa(i+1), TimeZone: "Europe/Amsterdam"}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.salto.SeedLock(site, saltoks.LockSeed{ID: c.door(i), Name: "Entrance"}); err != nil {
			t.Fatal(err)
		}
		for _, g := range []struct{ id, name string }{{c.roomGroup(i), "Meeting room"}, {c.passGroup(i), "Day pass"}} {
			if _, err := s.salto.SeedAccessGroup(site, saltoks.GroupSeed{ID: g.id, Name: g.name, CustomerReference: g.name,
				Schedules: always}); err != nil {
				t.Fatal(err)
			}
		}
		ds.Businesses = append(ds.Businesses, nexudussim.Business{Base: nexudussim.Base{Id: c.business(i)},
			Name: "Location " + strconv.Itoa(i+1), TimeZone: "Europe/Amsterdam"})
		ds.Resources = append(ds.Resources, nexudussim.Resource{Base: nexudussim.Base{Id: c.room(i)},
			BusinessId: c.business(i), Name: "Meeting room", ResourceTypeId: 1})
		ds.TimePasses = append(ds.TimePasses, nexudussim.TimePass{Base: nexudussim.Base{Id: c.timePass(i)}, Name: "Day pass"})
		for j := range perLocation {
			id := c.coworker(i, j)
			cw := past
			cw.Id = id
			ds.Coworkers = append(ds.Coworkers, nexudussim.Coworker{Base: cw,
				FullName: "Customer " + strconv.Itoa(id), Email: email(id), Active: true, InvoicingBusinessId: c.business(i)})
			u, err := s.salto.SeedUser(site, saltoks.UserSeed{FirstName: "Customer", LastName: strconv.Itoa(id), Email: email(id)})
			if err != nil {
				t.Fatal(err)
			}
			c.platform[u.User.ID], c.user[id] = id, u.User.ID
		}
	}
	if _, err := s.nexudus.Seed(ds); err != nil {
		t.Fatal(err)
	}
	return c
}

// chainWatch reads the simulator's groups every 200 ms and records when each change's customer first shows in
// its group.
type chainWatch struct {
	s     *stack
	c     *chain
	mu    sync.Mutex
	live  map[chainChange]bool
	first map[chainChange]time.Time
	*sampler
}

func newChainWatch(s *stack, c *chain) *chainWatch {
	w := &chainWatch{s: s, c: c, live: map[chainChange]bool{}, first: map[chainChange]time.Time{}}
	w.sampler = sampleEvery(s.t, 200*time.Millisecond, w.poll)
	return w
}

func (w *chainWatch) add(c chainChange) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.live[c] = true
}

func (w *chainWatch) pending() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.live)
}

func (w *chainWatch) poll(now time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	members := map[string]map[int]bool{}
	for c := range w.live {
		if members[c.group] == nil {
			members[c.group] = map[int]bool{}
			for _, p := range w.s.salto.GroupMembers(w.c.site(c.loc), c.group) {
				members[c.group][w.c.platform[p]] = true
			}
		}
		if members[c.group][c.coworker] {
			w.first[c] = now
			delete(w.live, c)
		}
	}
}

// latencies are, for the changes at their door, how long after being made.
func (w *chainWatch) latencies(cs []chainChange) []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []time.Duration
	for _, c := range cs {
		if t, ok := w.first[c]; ok {
			out = append(out, t.Sub(c.at))
		}
	}
	return out
}

// callCounter samples the Nexudus simulator's call total every second, for the busiest minute.
type callCounter struct {
	mu      sync.Mutex
	began   time.Time
	samples []int
	*sampler
}

func newCallCounter(s *stack) *callCounter {
	c := &callCounter{began: time.Now()}
	c.sampler = sampleEvery(s.t, time.Second, func(time.Time) {
		total := s.nexudus.Stats().Total
		c.mu.Lock()
		c.samples = append(c.samples, total)
		c.mu.Unlock()
	})
	return c
}

// busiestMinute is the most calls in any 60 s of the samples, and when that minute ended.
func (c *callCounter) busiestMinute() (int, time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	peak, at := 0, 0
	for i := range c.samples {
		j := max(i-60, 0)
		if n := c.samples[i] - c.samples[j]; n > peak {
			peak, at = n, i
		}
	}
	return peak, time.Duration(at) * time.Second
}

// topCalls lists the n most frequent calls, "METHOD /path ×count".
func topCalls(calls map[string]int, n int) string {
	keys := make([]string, 0, len(calls))
	for k := range calls {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int { return calls[b] - calls[a] })
	var out []string
	for _, k := range keys[:min(n, len(keys))] {
		out = append(out, fmt.Sprintf("%s ×%d", k, calls[k]))
	}
	return strings.Join(out, ", ")
}
