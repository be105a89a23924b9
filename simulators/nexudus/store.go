package nexudussim

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
)

// category is how a field filters and sorts.
type category int

const (
	catOther category = iota
	catNumber
	catString
	catBool
	catDate
	catIDList
)

type field struct {
	name  string // JSON name
	index []int
	cat   category
}

type op int

const (
	opCreate op = iota
	opUpdate
	opDelete
)

// source says who writes: the REST API and the admin entity API fire webhooks, a seed
// does not and keeps the ids and timestamps it is given.
type source int

const (
	srcAPI source = iota
	srcAdmin
	srcSeed
)

// kind describes one entity type: where it lives, how it is validated and derived,
// and which webhooks its writes fire.
type kind struct {
	name   string // "Booking": filter prefix, message noun
	path   string // "/api/spaces/bookings"
	typ    reflect.Type
	omit   []string // fields list responses leave out
	fields map[string]field
	// prepare validates cur and fills derived fields; old is nil on create.
	prepare func(s *Server, old, cur record, now time.Time) []FieldError
	// after applies side effects on other entities (cur is nil on delete).
	after func(s *Server, old, cur record, now time.Time)
	// events lists the webhook actions a write fires (cur is nil on delete).
	events func(s *Server, o op, old, cur record) []int
	// business is the location a record belongs to (0: unknown), for webhook routing.
	business func(s *Server, r record) int
}

// collection is the last path segment ("bookings"), used by admin URLs.
func (k *kind) collection() string { return k.path[strings.LastIndex(k.path, "/")+1:] }

func (k *kind) new() record { return reflect.New(k.typ).Interface().(record) }

var (
	timeType   = reflect.TypeOf(Time{})
	localType  = reflect.TypeOf(LocalTime{})
	idListType = reflect.TypeOf(IDList{})
)

// fieldsOf indexes the JSON fields of a struct type, embedded Base included.
func fieldsOf(t reflect.Type, prefix []int, out map[string]field) {
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		idx := append(append([]int(nil), prefix...), i)
		if sf.Anonymous {
			fieldsOf(sf.Type, idx, out)
			continue
		}
		name := strings.Split(sf.Tag.Get("json"), ",")[0]
		if name == "" {
			name = sf.Name
		}
		c := catOther
		switch {
		case sf.Type == timeType || sf.Type == localType:
			c = catDate
		case sf.Type == idListType:
			c = catIDList
		case sf.Type.Kind() == reflect.Int || sf.Type.Kind() == reflect.Pointer && sf.Type.Elem().Kind() == reflect.Int:
			c = catNumber
		case sf.Type.Kind() == reflect.String:
			c = catString
		case sf.Type.Kind() == reflect.Bool:
			c = catBool
		}
		out[strings.ToLower(name)] = field{name: name, index: idx, cat: c}
	}
}

// fieldValue returns the comparable value of f in r: int64 (or nil), string, bool,
// time.Time (zero when null), IDList.
func fieldValue(r record, f field) any {
	v := reflect.ValueOf(r).Elem().FieldByIndex(f.index)
	switch f.cat {
	case catNumber:
		if v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return nil
			}
			v = v.Elem()
		}
		return v.Int()
	case catString:
		return v.String()
	case catBool:
		return v.Bool()
	case catDate:
		switch t := v.Interface().(type) {
		case Time:
			return t.Time
		case LocalTime:
			return t.Time
		}
	case catIDList:
		return v.Interface().(IDList)
	}
	return nil
}

// clone copies a record deeply enough that decoding into the copy (slices, pointers)
// cannot reach the original.
func clone(r record) record {
	src := reflect.ValueOf(r).Elem()
	dst := reflect.New(src.Type()).Elem()
	dst.Set(src)
	for i := 0; i < dst.NumField(); i++ {
		f := dst.Field(i)
		switch f.Kind() {
		case reflect.Slice:
			if !f.IsNil() {
				n := reflect.MakeSlice(f.Type(), f.Len(), f.Len())
				reflect.Copy(n, f)
				f.Set(n)
			}
		case reflect.Pointer:
			if !f.IsNil() {
				n := reflect.New(f.Type().Elem())
				n.Elem().Set(f.Elem())
				f.Set(n)
			}
		}
	}
	return dst.Addr().Interface().(record)
}

// table holds one kind's records.
type table struct {
	rows map[int]record
	next int
}

func (t *table) sorted() []record {
	out := make([]record, 0, len(t.rows))
	for _, r := range t.rows {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].base().Id < out[j].base().Id })
	return out
}

