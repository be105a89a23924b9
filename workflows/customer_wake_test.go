package workflows

import (
	"fmt"
	"testing"
	"time"
)

// A customer woken by a signal per booking keeps its timer instead of cancelling it at every wake (the Go SDK
// keeps every cancelled timer's state while the run is cached): 30 grants, no timer cancelled, and the safety
// net still ends each entry at its end without a revoke, the one ending sooner than the rest too.
func TestCustomerWokenBySignalsCancelsNoTimer(t *testing.T) {
	w := newWorld(t)
	in := knownUser(w)
	for k := range 30 {
		// Each booking ends a minute after the one before: the earliest end stays the first one's.
		w.grantAt(at(8, 0).Add(time.Duration(k)*5*time.Minute), fmt.Sprintf("booking-%d", k),
			at(11, 0).Add(time.Duration(k)*time.Minute), "room-a")
	}
	// One that ends before all of them: the customer must wake earlier for it.
	w.grantAt(at(9, 0), "booking-short", at(9, 30), "room-b")
	runCustomer(t, w, in)
	checkCalls(t, w.callsOf(), wantCall{at(8, 0), "add", "room-a"}, wantCall{at(9, 0), "add", "room-b"},
		wantCall{at(9, 30), "remove", "room-b"}, wantCall{at(11, 29), "remove", "room-a"})
	if n := w.counts.snapshot()["timerCanceled"]; n != 0 {
		t.Errorf("%d timers cancelled, want 0", n)
	}
}
