package nexudus

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Action is Nexudus' eWebhookAction: what happened, and so which entity the payload
// carries.
type Action int

// The webhook actions that matter for access control, with their documented numbers.
const (
	ActionCoworkerUpdate                   Action = 2
	ActionCoworkerCreate                   Action = 3
	ActionBookingCreate                    Action = 6
	ActionBookingUpdate                    Action = 7
	ActionBookingDelete                    Action = 8
	ActionCoworkerContractActivate         Action = 10
	ActionCoworkerContractCancel           Action = 11
	ActionCoworkerContractRenew            Action = 12
	ActionCoworkerContractUpgradeDowngrade Action = 13
	ActionCoworkerContractActivateFirst    Action = 14
	ActionCoworkerCheckout                 Action = 35
	ActionCoworkerCheckin                  Action = 36
	ActionVisitorCheckedin                 Action = 41
	ActionVisitorRegistered                Action = 42
	ActionCheckinCreated                   Action = 47
	ActionCheckinUpdated                   Action = 48
	ActionCheckinDeleted                   Action = 49
)

// Actions Nexudus' admin panel lists whose numbers are not documented. They are named by
// their URL (one URL per action), never by number: the values below are this package's
// own, kept above any documented one, and mean nothing to Nexudus. Register these in the
// admin panel by name.
const (
	ActionCoworkerDelete      Action = 1001 // "Customer deleted"
	ActionFloorPlanDeskCreate Action = 1002 // "Floor plan desk created"
	ActionFloorPlanDeskUpdate Action = 1003 // "Floor plan desk updated"
	ActionFloorPlanDeskDelete Action = 1004 // "Floor plan desk deleted"
	ActionAccessControlUpdate Action = 1005 // "Access control updated"
)

// KindAccessControl is what an "Access control updated" webhook carries. Its shape is not
// documented: it is read only for the customer it names (see ParseWebhook).
const KindAccessControl Kind = "AccessControl"

type actionInfo struct {
	name       string
	kind       Kind
	delete     bool // the record is gone in Nexudus
	documented bool // the number is Nexudus' own
}

// actions maps each action to its Nexudus name and the entity its payload holds.
// CoworkerCheckin/CoworkerCheckout are taken to carry the customer; that is read from
// their names, not confirmed.
var actions = map[Action]actionInfo{
	ActionCoworkerUpdate:                   {"CoworkerUpdate", KindCoworker, false, true},
	ActionCoworkerCreate:                   {"CoworkerCreate", KindCoworker, false, true},
	ActionBookingCreate:                    {"BookingCreate", KindBooking, false, true},
	ActionBookingUpdate:                    {"BookingUpdate", KindBooking, false, true},
	ActionBookingDelete:                    {"BookingDelete", KindBooking, true, true},
	ActionCoworkerContractActivate:         {"CoworkerContractActivate", KindCoworkerContract, false, true},
	ActionCoworkerContractCancel:           {"CoworkerContractCancel", KindCoworkerContract, false, true},
	ActionCoworkerContractRenew:            {"CoworkerContractRenew", KindCoworkerContract, false, true},
	ActionCoworkerContractUpgradeDowngrade: {"CoworkerContractUpgradeDowngrade", KindCoworkerContract, false, true},
	ActionCoworkerContractActivateFirst:    {"CoworkerContractActivateFirst", KindCoworkerContract, false, true},
	ActionCoworkerCheckout:                 {"CoworkerCheckout", KindCoworker, false, true},
	ActionCoworkerCheckin:                  {"CoworkerCheckin", KindCoworker, false, true},
	ActionVisitorCheckedin:                 {"VisitorCheckedin", KindVisitor, false, true},
	ActionVisitorRegistered:                {"VisitorRegistered", KindVisitor, false, true},
	ActionCheckinCreated:                   {"CheckinCreated", KindCheckin, false, true},
	ActionCheckinUpdated:                   {"CheckinUpdated", KindCheckin, false, true},
	ActionCheckinDeleted:                   {"CheckinDeleted", KindCheckin, true, true},
	ActionCoworkerDelete:                   {"CoworkerDelete", KindCoworker, true, false},
	ActionFloorPlanDeskCreate:              {"FloorPlanDeskCreate", KindFloorPlanDesk, false, false},
	ActionFloorPlanDeskUpdate:              {"FloorPlanDeskUpdate", KindFloorPlanDesk, false, false},
	ActionFloorPlanDeskDelete:              {"FloorPlanDeskDelete", KindFloorPlanDesk, true, false},
	ActionAccessControlUpdate:              {"AccessControlUpdate", KindAccessControl, false, false},
}

// Actions lists the known actions in numeric order.
func Actions() []Action {
	out := make([]Action, 0, len(actions))
	for a := range actions {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Known reports whether a is one of the actions above.
func (a Action) Known() bool { _, ok := actions[a]; return ok }

// Documented reports whether a's number is Nexudus' own, so that it may be used to
// register the webhook through the API; the others are registered by name in the admin
// panel.
func (a Action) Documented() bool { return actions[a].documented }

// Deletes reports whether the action says its record is gone: there is nothing to read
// again, so it only concerns a workflow that is already running.
func (a Action) Deletes() bool { return actions[a].delete }

// String is the Nexudus name ("BookingUpdate"), or "Action(n)" for an unknown number.
func (a Action) String() string {
	if i, ok := actions[a]; ok {
		return i.name
	}
	return "Action(" + strconv.Itoa(int(a)) + ")"
}

// Kind is the entity the action's payload carries ("" for an unknown action).
func (a Action) Kind() Kind { return actions[a].kind }

// ActionByName finds an action by its name, case-insensitively; the decimal number of a
// documented action is accepted too ("7").
func ActionByName(name string) (Action, bool) {
	name = strings.TrimSpace(name)
	if n, err := strconv.Atoi(name); err == nil {
		a := Action(n)
		return a, a.Documented()
	}
	for a, i := range actions {
		if strings.EqualFold(i.name, name) {
			return a, true
		}
	}
	return 0, false
}

// MarshalJSON writes the number, as Nexudus does.
func (a Action) MarshalJSON() ([]byte, error) { return []byte(strconv.Itoa(int(a))), nil }

// UnmarshalJSON accepts the number or the name.
func (a *Action) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		v, ok := ActionByName(s)
		if !ok {
			return fmt.Errorf("nexudus: unknown webhook action %q", s)
		}
		*a = v
		return nil
	}
	var n int
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("nexudus: webhook action must be a number or a name")
	}
	*a = Action(n)
	return nil
}
