package rules

import (
	"encoding/json"
	"testing"

	"github.com/nexsalto/nexsalto/nexudus"
)

// A webhook body stands for a read only when it holds every field the rules read.
func TestObserve(t *testing.T) {
	now := utc("2026-12-01 08:00")
	full := `{"Id":7,"UpdatedOn":"2026-12-01T07:00:00Z","CoworkerId":1,"ResourceId":10,"ResourceName":"Sala",
		"Tentative":false,"FloorPlanDeskId":null,"FromTime":"2026-12-01T10:00:00Z","ToTime":"2026-12-01T11:00:00Z"}`
	for _, tc := range []struct {
		name string
		kind nexudus.Kind
		body string
		ok   bool
	}{
		{"a whole booking", nexudus.KindBooking, full, true},
		{"local times only", nexudus.KindBooking, `{"Id":7,"UpdatedOn":"2026-12-01T07:00:00Z","CoworkerId":1,
			"ResourceId":10,"Tentative":false,"FloorPlanDeskId":null,"FromTimeLocal":"2026-12-01T11:00:00",
			"ToTimeLocal":"2026-12-01T12:00:00"}`, true},
		{"no UpdatedOn to order it by", nexudus.KindBooking, `{"Id":7,"CoworkerId":1,"ResourceId":10,
			"Tentative":false,"FloorPlanDeskId":null,"FromTime":"2026-12-01T10:00:00Z","ToTime":"2026-12-01T11:00:00Z"}`, false},
		{"no desk field: a desk booking's groups would be missed", nexudus.KindBooking, `{"Id":7,
			"UpdatedOn":"2026-12-01T07:00:00Z","CoworkerId":1,"ResourceId":10,"Tentative":false,
			"FromTime":"2026-12-01T10:00:00Z","ToTime":"2026-12-01T11:00:00Z"}`, false},
		{"a null end", nexudus.KindBooking, `{"Id":7,"UpdatedOn":"2026-12-01T07:00:00Z","CoworkerId":1,
			"ResourceId":10,"Tentative":false,"FloorPlanDeskId":null,"FromTime":"2026-12-01T10:00:00Z","ToTime":null}`, false},
		{"a whole contract", nexudus.KindCoworkerContract, `{"Id":8,"UpdatedOn":"2026-12-01T07:00:00Z",
			"CoworkerId":1,"StartDate":"2026-11-01T00:00:00Z","Active":true,"Cancelled":false,"CancellationDate":null,
			"FloorPlanDeskIds":[30]}`, true},
		{"a contract without desks (a partial record)", nexudus.KindCoworkerContract, `{"Id":8,
			"UpdatedOn":"2026-12-01T07:00:00Z","CoworkerId":1,"StartDate":"2026-11-01T00:00:00Z","Active":true,
			"Cancelled":false,"CancellationDate":null,"FloorPlanDeskIds":[]}`, false},
		{"a contract without Active", nexudus.KindCoworkerContract, `{"Id":8,"UpdatedOn":"2026-12-01T07:00:00Z",
			"CoworkerId":1,"StartDate":"2026-11-01T00:00:00Z","Cancelled":false,"CancellationDate":null,
			"FloorPlanDeskIds":[30]}`, false},
		{"a whole visitor", nexudus.KindVisitor, `{"Id":9,"UpdatedOn":"2026-12-01T07:00:00Z","BusinessId":5,
			"CoworkerId":1,"FullName":"Vera","Email":null,"ExpectedArrival":"2026-12-01T10:00:00Z","DepartureDate":null}`, true},
		{"a pass (no webhook exists for passes)", nexudus.KindCoworkerTimePass, `{"Id":9}`, false},
	} {
		rec := nexudus.Record{Kind: tc.kind, Raw: json.RawMessage(tc.body)}
		e, ok := Observe(madrid(), rec, now)
		if ok != tc.ok {
			t.Errorf("%s: observed %v, want %v", tc.name, ok, tc.ok)
		}
		if ok && e.UpdatedOn.IsZero() {
			t.Errorf("%s: no UpdatedOn", tc.name)
		}
	}
	// The entitlement is the rules' own: the same as a read of the record.
	e, _ := Observe(madrid(), nexudus.Record{Kind: nexudus.KindBooking, Raw: json.RawMessage(full)}, now)
	if !e.GrantAt.Equal(utc("2026-12-01 09:45")) || !e.RevokeAt.Equal(utc("2026-12-01 11:15")) || e.LocationID != 5 {
		t.Errorf("observed %+v", e)
	}
}
