package workflows

import (
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/converter"

	"github.com/nexsalto/nexsalto/access"
)

func visitorRef(id int64) access.Ref { return access.Ref{Kind: access.KindVisitor, ID: id} }

func visitor(id int64, from, to time.Time) access.Entitlement {
	return access.Entitlement{Ref: visitorRef(id), Groups: []string{"visitors"}, Status: access.StatusActive,
		GrantAt: from, RevokeAt: to, Summary: "Grace Hopper visiting Ada, 30 Nov",
		Visitor: &access.VisitorDetails{Name: "Grace Hopper", GroupID: "visitors", PIN: true}}
}

func TestVisitorPINNeverInHistoryOrLogs(t *testing.T) {
	w := newWorld(t)
	v := visitor(40, at(8, 0), at(23, 59))
	w.setEnt(v)
	var seen []string // every activity input and result the workflow history would hold
	w.env.SetOnActivityStartedListener(func(_ *activityInfo, _ ctxT, args converter.EncodedValues) {
		var in access.VisitorGrant
		if args.Get(&in) == nil {
			seen = append(seen, asJSON(in))
		}
	})
	w.env.SetOnActivityCompletedListener(func(_ *activityInfo, result converter.EncodedValue, _ error) {
		var out access.VisitorAccess
		if result != nil && result.HasValue() && result.Get(&out) == nil {
			seen = append(seen, asJSON(out))
		}
	})
	var during access.EntitlementState
	var member bool
	w.afterAt(at(12, 0), func() {
		during = queryEntitlement(t, w.env)
		if g := during.Granted; g != nil && g.Visitor != nil {
			member = w.isMember("visitors", g.Visitor.PlatformUserID)
		}
	})
	st := runEntitlement(t, w, v.Ref)

	guests := w.callsOf("guest", "revoke-guest")
	if len(guests) != 2 || !guests[0].At.Equal(at(8, 0)) || !guests[1].At.Equal(at(23, 59)) {
		t.Fatalf("visitor calls: %+v", guests)
	}
	if !member {
		t.Error("visitor not in the visitor group at noon")
	}
	pin := w.visitorPINs[v.Ref.ID]
	if len(pin) != 6 {
		t.Fatalf("no PIN written to the Nexudus visitor record: %q", pin)
	}
	seen = append(seen, asJSON(during), asJSON(st))
	for _, s := range seen {
		if strings.Contains(s, pin) {
			t.Fatalf("PIN appears in workflow data: %s", s)
		}
	}
	if w.logs.contains(pin) {
		t.Fatal("PIN appears in a log line")
	}
	if len(seen) < 4 {
		t.Fatalf("listener saw too little to be meaningful: %v", seen)
	}
	if w.userByEmail("") != nil {
		t.Error("visitor guest still exists after revoke")
	}
	checkSignals(t, w) // visitors never touch a customer workflow
}

// A visitor's name is in the entitlement's summary, which problem descriptions quote: the description goes to
// Nexudus and the (encrypted) history, never to a log line.
func TestVisitorProblemNamesNoVisitorInLogs(t *testing.T) {
	w := newWorld(t)
	v := visitor(42, at(8, 0), at(23, 59))
	w.setEnt(v)
	w.failAdd["visitors"] = access.NewFinalError(access.ErrSaltoNotFound, "access group visitors not found", nil)
	runEntitlement(t, w, v.Ref)
	if p := w.problemList(); len(p) != 1 || !strings.Contains(p[0].Description, "Grace Hopper") {
		t.Fatalf("problems %+v, want one that names the visitor for Nexudus", p)
	}
	if !w.logs.contains("access problem") {
		t.Fatal("the problem was not logged at all")
	}
	// The SDK's own DEBUG lines print local activity results, which are ciphertext under the codec (not
	// installed here); ours log at INFO and above.
	for _, line := range w.logs.lines {
		if !strings.HasPrefix(line, "DEBUG ") && strings.Contains(line, "Grace Hopper") {
			t.Errorf("the visitor's name reached a log line: %s", line)
		}
	}
}

func TestVisitorRemovedAtDeparture(t *testing.T) {
	w := newWorld(t)
	v := visitor(41, at(8, 0), at(23, 59))
	w.setEnt(v)
	w.afterAt(at(15, 30), func() {
		w.edit(v.Ref, func(e *access.Entitlement) {
			e.Visitor.Departed = true
			e.RevokeAt = at(15, 30)
		})
		w.env.SignalWorkflow(access.SignalChanged, nil)
	})
	runEntitlement(t, w, v.Ref)
	guests := w.callsOf("guest", "revoke-guest")
	if len(guests) != 2 || !guests[1].At.Equal(at(15, 30)) {
		t.Fatalf("visitor calls: %+v", guests)
	}
}
