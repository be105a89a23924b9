package nexudus

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
)

// Action is Nexudus' eWebhookAction: what happened, and so which entity the payload
// carries.
type Action int

// The webhook actions that matter for access control.
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

type actionInfo struct {
	name string
	kind Kind
}

// actions maps each action to its Nexudus name and the entity its payload holds.
// CoworkerCheckin/CoworkerCheckout are taken to carry the customer; that is read from
// their names, not confirmed.
var actions = map[Action]actionInfo{
	ActionCoworkerUpdate:                   {"CoworkerUpdate", KindCoworker},
	ActionCoworkerCreate:                   {"CoworkerCreate", KindCoworker},
	ActionBookingCreate:                    {"BookingCreate", KindBooking},
	ActionBookingUpdate:                    {"BookingUpdate", KindBooking},
	ActionBookingDelete:                    {"BookingDelete", KindBooking},
	ActionCoworkerContractActivate:         {"CoworkerContractActivate", KindCoworkerContract},
	ActionCoworkerContractCancel:           {"CoworkerContractCancel", KindCoworkerContract},
	ActionCoworkerContractRenew:            {"CoworkerContractRenew", KindCoworkerContract},
	ActionCoworkerContractUpgradeDowngrade: {"CoworkerContractUpgradeDowngrade", KindCoworkerContract},
	ActionCoworkerContractActivateFirst:    {"CoworkerContractActivateFirst", KindCoworkerContract},
	ActionCoworkerCheckout:                 {"CoworkerCheckout", KindCoworker},
	ActionCoworkerCheckin:                  {"CoworkerCheckin", KindCoworker},
	ActionVisitorCheckedin:                 {"VisitorCheckedin", KindVisitor},
	ActionVisitorRegistered:                {"VisitorRegistered", KindVisitor},
	ActionCheckinCreated:                   {"CheckinCreated", KindCheckin},
	ActionCheckinUpdated:                   {"CheckinUpdated", KindCheckin},
	ActionCheckinDeleted:                   {"CheckinDeleted", KindCheckin},
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

// String is the Nexudus name ("BookingUpdate"), or "Action(n)" for an unknown number.
func (a Action) String() string {
	if i, ok := actions[a]; ok {
		return i.name
	}
	return "Action(" + strconv.Itoa(int(a)) + ")"
}

// Kind is the entity the action's payload carries ("" for an unknown action).
func (a Action) Kind() Kind { return actions[a].kind }

// ActionByName finds an action by its Nexudus name, case-insensitively; a decimal
// number is accepted too ("7").
func ActionByName(name string) (Action, bool) {
	name = strings.TrimSpace(name)
	if n, err := strconv.Atoi(name); err == nil {
		a := Action(n)
		return a, a.Known()
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

// SignatureHeader carries the HMAC of a webhook body when a secret is configured.
const SignatureHeader = "X-Nexudus-Hook-Signature"

// Signature and payload errors, for errors.Is.
var (
	ErrNoSecret           = errors.New("nexudus: no webhook secret configured")
	ErrSignatureMissing   = errors.New("nexudus: webhook signature missing")
	ErrSignatureMalformed = errors.New("nexudus: webhook signature is not a hex HMAC-SHA256")
	ErrSignatureMismatch  = errors.New("nexudus: webhook signature does not match")
	ErrUnknownAction      = errors.New("nexudus: unknown webhook action")
	ErrWebhookNotJSON     = errors.New("nexudus: webhook body is not JSON")
	ErrWebhookNotArray    = errors.New("nexudus: webhook body is not a JSON array")
	ErrWebhookEmpty       = errors.New("nexudus: webhook body holds no record")
	ErrWebhookMultiple    = errors.New("nexudus: webhook body holds more than one record")
	ErrWebhookNoID        = errors.New("nexudus: webhook record has no Id")
	ErrWebhookRecordShape = errors.New("nexudus: webhook record does not have the entity's shape")
)

// Sign returns the signature Nexudus sends for body: uppercase hex HMAC-SHA256.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return strings.ToUpper(hex.EncodeToString(m.Sum(nil)))
}

// VerifySignature checks header (the SignatureHeader value) against the raw body.
// Uppercase and lowercase hex are accepted; the comparison is constant-time. An empty
// secret is an error, never a pass.
func VerifySignature(secret, body []byte, header string) error {
	if len(secret) == 0 {
		return ErrNoSecret
	}
	header = strings.TrimSpace(header)
	if header == "" {
		return ErrSignatureMissing
	}
	got, err := hex.DecodeString(header)
	if err != nil || len(got) != sha256.Size {
		return ErrSignatureMalformed
	}
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	if !hmac.Equal(got, m.Sum(nil)) {
		return ErrSignatureMismatch
	}
	return nil
}

// Record is a parsed webhook: the action, the entity kind it carries, the ids that
// route it, and the raw record for Decode. A webhook is a hint to re-read the entity,
// not the truth: deliveries repeat and arrive out of order.
type Record struct {
	Action     Action
	Kind       Kind
	Id         int
	CoworkerId int // the customer concerned; 0 if the record names none
	BusinessId int // the location, when the record carries it; 0 otherwise
	Raw        json.RawMessage
}

// String and LogValue leave Raw out: it may hold an access PIN or a visitor code.
func (r Record) String() string {
	return fmt.Sprintf("nexudus.Record{%s %s Id:%d CoworkerId:%d BusinessId:%d}", r.Action, r.Kind, r.Id, r.CoworkerId, r.BusinessId)
}

// GoString keeps %#v from dumping Raw.
func (r Record) GoString() string { return r.String() }

// LogValue is the structured-log form of String.
func (r Record) LogValue() slog.Value {
	return slog.GroupValue(slog.String("action", r.Action.String()), slog.String("kind", string(r.Kind)),
		slog.Int("id", r.Id), slog.Int("coworker_id", r.CoworkerId), slog.Int("business_id", r.BusinessId))
}

// Decode unmarshals the raw record into v (a *Booking, *Coworker, ...).
func (r Record) Decode(v any) error { return json.Unmarshal(r.Raw, v) }

// webhookIDs reads the routing ids; every field is optional except Id.
type webhookIDs struct {
	Id                  int `json:"Id"`
	CoworkerId          int `json:"CoworkerId"`
	BusinessId          int `json:"BusinessId"`
	InvoicingBusinessId int `json:"InvoicingBusinessId"`
	FloorPlanBusinessId int `json:"FloorPlanBusinessId"`
}

// newOfKind returns a pointer to the entity type of k, for shape checking.
func newOfKind(k Kind) any {
	switch k {
	case KindCoworker:
		return new(Coworker)
	case KindBooking:
		return new(Booking)
	case KindCoworkerContract:
		return new(CoworkerContract)
	case KindVisitor:
		return new(Visitor)
	case KindCheckin:
		return new(Checkin)
	case KindCoworkerTimePass:
		return new(CoworkerTimePass)
	case KindFloorPlanDesk:
		return new(FloorPlanDesk)
	case KindResource:
		return new(Resource)
	case KindBusiness:
		return new(Business)
	default:
		return new(map[string]any)
	}
}

// ParseWebhook decodes a webhook body: a JSON array holding exactly one record of the
// entity action carries. It checks the shape against the entity type, so a body
// meant for another action fails here rather than deep in a workflow.
func ParseWebhook(action Action, body []byte) (Record, error) {
	info, ok := actions[action]
	if !ok {
		return Record{}, fmt.Errorf("%w: %d", ErrUnknownAction, int(action))
	}
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return Record{}, fmt.Errorf("%w: empty body", ErrWebhookNotJSON)
	}
	if !json.Valid(trimmed) {
		return Record{}, fmt.Errorf("%w (%d bytes)", ErrWebhookNotJSON, len(body))
	}
	if trimmed[0] != '[' {
		what := "a scalar"
		if trimmed[0] == '{' {
			what = "a bare object; Nexudus sends a one-record array"
		}
		return Record{}, fmt.Errorf("%w: got %s", ErrWebhookNotArray, what)
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(trimmed, &elems); err != nil {
		return Record{}, fmt.Errorf("%w: %v", ErrWebhookNotArray, err)
	}
	switch len(elems) {
	case 0:
		return Record{}, ErrWebhookEmpty
	case 1:
	default:
		return Record{}, fmt.Errorf("%w: %d records", ErrWebhookMultiple, len(elems))
	}
	raw := bytes.TrimSpace(elems[0])
	if len(raw) == 0 || raw[0] != '{' {
		return Record{}, fmt.Errorf("%w: the array element is not an object", ErrWebhookRecordShape)
	}
	if err := json.Unmarshal(raw, newOfKind(info.kind)); err != nil {
		return Record{}, fmt.Errorf("%w: %s for %s: %v", ErrWebhookRecordShape, info.kind, action, err)
	}
	var ids webhookIDs
	if err := json.Unmarshal(raw, &ids); err != nil {
		return Record{}, fmt.Errorf("%w: %v", ErrWebhookRecordShape, err)
	}
	if ids.Id <= 0 {
		return Record{}, ErrWebhookNoID
	}
	r := Record{Action: action, Kind: info.kind, Id: ids.Id, CoworkerId: ids.CoworkerId, BusinessId: ids.BusinessId,
		Raw: append(json.RawMessage(nil), raw...)}
	switch info.kind {
	case KindCoworker:
		// A coworker record has no CoworkerId field; if one is present the payload is
		// some other record about the customer (possible for CoworkerCheckin/Checkout).
		if r.CoworkerId == 0 {
			r.CoworkerId = ids.Id
		}
		if r.BusinessId == 0 {
			r.BusinessId = ids.InvoicingBusinessId
		}
	case KindFloorPlanDesk:
		r.BusinessId = ids.FloorPlanBusinessId
	}
	return r, nil
}
