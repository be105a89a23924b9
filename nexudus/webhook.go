package nexudus

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"reflect"
	"strings"
	"sync"
	"unicode/utf8"
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
	ErrWebhookNotUTF8     = errors.New("nexudus: webhook body is not valid UTF-8")
	ErrWebhookFieldName   = errors.New("nexudus: webhook record has a field name Nexudus does not send")
	ErrWebhookIDRange     = errors.New("nexudus: webhook id out of range")
	ErrWebhookWrongKind   = errors.New("nexudus: webhook record is not what the action carries")
)

// MaxID is the largest Nexudus id: ids are .NET Int32, and positive.
const MaxID = math.MaxInt32

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
	Id                  *int `json:"Id"` // nil: absent, which only an access-control update may be
	CoworkerId          int  `json:"CoworkerId"`
	BusinessId          int  `json:"BusinessId"`
	InvoicingBusinessId int  `json:"InvoicingBusinessId"`
	FloorPlanBusinessId int  `json:"FloorPlanBusinessId"`
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
// entity action carries. It is strict where encoding/json is lenient, so that a body
// Nexudus could not have sent fails here, with the reason, rather than deep in a
// workflow: the body must be valid UTF-8, field names exact ("Id", not "id"), each key
// given once, ids within 1..MaxID, and the record of the kind the action carries.
func ParseWebhook(action Action, body []byte) (Record, error) {
	info, ok := actions[action]
	if !ok {
		return Record{}, fmt.Errorf("%w: %d", ErrUnknownAction, int(action))
	}
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return Record{}, fmt.Errorf("%w: empty body", ErrWebhookNotJSON)
	}
	if !utf8.Valid(body) {
		return Record{}, fmt.Errorf("%w: invalid byte at offset %d", ErrWebhookNotUTF8, invalidUTF8At(body))
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
	entity := newOfKind(info.kind)
	keys, err := checkNames(raw, reflect.TypeOf(entity))
	if err != nil {
		return Record{}, err
	}
	if err := checkKind(action, keys); err != nil {
		return Record{}, err
	}
	if err := json.Unmarshal(raw, entity); err != nil {
		return Record{}, fmt.Errorf("%w: %s for %s: %v", ErrWebhookRecordShape, info.kind, action, err)
	}
	var ids webhookIDs
	if err := json.Unmarshal(raw, &ids); err != nil {
		return Record{}, fmt.Errorf("%w: %v", ErrWebhookRecordShape, err)
	}
	id := 0
	switch {
	case ids.Id != nil && (*ids.Id < 0 || *ids.Id > MaxID):
		return Record{}, fmt.Errorf("%w: Id %d is outside 1..%d", ErrWebhookIDRange, *ids.Id, MaxID)
	case ids.Id != nil && *ids.Id > 0:
		id = *ids.Id
	case ids.Id != nil || info.kind != KindAccessControl:
		return Record{}, ErrWebhookNoID
	}
	for _, v := range []any{entity, &ids} {
		if err := checkIDs(reflect.ValueOf(v), ""); err != nil {
			return Record{}, err
		}
	}
	r := Record{Action: action, Kind: info.kind, Id: id, CoworkerId: ids.CoworkerId, BusinessId: ids.BusinessId,
		Raw: append(json.RawMessage(nil), raw...)}
	switch info.kind {
	case KindCoworker:
		// A coworker record has no CoworkerId field; if one is present the payload is
		// some other record about the customer (possible for CoworkerCheckin/Checkout).
		if r.CoworkerId == 0 {
			r.CoworkerId = id
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
			r.CoworkerId = id
		}
		if r.BusinessId == 0 {
			r.BusinessId = ids.InvoicingBusinessId
		}
	}
	return r, nil
}

func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return -1
}

// kindMarkers are the fields the API notes give one webhook entity only: they tell which
// entity a record is. Generic names (Active, FullName, FromTime, Online) are left out.
var kindMarkers = func() map[string]Kind {
	m := map[string]Kind{}
	for k, fields := range map[Kind][]string{
		KindCoworker: {"AccessCardId", "AccessPincode", "CompanyName"},
		KindBooking:  {"ResourceId", "ResourceName", "FromTimeLocal", "ToTimeLocal", "FloorPlanDeskId"},
		KindCoworkerContract: {"TariffId", "TariffName", "StartDate", "RenewalDate", "Cancelled", "CancellationDate",
			"FloorPlanDeskIds", "Desks"},
		KindFloorPlanDesk: {"ItemType", "CoworkerContractIds", "FloorPlanBusinessId"},
		KindVisitor:       {"ExpectedArrival", "Arrived", "ArrivalDate", "DepartureDate", "VisitorCode"},
		KindCheckin:       {"Source"},
	} {
		for _, f := range fields {
			m[f] = k
		}
	}
	return m
}()

// carries reports whether action's body may be a record of kind k. The customer check-in
// and check-out actions are read as carrying the customer, but may carry the check-in.
func carries(action Action, k Kind) bool {
	if k == action.Kind() {
		return true
	}
	return k == KindCheckin && (action == ActionCoworkerCheckin || action == ActionCoworkerCheckout)
}

