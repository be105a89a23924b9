package rules

import (
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/nexsalto/nexsalto/access"
	"github.com/nexsalto/nexsalto/config"
	"github.com/nexsalto/nexsalto/nexudus"
)

// webhookFields are the fields of a webhook body the rules read, per entity: a body that lacks one (a partial
// record) cannot stand for a read of Nexudus. "A|B": one of them with a value; "A?": present, null allowed
// (null means "none", as for a booking that is not for a desk).
var webhookFields = map[nexudus.Kind][]string{
	nexudus.KindBooking: {"Id", "UpdatedOn", "CoworkerId", "ResourceId", "Tentative", "FloorPlanDeskId?",
		"FromTime|FromTimeLocal", "ToTime|ToTimeLocal"},
	nexudus.KindCoworkerContract: {"Id", "UpdatedOn", "CoworkerId", "StartDate", "Active", "Cancelled",
		"CancellationDate?", "FloorPlanDeskIds|Desks"},
	nexudus.KindVisitor: {"Id", "UpdatedOn", "BusinessId", "CoworkerId", "FullName", "Email?", "ExpectedArrival",
		"DepartureDate?"},
}

// Observe reduces a webhook's record to the entitlement, as a read of Nexudus at now would, when the record
// carries every field the rules read and an UpdatedOn to order it by. ok is false otherwise (the workflow then
// reads Nexudus). Only a body whose signature proved it came from Nexudus may be observed: the docs say to
// re-read the entity when a webhook is only protected by a token.
func Observe(cfg *config.Config, rec nexudus.Record, now time.Time) (e access.Entitlement, ok bool) {
	need, known := webhookFields[rec.Kind]
	if !known || !hasFields(rec.Raw, need) {
		return e, false
	}
	switch rec.Kind {
	case nexudus.KindBooking:
		var b nexudus.Booking
		if rec.Decode(&b) != nil {
			return e, false
		}
		e = Booking(cfg, b, now)
	case nexudus.KindCoworkerContract:
		var c nexudus.CoworkerContract
		if rec.Decode(&c) != nil || len(c.DeskIDs()) == 0 {
			return e, false
		}
		e = Contract(cfg, c, now)
	case nexudus.KindVisitor:
		var v nexudus.Visitor
		if rec.Decode(&v) != nil {
			return e, false
		}
		e = Visitor(cfg, v, now)
	}
	return e, e.Ref.ID > 0 && !e.UpdatedOn.IsZero()
}

func hasFields(raw json.RawMessage, need []string) bool {
	var fields map[string]json.RawMessage
	if json.Unmarshal(raw, &fields) != nil {
		return false
	}
	for _, n := range need {
		if name, nullable := strings.CutSuffix(n, "?"); nullable {
			if _, ok := fields[name]; !ok {
				return false
			}
			continue
		}
		if !slices.ContainsFunc(strings.Split(n, "|"), func(name string) bool {
			v, ok := fields[name]
			return ok && string(v) != "null"
		}) {
			return false
		}
	}
	return true
}
