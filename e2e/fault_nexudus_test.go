package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/nexsalto/nexsalto/nexudus"
	nexudussim "github.com/nexsalto/nexsalto/simulators/nexudus"
)

// Nexudus throttles (a 409 storm) and then its API is out of the worker's reach for 60 s while webhooks keep
// arriving, at the documented budget of 120 calls a minute. What a signed webhook's body settles (a booking
// of a linked customer, a booking cut short) is applied during the outage; what needs a read (a customer's
// first link, a deleted booking) is applied within 30 s of Nexudus' return.
func TestFaultNexudusThrottlingAndOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("fault suite: Nexudus 409 storm and outage")
	}
	const (
		lead, lag = time.Second, time.Second
		outage    = 60 * time.Second
		bound     = 30 * time.Second
	)
	s := newStack(t, stackOptions{noSync: true, nexudusPerMinute: 120, lead: lead, lag: lag, nexudusGate: true})
	ctx := context.Background()
	linked := s.seedCustomers(4000, 15, true) // booked during the storm
	fresh := s.seedCustomers(4100, 10, true)  // first booked during the outage: their link reads Nexudus
	watch := s.watchMembers(site1, gRoom)
	now := func() time.Time { return time.Now().Add(lead).Truncate(time.Second) }

	// The storm: half of all calls answered 409 with Retry-After 1 s for 20 s.
	if err := s.nexudus.SetFaults(nexudussim.Faults{ThrottleRate: 0.5, RetryAfter: 1, CallsPerMinute: 120,
		WritesPerMinute: 120}); err != nil {
		t.Fatal(err)
	}
	stormStart := time.Now()
	storm := map[int]faultBooking{}
	for _, c := range linked {
		from := now()
		storm[c] = s.book(c, from, from.Add(10*time.Minute), lead, lag)
	}
	eventually(t, 2*time.Minute, "every booking of the storm granted", func() bool {
		for _, c := range linked {
			if _, _, ok := watch.seen(c); !ok {
				return false
			}
		}
		return true
	})
	var stormLate []time.Duration
	for _, c := range linked {
		f, _, _ := watch.seen(c)
		stormLate = append(stormLate, f.Sub(storm[c].grantDue))
	}
	throttled := s.nexudus.Stats().Throttled
	time.Sleep(time.Until(stormStart.Add(20 * time.Second)))
	if err := s.nexudus.SetFaults(nexudussim.Faults{CallsPerMinute: 120, WritesPerMinute: 120}); err != nil {
		t.Fatal(err)
	}

	// The outage, with webhooks arriving: new bookings of linked and of fresh customers, two bookings cut
	// short (the body says so) and three deleted (only a read can tell).
	s.gate.closed.Store(true)
	down := time.Now()
	for _, c := range fresh {
		from := now()
		s.book(c, from, from.Add(10*time.Minute), lead, lag)
	}
	shortened, deleted := linked[:2], linked[2:5]
	for _, c := range shortened {
		b, err := s.nx.GetBooking(ctx, storm[c].id)
		if err != nil {
			t.Fatal(err)
		}
		b.ToTime = nexudus.NewTime(time.Now().UTC().Truncate(time.Second)) // ends now: the revoke is due at once
		if err := s.nx.UpdateBooking(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range deleted {
		if err := s.nx.DeleteBooking(ctx, storm[c].id); err != nil {
			t.Fatal(err)
		}
	}
	revoked := func(c int) bool { return !s.member(site1, gRoom, c) }
	granted := func(c int) bool { return s.member(site1, gRoom, c) }
	time.Sleep(time.Until(down.Add(outage)))
	duringOutage := 0
	for _, c := range shortened {
		if revoked(c) {
			duringOutage++
		}
	}
	for _, c := range fresh {
		if granted(c) {
			duringOutage++
		}
	}
	s.gate.closed.Store(false)
	back := time.Now()
	eventually(t, 2*time.Minute, "every change of the outage applied", func() bool {
		for _, c := range append(append([]int{}, shortened...), deleted...) {
			if !revoked(c) {
				return false
			}
		}
		for _, c := range fresh {
			if !granted(c) {
				return false
			}
		}
		return true
	})
	applied := time.Since(back)
	printFigures(t, "fault nexudus: 409 storm 20 s (%d × 409): %d grants, lateness %s; API out of reach %s "+
		"(%d calls refused) while %d changes arrived: %d applied during the outage from the signed bodies, all "+
		"applied %s after Nexudus returned (bound %s)", throttled, len(linked), pctls(stormLate), outage,
		s.gate.refused.Load(), len(fresh)+len(shortened)+len(deleted), duringOutage,
		applied.Round(100*time.Millisecond), bound)
	if len(shortened) > 0 && duringOutage < len(shortened) {
		t.Errorf("a booking cut short (its body says so) waited for Nexudus")
	}
	if applied > bound {
		t.Errorf("the outage's changes were applied %s after Nexudus returned, want ≤ %s", applied, bound)
	}
}