// checkKind refuses a record that has fields of another entity and none of the action's
// own: a booking posted to VisitorRegistered. A record with no telling field (a bare Id)
// passes: it is only a hint to re-read. "Access control updated" has no documented shape.
func checkKind(action Action, keys []string) error {
	if action.Kind() == KindAccessControl {
		return nil
	}
	var other Kind
	var field string
	for _, k := range keys {
		kind, ok := kindMarkers[k]
		if !ok {
			continue
		}
		if carries(action, kind) {
			return nil
		}
		if other == "" {
			other, field = kind, k
		}
	}
	if other == "" {
		return nil
	}
	return fmt.Errorf("%w: a %s record (it has %s) posted to %s, which carries a %s", ErrWebhookWrongKind, other, field,
		action, action.Kind())
}

// fieldSet maps the JSON names of a struct's fields (embedded ones included) to their types.
type fieldSet map[string]reflect.Type

var fieldSets sync.Map // reflect.Type -> fieldSet

func fieldsOf(t reflect.Type) fieldSet {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	if fs, ok := fieldSets.Load(t); ok {
		return fs.(fieldSet)
	}
	fs := fieldSet{}
	var add func(reflect.Type)
	add = func(t reflect.Type) {
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			switch {
			case f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct:
				add(f.Type)
			case !f.IsExported() || name == "-":
			case name == "":
				fs[f.Name] = f.Type
			default:
				fs[name] = f.Type
			}
		}
	}
	add(t)
	fieldSets.Store(t, fs)
	return fs
}

// checkNames walks the record against the type it decodes into, and the routing ids,
// and refuses what encoding/json would take silently: a key that names a known field
// only case-insensitively ("id" for "Id") and a key given twice. It returns the
// record's keys.
func checkNames(raw []byte, entity reflect.Type) ([]string, error) {
	top := fieldSet{}
	for _, fs := range []fieldSet{fieldsOf(reflect.TypeOf(webhookIDs{})), fieldsOf(entity)} {
		for k, v := range fs {
			top[k] = v
		}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var keys []string
	err := walkNames(dec, top, "", &keys)
	return keys, err
}

func walkNames(dec *json.Decoder, fs fieldSet, path string, keys *[]string) error {
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("%w: %v", ErrWebhookRecordShape, err)
	}
	switch tok {
	case json.Delim('['):
		for i := 0; dec.More(); i++ {
			if err := walkNames(dec, fs, fmt.Sprintf("%s[%d]", path, i), nil); err != nil {
				return err
			}
		}
	case json.Delim('{'):
		seen := map[string]bool{}
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return fmt.Errorf("%w: %v", ErrWebhookRecordShape, err)
			}
			key, _ := tok.(string)
			at := truncate(key, 40)
			if path != "" {
				at = path + "." + at
			}
			if seen[key] {
				return fmt.Errorf("%w: %q appears twice", ErrWebhookFieldName, at)
			}
			seen[key] = true
			if keys != nil {
				*keys = append(*keys, key)
			}
			t, exact := fs[key]
			if !exact {
				for name := range fs {
					if strings.EqualFold(name, key) {
						return fmt.Errorf("%w: %q is not %q (names are case-sensitive)", ErrWebhookFieldName, at, name)
					}
				}
			}
			if err := walkNames(dec, fieldsOf(elemType(t)), at, nil); err != nil {
				return err
			}
		}
	default:
		return nil // a scalar
	}
	_, err = dec.Token() // the closing ] or }
	return err
}

// elemType is the struct type an object value of a field of type t decodes into: t
// itself, or the element of a slice.
func elemType(t reflect.Type) reflect.Type {
	for t != nil && (t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
		t = t.Elem()
	}
	return t
}

var idListType = reflect.TypeOf(IDList(nil))

// checkIDs refuses an id field (named Id or ...Id, or an IDList) outside 0..MaxID in a
// decoded record; 0 is an id that is not set.
func checkIDs(v reflect.Value, path string) error {
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	switch {
	case v.Type() == idListType:
		for i := range v.Len() {
			if n := v.Index(i).Int(); n < 0 || n > MaxID {
				return fmt.Errorf("%w: %s %d is outside 1..%d", ErrWebhookIDRange, strings.TrimSuffix(path, "."), n, MaxID)
			}
		}
	case v.Kind() == reflect.Slice:
		for i := range v.Len() {
			if err := checkIDs(v.Index(i), path); err != nil {
				return err
			}
		}
	case v.Kind() == reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			fv := v.Field(i)
			for fv.Kind() == reflect.Pointer && !fv.IsNil() {
				fv = fv.Elem()
			}
			if fv.Kind() == reflect.Int && (name == "Id" || strings.HasSuffix(name, "Id")) {
				if n := fv.Int(); n < 0 || n > MaxID {
					return fmt.Errorf("%w: %s%s %d is outside 1..%d", ErrWebhookIDRange, path, name, n, MaxID)
				}
				continue
			}
			sub := path
			if !f.Anonymous {
				sub = path + name + "."
			}
			if err := checkIDs(fv, sub); err != nil {
				return err
			}
		}
	}
	return nil
}
