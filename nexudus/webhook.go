package nexudus

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
)

// Payload errors, for errors.Is; the signature errors are in signature.go.
var (
	ErrUnknownAction      = errors.New("nexudus: unknown webhook action")
	ErrWebhookNotJSON     = errors.New("nexudus: webhook body is not JSON")
	ErrWebhookNotArray    = errors.New("nexudus: webhook body is not a JSON array")
	ErrWebhookEmpty       = errors.New("nexudus: webhook body holds no record")
	ErrWebhookMultiple    = errors.New("nexudus: webhook body holds more than one record")
	ErrWebhookNoID        = errors.New("nexudus: webhook record has no Id")
	ErrWebhookRecordShape = errors.New("nexudus: webhook record does not have the entity's shape")
)

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
	// Fields only a coworker record has, to tell one in an "Access control updated" body.
	Email        *string `json:"Email"`
	FullName     *string `json:"FullName"`
	AccessCardId *string `json:"AccessCardId"`
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
	if ids.Id <= 0 && info.kind != KindAccessControl {
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
	case KindAccessControl:
		// The body's shape is not documented: it names the customer by CoworkerId, or is the
		// coworker record itself. Anything else names no customer (CoworkerId 0).
		if r.CoworkerId == 0 && (ids.Email != nil || ids.FullName != nil || ids.AccessCardId != nil) {
			r.CoworkerId = ids.Id
		}
		if r.BusinessId == 0 {
			r.BusinessId = ids.InvoicingBusinessId
		}
	}
	return r, nil
}
