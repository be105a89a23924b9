package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nexsalto/nexsalto/config"
	"github.com/nexsalto/nexsalto/nexudus"
)

// TestFaultWorkerKilled: 200 bookings sleep towards grants spread over 40 s and revokes 20–40 s later while the
// worker process is killed with SIGKILL three times and started again 1–2 s later. Every grant and revoke
// must still land, and no Salto user may be created twice (a create whose answer died with the process).
func TestFaultWorkerKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("fault suite: the worker command killed under load")
	}
	const (
		lead, lag = 2 * time.Second, 2 * time.Second
		// Customers; each books all four fault rooms: 200 bookings. Fresh ones cost a coworker read at their
		// first link: ten of them take 5 s of the account's 120 calls a minute, so what is measured is the
		// kills, not the budget.
		known, fresh = 40, 10
		spread       = 40 * time.Second
		bound        = 60 * time.Second // a revoke later than this is lost
	)
	began := time.Now()
	s := newStack(t, stackOptions{noWorker: true, lead: lead, lag: lag})
	// Known customers have a Salto user and a customer workflow that linked it (a booking of the meeting room
	// for the whole run): their bookings cost no Nexudus read. Fresh ones cost one coworker read at their first
	// grant; the even ones have a Salto user to find by email, the odd ones none (the worker creates it).
	ids := seedFaultWorld(t, s, 3000, known+fresh, func(i int) bool { return i < known || i%2 == 0 })
	w := newChildWorker(t, s, false, faultConfig)
	w.start()
	watch := newAccessWatch(s, bound)
	ctx := context.Background()
	for _, c := range ids[:known] {
		now := time.Now().UTC().Truncate(time.Second)
		if _, err := s.nx.CreateBooking(ctx, nexudus.Booking{ResourceId: resourceRoom, CoworkerId: c,
			FromTime: nexudus.NewTime(now.Add(-time.Minute)), ToTime: nexudus.NewTime(now.Add(time.Hour))}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 90*time.Second, "the known customers linked", func() bool {
		for _, c := range ids[:known] {
			if !s.member(site1, gRoom, c) {
				return false
			}
		}
		return true
	})

	// Bookings are made before the first kill, so no webhook is lost: what is measured is whether sleeping
	// workflows and in-flight Salto calls survive the kills (lost webhooks are the poller's, TestConvergence).
	rng := rand.New(rand.NewPCG(1, 2))
	g0 := time.Now().Add(25 * time.Second) // 200 creations at the client's 10 calls/s take 20 s
	var plan []*bookingTrack
	for _, c := range ids {
		for _, r := range faultRooms {
			start := g0.Add(randDur(rng, spread) + lead).Truncate(time.Second)
			end := start.Add(30*time.Second + randDur(rng, 20*time.Second)).Truncate(time.Second)
			plan = append(plan, &bookingTrack{accessKey: accessKey{c, r.group}, resource: r.resource,
				grantDue: start.Add(-lead), revokeDue: end.Add(lag)})
		}
	}
	slices.SortFunc(plan, func(a, b *bookingTrack) int { return a.grantDue.Compare(b.grantDue) })
	bookedLate := 0
	for _, b := range plan {
		var err error
		b.id, err = s.nx.CreateBooking(ctx, nexudus.Booking{ResourceId: int(b.resource), CoworkerId: b.coworker,
			FromTime: nexudus.NewTime(b.grantDue.Add(lead).UTC()), ToTime: nexudus.NewTime(b.revokeDue.Add(-lag).UTC())})
		if err != nil {
			t.Fatal(err)
		}
		if time.Until(b.grantDue) < time.Second {
			bookedLate++
		}
		watch.add(b)
	}
	t.Logf("%d bookings created by G+%.1fs (G = first grant window start); %d with less than 1 s to their grant",
		len(plan), time.Since(g0).Seconds(), bookedLate)

	type outage struct{ killed, restarted time.Time }
	var outages []outage
	for _, at := range []time.Duration{6 * time.Second, 20 * time.Second, 34 * time.Second} {
		time.Sleep(time.Until(g0.Add(at)))
		o := outage{killed: time.Now()}
		w.kill()
		time.Sleep(time.Second + randDur(rng, time.Second))
		o.restarted = time.Now()
		ready := w.start()
		outages = append(outages, o)
		t.Logf("kill at G+%.1fs, down %s, /healthz after %s", o.killed.Sub(g0).Seconds(),
			o.restarted.Sub(o.killed).Round(10*time.Millisecond), ready.Round(10*time.Millisecond))
	}
	last := plan[0].revokeDue
	for _, b := range plan {
		last = later(last, b.revokeDue)
	}
	eventually(t, time.Until(last)+bound+5*time.Second, "every booking settled", func() bool { return watch.inFlight() == 0 })
	watch.close()

	f := watch.figures(plan)
	printFigures(t, "fault worker-kill: injected %d SIGKILL; bookings %d; granted %d revoked %d; lost %d; "+
		"grant lateness %s; revoke lateness %s", len(outages), len(plan), f.granted, f.revoked, f.lost(),
		pctls(f.grantLate), pctls(f.revokeLate))
	for i, o := range outages {
		g, r, due := time.Duration(-1), time.Duration(-1), 0
		for _, b := range plan {
			if !b.first.Before(o.restarted) && (g < 0 || b.first.Sub(o.restarted) < g) {
				g = b.first.Sub(o.restarted)
			}
			if !b.gone.Before(o.restarted) && (r < 0 || b.gone.Sub(o.restarted) < r) {
				r = b.gone.Sub(o.restarted)
			}
			if !b.grantDue.Before(o.killed) && b.grantDue.Before(o.restarted) {
				due++
			}
		}
		printFigures(t, "fault worker-kill: kill %d at G+%.1fs, down %s; restart to first grant %s, to first revoke %s; "+
			"%d grants fell due while down", i+1, o.killed.Sub(g0).Seconds(), o.restarted.Sub(o.killed).Round(10*time.Millisecond),
			orNone(g), orNone(r), due)
	}
	isKnown := map[int]bool{}
	for _, c := range ids[:known] {
		isKnown[c] = true
	}
	var lateKnown, lateFresh []time.Duration
	explained := map[int]bool{}
	for _, b := range plan {
		switch {
		case b.first.IsZero():
			if !explained[b.coworker] && len(explained) < 3 {
				explained[b.coworker] = true
				explainCustomer(t, s, b.coworker)
			}
		case isKnown[b.coworker]:
			lateKnown = append(lateKnown, b.first.Sub(b.grantDue))
		default:
			lateFresh = append(lateFresh, b.first.Sub(b.grantDue))
		}
	}
	printFigures(t, "fault worker-kill: grant lateness of known customers %s, of new customers %s; Salto users "+
		"created twice %d; grants early %d, revokes early %d, flaps %d; %s in all", pctls(lateKnown), pctls(lateFresh),
		f.duplicates, f.earlyGrants, f.earlyRevokes, f.flaps, time.Since(began).Round(time.Second))
	f.check(t)
}