// writeError is a refused write.
type writeError struct {
	status int
	msg    string
	errs   []FieldError
}

func (e *writeError) Error() string {
	var b strings.Builder
	b.WriteString(e.msg)
	for _, fe := range e.errs {
		fmt.Fprintf(&b, "; %s: %s", fe.PropertyName, fe.Message)
	}
	return b.String()
}

var metaFields = map[string]bool{"id": true, "uniqueid": true, "createdon": true, "updatedon": true}

// decodeInto merges a JSON object into rec key by key, so that each bad value is
// reported under its own property name. Server-assigned fields are ignored, unknown
// properties too (as Nexudus does).
func decodeInto(rec record, body []byte) []FieldError {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil || m == nil {
		return []FieldError{{Message: "The request body must be a JSON object."}}
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var errs []FieldError
	for _, key := range keys {
		if metaFields[strings.ToLower(key)] {
			continue
		}
		one, _ := json.Marshal(map[string]json.RawMessage{key: m[key]})
		if err := json.Unmarshal(one, rec); err != nil {
			var attempted any
			_ = json.Unmarshal(m[key], &attempted)
			errs = append(errs, FieldError{PropertyName: key, AttemptedValue: attempted, Message: decodeMessage(err)})
		}
	}
	return errs
}

func decodeMessage(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		want := te.Type.String()
		switch te.Type.Kind() {
		case reflect.Int, reflect.Int64:
			want = "an integer"
		case reflect.Bool:
			want = "true or false"
		case reflect.String:
			want = "a string"
		case reflect.Slice:
			want = "an array"
		}
		return fmt.Sprintf("The value must be %s, not %s.", want, te.Value)
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

// now is the simulator clock, to the second: what a client reads back is exactly what
// is stored.
func (s *Server) now() time.Time { return s.opts.Clock().UTC().Truncate(time.Second) }

// get returns the stored record (not a copy); the lock must be held.
func (s *Server) get(k *kind, id int) (record, bool) {
	r, ok := s.tables[k.name].rows[id]
	return r, ok
}

// save stores a new or changed record (old nil for a create), runs derivations, side
// effects and webhooks. The lock must be held. cur is owned by the store afterwards.
func (s *Server) save(k *kind, old, cur record, src source) (record, error) {
	now := s.now()
	t := s.tables[k.name]
	b := cur.base()
	if old == nil && src == srcSeed && b.Id != 0 {
		if existing, ok := t.rows[b.Id]; ok {
			old = existing
		}
	}
	if errs := k.prepare(s, old, cur, now); len(errs) > 0 {
		verb := "created"
		if old != nil {
			verb = "updated"
		}
		return nil, &writeError{status: 400, msg: fmt.Sprintf("The %s could not be %s.", strings.ToLower(k.name), verb), errs: errs}
	}
	if old != nil {
		ob := old.base()
		b.Id, b.UniqueId, b.CreatedOn = ob.Id, ob.UniqueId, ob.CreatedOn
		if src != srcSeed || b.UpdatedOn.IsZero() {
			b.UpdatedOn = At(now)
		}
	} else {
		if src != srcSeed || b.Id <= 0 {
			t.next++
			b.Id = t.next
		} else if b.Id > t.next {
			t.next = b.Id
		}
		if src != srcSeed || b.UniqueId == "" {
			b.UniqueId = uuid.NewString()
		}
		if src != srcSeed || b.CreatedOn.IsZero() {
			b.CreatedOn = At(now)
		}
		if src != srcSeed || b.UpdatedOn.IsZero() {
			b.UpdatedOn = b.CreatedOn
		}
	}
	t.rows[b.Id] = cur
	if k.after != nil {
		k.after(s, old, cur, now)
	}
	if src != srcSeed && k.events != nil {
		o := opCreate
		if old != nil {
			o = opUpdate
		}
		s.emit(k, k.events(s, o, old, cur), cur)
	}
	s.emitMovedDesks(src)
	return cur, nil
}

// remove deletes a record; the lock must be held.
func (s *Server) remove(k *kind, id int) (record, error) {
	t := s.tables[k.name]
	old, ok := t.rows[id]
	if !ok {
		return nil, &writeError{status: 404, msg: fmt.Sprintf("%s %d was not found.", k.name, id)}
	}
	delete(t.rows, id)
	if k.after != nil {
		k.after(s, old, nil, s.now())
	}
	if k.events != nil {
		s.emit(k, k.events(s, opDelete, old, nil), old)
	}
	s.emitMovedDesks(srcAPI)
	return old, nil
}
