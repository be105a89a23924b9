package workflows

import (
	"testing"
	"time"

	"github.com/nexsalto/nexsalto/access"
)

func passRef(id int64) access.Ref { return access.Ref{Kind: access.KindPass, ID: id} }

func TestPassGrantedAtOnceRevokedWhenUsedUp(t *testing.T) {
	w := newWorld(t)
	p := access.Entitlement{Ref: passRef(20), Groups: []string{"coworking"}, Status: access.StatusActive,
		RevokeAt: t0.Add(7 * 24 * time.Hour), Summary: "10-visit pass"}
	w.setEnt(p)
	usedUp := t0.Add(50 * time.Hour)
	w.afterAt(usedUp, func() {
		w.edit(p.Ref, func(e *access.Entitlement) { e.Status = access.StatusExpired })
		w.env.SignalWorkflow(access.SignalChanged, nil) // from the pass poller
	})
	st := runEntitlement(t, w, p.Ref)
	checkSignals(t, w,
		wantSignal{t0, access.SignalGrant, []string{"coworking"}, t0.Add(7 * 24 * time.Hour)},
		wantSignal{usedUp, access.SignalRevoke, nil, time.Time{}})
	if st.State != access.StateRevoked {
		t.Errorf("state %s", st.State)
	}
	if r := w.signals()[1].Sig.Change.Reason; r != "pass used up or expired" {
		t.Errorf("revoke reason %q", r)
	}
}

func TestPassRevokedAtExpiry(t *testing.T) {
	w := newWorld(t)
	expiry := t0.Add(30 * time.Hour)
	p := access.Entitlement{Ref: passRef(21), Groups: []string{"coworking"}, Status: access.StatusActive,
		RevokeAt: expiry, Summary: "day pass"}
	w.setEnt(p)
	runEntitlement(t, w, p.Ref)
	checkSignals(t, w,
		wantSignal{t0, access.SignalGrant, []string{"coworking"}, expiry},
		wantSignal{expiry, access.SignalRevoke, nil, time.Time{}})
}

func contractRef(id int64) access.Ref { return access.Ref{Kind: access.KindContract, ID: id} }

func TestContractCancelledWithFutureDate(t *testing.T) {
	w := newWorld(t)
	start := t0.Add(24 * time.Hour)
	c := access.Entitlement{Ref: contractRef(30), Groups: []string{"desk-12"}, Status: access.StatusActive,
		GrantAt: start, Summary: "Dedicated desk 12"}
	w.setEnt(c)
	cancelDate := t0.Add(40 * 24 * time.Hour)
	w.afterAt(t0.Add(10*24*time.Hour), func() {
		w.edit(c.Ref, func(e *access.Entitlement) { e.RevokeAt = cancelDate }) // cancelled, effective later
		w.env.SignalWorkflow(access.SignalChanged, nil)
	})
	var mid access.EntitlementState
	w.afterAt(t0.Add(20*24*time.Hour), func() { mid = queryEntitlement(t, w.env) })
	st := runEntitlement(t, w, c.Ref)
	checkSignals(t, w,
		wantSignal{start, access.SignalGrant, []string{"desk-12"}, time.Time{}},
		wantSignal{t0.Add(10 * 24 * time.Hour), access.SignalGrant, []string{"desk-12"}, cancelDate},
		wantSignal{cancelDate, access.SignalRevoke, nil, time.Time{}})
	if mid.State != access.StateGranted {
		t.Errorf("state between cancellation and its date: %s", mid.State)
	}
	if st.State != access.StateRevoked {
		t.Errorf("final state %s", st.State)
	}
}

func TestContractDeskChangedAndDeactivated(t *testing.T) {
	w := newWorld(t)
	c := access.Entitlement{Ref: contractRef(31), Groups: []string{"desk-12"}, Status: access.StatusActive,
		Summary: "Dedicated desk"}
	w.setEnt(c)
	day := 24 * time.Hour
	w.afterAt(t0.Add(3*day), func() {
		w.edit(c.Ref, func(e *access.Entitlement) { e.Groups = []string{"desk-14", "office-2"} })
		w.env.SignalWorkflow(access.SignalChanged, nil)
	})
	w.afterAt(t0.Add(9*day), func() {
		w.edit(c.Ref, func(e *access.Entitlement) { e.Status = access.StatusExpired })
		w.env.SignalWorkflow(access.SignalChanged, nil)
	})
	runEntitlement(t, w, c.Ref)
	checkSignals(t, w,
		wantSignal{t0, access.SignalGrant, []string{"desk-12"}, time.Time{}},
		wantSignal{t0.Add(3 * day), access.SignalGrant, []string{"desk-14", "office-2"}, time.Time{}},
		wantSignal{t0.Add(9 * day), access.SignalRevoke, nil, time.Time{}})
}