// faultConfig maps the fault rooms and sets a child's configuration to the production budgets: Nexudus'
// documented 120 calls a minute for the account, Salto 20 requests/s. The change poller reads once at start
// and then every hour: every booking it sees costs an entitlement read of Nexudus (its signal carries no
// body), which at 200 bookings is 100 s of the account's budget, and at 5 bookings/s more than the budget
// holds; these scenarios measure webhooks, sleeping workflows and in-flight Salto calls.
func faultConfig(c *config.Config) {
	mapFaultRooms(c)
	c.Nexudus.RequestsPerMinute = 120
	c.Sync.PollInterval = time.Hour
	c.Sync.PollCallsPerMinute = config.DefaultPollCallsPerMinute
	c.Salto.RequestsPerSecond = 20
}

// accessKey is one customer's access through one fault room's group: a customer has at most one booking per
// fault room in flight, so Salto's membership tells which booking it is.
type accessKey struct {
	coworker int
	group    string
}

// bookingTrack is a booking, its due instants and what Salto showed of it.
type bookingTrack struct {
	accessKey
	resource            int64
	id                  int
	grantDue, revokeDue time.Time
	// first and last seen a member; gone: first seen without membership after having it.
	first, last, gone time.Time
	flaps             int // membership came back after gone
	settled           bool
}

