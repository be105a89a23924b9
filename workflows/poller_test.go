package workflows

import (
	"fmt"
	"testing"
	"time"

	"github.com/nexsalto/nexsalto/access"
)

// Passes, which only the poller reports, are read at every poll interval; what webhooks report too is read
// as their safety net every safety-net interval; a backlog is read on at every poll whatever its entity.
func TestPollerReadsPassesEveryIntervalAndTheSafetyNetLessOften(t *testing.T) {
	start := at(9, 0)
	w := newSyncWorld(t, start)
	w.loc.Sync.PollInterval = 30 * time.Second
	w.loc.Sync.SafetyNetInterval = 2 * time.Minute
	w.loc.Sync.PollPageSize = 1
	w.loc.Sync.PollCallsPerMinute = 60
	// A new pass every 7 s; three bookings land at once at +5 min (three pages: read on at every poll).
	for i := range 80 {
		w.after(time.Duration(i)*7*time.Second+time.Second, func() { w.update(access.EntityPass, int64(100+i)) })
	}
	w.after(5*time.Minute, func() {
		for id := int64(1); id <= 3; id++ {
			w.update(access.EntityBooking, id)
		}
	})
	runUntil[access.PollerState](t, w.env, 10*time.Minute, access.WorkflowPoller, access.PollerInput{LocationID: locID})

	gaps := func(e access.Entity) (shortest, longest time.Duration) {
		at := w.polled[e]
		shortest = time.Hour
		for i := 1; i < len(at); i++ {
			shortest, longest = min(shortest, at[i].Sub(at[i-1])), max(longest, at[i].Sub(at[i-1]))
		}
		return shortest, longest
	}
	if lo, hi := gaps(access.EntityPass); len(w.polled[access.EntityPass]) < 20 || lo < 30*time.Second || hi > 30*time.Second {
		t.Errorf("passes read %d times, %s to %s apart: want every 30 s", len(w.polled[access.EntityPass]), lo, hi)
	}
	// Contracts have no backlog: read at the first poll and then every 2 minutes.
	if lo, hi := gaps(access.EntityContract); len(w.polled[access.EntityContract]) != 5 || lo != 2*time.Minute ||
		hi != 2*time.Minute {
		t.Errorf("contracts read %d times, %s to %s apart: want every 2 min", len(w.polled[access.EntityContract]), lo, hi)
	}
	// Bookings' three pages at one call a page: read on at the next polls, not two minutes later.
	for id := int64(1); id <= 3; id++ {
		key := fmt.Sprintf("%s-%d", access.EntityBooking, id)
		if d := w.dispatchedAt[key].Sub(start.Add(5 * time.Minute)); w.dispatched[key] != 1 || d > 3*time.Minute {
			t.Errorf("booking %d dispatched %d times, %s after it changed", id, w.dispatched[key], d)
		}
	}
	// Every pass is passed on once and within one interval of its change.
	for i := range 80 {
		key := fmt.Sprintf("%s-%d", access.EntityPass, 100+i)
		changed := start.Add(time.Duration(i)*7*time.Second + time.Second).Truncate(time.Second)
		if d := w.dispatchedAt[key].Sub(changed); w.dispatched[key] != 1 || d > 30*time.Second || d < 0 {
			t.Errorf("pass %d dispatched %d times, %s after it changed", 100+i, w.dispatched[key], d)
		}
	}
}
