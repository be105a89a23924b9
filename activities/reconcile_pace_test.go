package activities

import (
	"context"
	"testing"
	"time"

	"github.com/nexsalto/nexsalto/access"
)

// Policy repairs go at the configured pace, shared by every caller, and a wait heartbeats.
func TestPolicyRepairsArePaced(t *testing.T) {
	var p policyPace
	beats := 0
	began := time.Now()
	for range 3 {
		if err := p.wait(context.Background(), 2, func() { beats++ }); err != nil {
			t.Fatal(err)
		}
	}
	// The first goes at once, the next two half a second apart each.
	if took := time.Since(began); took < 900*time.Millisecond || took > 3*time.Second {
		t.Errorf("3 repairs at 2/s took %s, want about 1 s", took)
	}
	if beats < 2 {
		t.Errorf("%d heartbeats while waiting, want one per wait", beats)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := p.wait(ctx, 2, func() {}); err == nil {
		t.Error("a wait past its context's deadline returned no error")
	}
	if err := (&policyPace{}).wait(context.Background(), 0, nil); err != nil {
		t.Errorf("no pacing: %v", err)
	}
}

// Only repairs that do nothing but the policy are paced: a membership to take away, a workflow to refresh or a
// suspended user to subscribe again go at once.
func TestOnlyPolicyRepairsArePaced(t *testing.T) {
	repair := func(u *access.SaltoUser, nothingLeft bool) *access.Repair {
		return &access.Repair{User: u, NothingLeft: nothingLeft}
	}
	for _, c := range []struct {
		act  access.ReconcileAction
		want bool
	}{
		{access.ReconcileAction{Policy: access.PolicySuspend, Repair: repair(&access.SaltoUser{}, true)}, true},
		{access.ReconcileAction{Policy: access.PolicyDelete, Repair: repair(&access.SaltoUser{}, true)}, true},
		{access.ReconcileAction{Policy: access.PolicySuspend, Remove: []string{"room"}, Repair: repair(&access.SaltoUser{}, true)}, false},
		{access.ReconcileAction{Policy: access.PolicySuspend, Repair: repair(nil, true),
			Refresh: []access.Ref{{Kind: access.KindBooking, ID: 1}}}, false},
		{access.ReconcileAction{Add: []string{"room"}, Repair: repair(nil, false)}, false},
		{access.ReconcileAction{Repair: repair(&access.SaltoUser{Suspended: true}, false)}, false},
	} {
		if got := policyOnly(c.act); got != c.want {
			t.Errorf("policyOnly(%+v) = %v, want %v", c.act, got, c.want)
		}
	}
}