// accessWatch polls the Salto simulator in-process every 100 ms: who is in which fault group, and which Salto
// users each customer has (by email, or the alias the worker gives the users it creates).
type accessWatch struct {
	s     *stack
	bound time.Duration
	mu    sync.Mutex
	live  map[accessKey]*bookingTrack
	users map[int]map[string]bool
	*sampler
}

func newAccessWatch(s *stack, bound time.Duration) *accessWatch {
	w := &accessWatch{s: s, bound: bound, live: map[accessKey]*bookingTrack{}, users: map[int]map[string]bool{}}
	w.sampler = sampleEvery(s.t, 100*time.Millisecond, w.poll)
	return w
}

// add watches a booking; its key must be free (see busy).
func (w *accessWatch) add(b *bookingTrack) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.live[b.accessKey]; ok {
		w.s.t.Errorf("two bookings in flight for %+v", b.accessKey)
	}
	w.live[b.accessKey] = b
}

func (w *accessWatch) busy(k accessKey) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, ok := w.live[k]
	return ok
}

func (w *accessWatch) inFlight() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.live)
}

func (w *accessWatch) poll(now time.Time) {
	owner := map[string]int{} // platform user id → coworker
	for _, u := range w.s.salto.Users(site1) {
		if c, ok := customerOf(u.Alias, u.User.Email); ok {
			owner[u.User.ID] = c
			w.mu.Lock()
			if w.users[c] == nil {
				w.users[c] = map[string]bool{}
			}
			w.users[c][u.ID] = true
			w.mu.Unlock()
		}
	}
	members := map[accessKey]bool{}
	for _, r := range faultRooms {
		for _, p := range w.s.salto.GroupMembers(site1, r.group) {
			if c, ok := owner[p]; ok {
				members[accessKey{c, r.group}] = true
			}
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for k, b := range w.live {
		in := members[k]
		switch {
		case in && b.first.IsZero():
			b.first, b.last = now, now
		case in:
			if !b.gone.IsZero() {
				b.flaps++
				b.gone = time.Time{}
			}
			b.last = now
		case !b.first.IsZero() && b.gone.IsZero():
			b.gone = now
		}
		// Settled: revoked once due, or past the bound (a lost grant or revoke).
		if (!now.Before(b.revokeDue) && !in && !b.gone.IsZero()) || now.After(b.revokeDue.Add(w.bound)) {
			b.settled = true
			delete(w.live, k)
		}
	}
}

// customerOf is the coworker a Salto user belongs to: by the e-mail the tests give coworkers, or by the alias
// "… (nexudus <id>)" of the tag-only users the worker creates.
func customerOf(alias string, mail *string) (int, bool) {
	if mail != nil {
		if n, ok := strings.CutPrefix(*mail, "coworker"); ok {
			if n, ok = strings.CutSuffix(n, "@example.com"); ok {
				id, err := strconv.Atoi(n)
				return id, err == nil
			}
		}
	}
	if i := strings.LastIndex(alias, "(nexudus "); i >= 0 && strings.HasSuffix(alias, ")") {
		id, err := strconv.Atoi(alias[i+len("(nexudus ") : len(alias)-1])
		return id, err == nil
	}
	return 0, false
}

// faultFigures are what a run's bookings showed.
type faultFigures struct {
	granted, revoked, lostGrants, lostRevokes int
	earlyGrants, earlyRevokes, flaps          int
	duplicates                                int
	grantLate, revokeLate                     []time.Duration
	problems                                  []string
}

func (f faultFigures) lost() int { return f.lostGrants + f.lostRevokes }

// figures judges the bookings once the watch has settled them (a booking still in flight is not judged).
// Early means more than 1 s before due: the simulator's clock is this machine's, the booking times whole seconds.
func (w *accessWatch) figures(bookings []*bookingTrack) faultFigures {
	w.mu.Lock()
	defer w.mu.Unlock()
	var f faultFigures
	note := func(b *bookingTrack, what string) {
		if len(f.problems) < 20 {
			f.problems = append(f.problems, fmt.Sprintf("booking %d (coworker %d, group …%s): %s", b.id, b.coworker,
				b.group[len(b.group)-2:], what))
		}
	}
	for _, b := range bookings {
		if !b.settled {
			continue
		}
		f.flaps += b.flaps
		if b.first.IsZero() {
			f.lostGrants++
			note(b, "never granted")
			continue
		}
		f.granted++
		f.grantLate = append(f.grantLate, b.first.Sub(b.grantDue))
		if b.first.Before(b.grantDue.Add(-time.Second)) {
			f.earlyGrants++
			note(b, fmt.Sprintf("granted %s early", b.grantDue.Sub(b.first).Round(10*time.Millisecond)))
		}
		if b.gone.IsZero() || b.gone.After(b.revokeDue.Add(w.bound)) {
			f.lostRevokes++
			note(b, fmt.Sprintf("still a member %s after its revoke was due", w.bound))
			continue
		}
		f.revoked++
		f.revokeLate = append(f.revokeLate, b.gone.Sub(b.revokeDue))
		if b.gone.Before(b.revokeDue.Add(-time.Second)) {
			f.earlyRevokes++
			note(b, fmt.Sprintf("revoked %s early", b.revokeDue.Sub(b.gone).Round(10*time.Millisecond)))
		}
	}
	for c, ids := range w.users {
		if len(ids) > 1 {
			f.duplicates++
			if len(f.problems) < 20 {
				f.problems = append(f.problems, fmt.Sprintf("coworker %d has %d Salto users", c, len(ids)))
			}
		}
	}
	return f
}

// check fails the test for a lost grant or revoke, an early one, or a Salto user created twice.
func (f faultFigures) check(t testing.TB) {
	t.Helper()
	if f.lost() > 0 || f.earlyGrants > 0 || f.earlyRevokes > 0 || f.duplicates > 0 {
		t.Errorf("lost grants %d, lost revokes %d, early grants %d, early revokes %d, customers with two Salto users %d:\n%s",
			f.lostGrants, f.lostRevokes, f.earlyGrants, f.earlyRevokes, f.duplicates, strings.Join(f.problems, "\n"))
	}
}

// pctls summarises durations as p50, p99 and max.
func pctls(ds []time.Duration) string {
	if len(ds) == 0 {
		return "none"
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	q := func(p float64) time.Duration {
		return s[min(len(s)-1, int(p*float64(len(s))))].Round(10 * time.Millisecond)
	}
	return fmt.Sprintf("p50 %s p99 %s max %s", q(0.5), q(0.99), s[len(s)-1].Round(10*time.Millisecond))
}

// printFigures logs a fault run's figures and prints them on stdout, where `go test` without -v shows them.
func printFigures(t testing.TB, format string, args ...any) {
	t.Helper()
	line := fmt.Sprintf(format, args...)
	t.Log(line)
	fmt.Println(line)
}

// orNone prints a negative duration (nothing was seen) as "none".
func orNone(d time.Duration) string {
	if d < 0 {
		return "none"
	}
	return d.Round(10 * time.Millisecond).String()
}

// randDur is a duration in [0, d) from rng (seeded: runs repeat their plan).
func randDur(rng *rand.Rand, d time.Duration) time.Duration {
	return time.Duration(rng.Int64N(int64(d)))
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
