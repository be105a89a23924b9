package workflows

import (
	"strings"
	"testing"
	"time"

	"github.com/nexsalto/nexsalto/access"
)

// A 4xx that retrying cannot fix is recorded for a person, does not stop the other groups, and is tried
// again only after a change.
func TestFinalErrorIsRecordedAndSkipped(t *testing.T) {
	w := newWorld(t)
	in := knownUser(w)
	w.failAdd["ghost"] = access.NewFinalError(access.ErrSaltoNotFound, "access group ghost not found", nil)
	w.grantAt(at(8, 45), "booking-1", at(10, 15), "ghost", "room-a")
	w.grantAt(at(9, 0), "booking-1", at(10, 45), "ghost", "room-a") // extended: no retry of ghost
	w.afterAt(at(9, 30), func() { w.env.SignalWorkflow(access.SignalRelink, nil) })
	var blocked access.CustomerState
	w.afterAt(at(9, 10), func() { blocked = queryCustomer(t, w.env) })
	runCustomer(t, w, in)
	checkCalls(t, w.callsOf(), wantCall{at(8, 45), "add-failed", "ghost"}, wantCall{at(8, 45), "add", "room-a"},
		wantCall{at(9, 30), "get", ""}, wantCall{at(9, 30), "add-failed", "ghost"},
		wantCall{at(10, 45), "remove", "room-a"})
	if p := w.problemList(); len(p) != 2 || !strings.Contains(p[0].Description, "ghost") ||
		p[0].CoworkerID != coworkerID || p[0].LocationID != locID {
		t.Errorf("problems %+v", p)
	}
	if !strings.Contains(blocked.Blocked["ghost"], "SaltoNotFound") {
		t.Errorf("blocked %v", blocked.Blocked)
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	w := newWorld(t)
	in := knownUser(w)
	w.transient["add"] = 2
	w.retryAfter["add"] = 45 * time.Second
	w.grantAt(at(8, 45), "booking-1", at(10, 15), "room-a")
	runCustomer(t, w, in)
	checkCalls(t, w.callsOf(), wantCall{at(8, 45), "add-failed", "room-a"},
		wantCall{at(8, 45).Add(45 * time.Second), "add-failed", "room-a"},
		wantCall{at(8, 45).Add(90 * time.Second), "add", "room-a"}, wantCall{at(10, 15), "remove", "room-a"})
	if len(w.problemList()) != 0 {
		t.Errorf("a throttled call is not a problem: %+v", w.problemList())
	}
}

// Salto is down when the revoke is due: the revoke is retried with capped backoff until done. (The test
// environment caps "unlimited" attempts at 10 per activity; the workflow then keeps the remove due, pauses and
// schedules it again, which a real server with unlimited attempts never needs.)
func TestRevokeIsNeverDropped(t *testing.T) {
	w := newWorld(t)
	in := knownUser(w)
	w.transient["remove"] = 40
	w.grantAt(at(8, 45), "booking-1", at(10, 15), "room-a")
	w.revokeAt(at(10, 15), "booking-1")
	runCustomer(t, w, in)
	removes := w.callsOf("remove")
	if len(removes) != 1 {
		t.Fatalf("removes %+v", removes)
	}
	failed := w.callsOf("remove-failed")
	if len(failed) != 40 || len(w.problemList()) != 0 {
		t.Fatalf("%d failed attempts, problems %+v", len(failed), w.problemList())
	}
	for i := 1; i < len(failed); i++ {
		if gap := failed[i].At.Sub(failed[i-1].At); gap > saltoMaxInterval {
			t.Fatalf("backoff %s exceeds the cap", gap)
		}
	}
	// Forty failures a few seconds apart: the door closes minutes after Salto is back, not hours.
	if d := removes[0].At.Sub(at(10, 15)); d < time.Minute || d > 40*saltoMaxInterval {
		t.Errorf("removed %s after the end", d)
	}
	if u := w.userByEmail("ada@example.com"); w.isMember("room-a", u.PlatformID) {
		t.Error("door left open")
	}
}

// An add stuck in retries while the booking is cancelled is abandoned, and the group is removed in case an
// attempt got through.
func TestStuckAddIsCancelledByRevoke(t *testing.T) {
	w := newWorld(t)
	in := knownUser(w)
	w.transient["add"] = 1000
	w.retryAfter["add"] = 10 * time.Minute // attempts at 08:45 and 08:55, the next one would be 09:05
	w.grantAt(at(8, 45), "booking-1", at(10, 15), "room-a")
	w.revokeAt(at(9, 0), "booking-1")
	st := runCustomer(t, w, in)
	if adds := w.callsOf("add"); len(adds) != 0 {
		t.Fatalf("add went through: %+v", adds)
	}
	removes := w.callsOf("remove")
	if len(removes) != 1 || !removes[0].At.Equal(at(9, 0)) {
		t.Fatalf("removes %+v", removes)
	}
	if failed := w.callsOf("add-failed"); len(failed) != 2 {
		t.Errorf("add attempts: %+v", failed)
	}
	if len(st.Applied) != 0 {
		t.Errorf("applied %v", st.Applied)
	}
}
func TestMissingEmailIsAProblem(t *testing.T) {
	w := newWorld(t)
	w.coworkers[coworkerID] = coworker{}
	w.grantAt(at(8, 45), "booking-1", at(10, 15), "room-a")
	st := runCustomer(t, w, access.NewCustomerInput(customer))
	if p := w.problemList(); len(p) != 1 || !strings.Contains(p[0].Description, access.ErrMissingEmail) {
		t.Fatalf("problems %+v", p)
	}
	if len(w.callsOf("add", "create")) != 0 || st.User != nil {
		t.Errorf("calls %+v", w.callsOf())
	}
}
