package nexudussim

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
)

// Dataset is a whole simulator state: the body of POST /admin/seed and of
// GET /admin/state.
type Dataset struct {
	Businesses          []Business                   `json:"Businesses,omitempty"`
	TimePasses          []TimePass                   `json:"TimePasses,omitempty"`
	Resources           []Resource                   `json:"Resources,omitempty"`
	Coworkers           []Coworker                   `json:"Coworkers,omitempty"`
	FloorPlanDesks      []FloorPlanDesk              `json:"FloorPlanDesks,omitempty"`
	CoworkerContracts   []CoworkerContract           `json:"CoworkerContracts,omitempty"`
	CoworkerTimePasses  []CoworkerTimePass           `json:"CoworkerTimePasses,omitempty"`
	Bookings            []Booking                    `json:"Bookings,omitempty"`
	Visitors            []Visitor                    `json:"Visitors,omitempty"`
	Checkins            []Checkin                    `json:"Checkins,omitempty"`
	AccessControlAudits []CoworkerAccessControlAudit `json:"AccessControlAudits,omitempty"`
	Webhooks            []Webhook                    `json:"Webhooks,omitempty"`
}

// datasetSlice returns the Dataset field holding kind k's records.
func datasetSlice(ds *Dataset, k *kind) reflect.Value {
	v := reflect.ValueOf(ds).Elem()
	for i := 0; i < v.NumField(); i++ {
		if v.Field(i).Type().Elem() == k.typ {
			return v.Field(i)
		}
	}
	panic("nexudussim: no Dataset field for " + k.name)
}

// Seed adds a dataset, referenced kinds first (businesses, time passes, resources,
// coworkers, desks, contracts, passes, bookings, visitors, check-ins, audits,
// webhooks). A record with Id 0 gets the next free id; one with an Id replaces that
// record. Given UniqueId/CreatedOn/UpdatedOn are kept. Seeding fires no webhooks. It
// is all or nothing: on a validation error nothing changes. It returns the whole state
// afterwards, ids and derived fields filled in.
func (s *Server) Seed(ds Dataset) (Dataset, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	snap := s.snapshot()
	for _, name := range seedOrder {
		k := s.kinds[name]
		in := datasetSlice(&ds, k)
		for i := 0; i < in.Len(); i++ {
			rec := clone(in.Index(i).Addr().Interface().(record))
			if _, err := s.save(k, nil, rec, srcSeed); err != nil {
				s.tables = snap
				return Dataset{}, fmt.Errorf("%s[%d]: %w", reflect.TypeOf(ds).Field(fieldIndex(&ds, k)).Name, i, err)
			}
		}
	}
	return s.stateLocked(), nil
}

func fieldIndex(ds *Dataset, k *kind) int {
	t := reflect.TypeOf(ds).Elem()
	for i := 0; i < t.NumField(); i++ {
		if t.Field(i).Type.Elem() == k.typ {
			return i
		}
	}
	return 0
}

func (s *Server) snapshot() map[string]*table {
	out := make(map[string]*table, len(s.tables))
	for name, t := range s.tables {
		c := &table{rows: make(map[int]record, len(t.rows)), next: t.next}
		for id, r := range t.rows {
			c.rows[id] = clone(r)
		}
		out[name] = c
	}
	return out
}

// State returns every record, full, ordered by id.
func (s *Server) State() Dataset {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stateLocked()
}

func (s *Server) stateLocked() Dataset {
	var ds Dataset
	for _, name := range seedOrder {
		k := s.kinds[name]
		sl := datasetSlice(&ds, k)
		for _, r := range s.tables[name].sorted() {
			sl.Set(reflect.Append(sl, reflect.ValueOf(clone(r)).Elem()))
		}
	}
	return ds
}

// Reset deletes every record, webhook registration and delivery log entry. Users,
// tokens, faults and stats stay.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for name := range s.tables {
		s.tables[name] = &table{rows: map[int]record{}}
	}
	s.hooks.log = nil
	s.hooks.failures = map[int]int{}
}

// kindOf maps an entity type to its kind; a non-entity type is a programming error.
func kindOf[T any](s *Server) *kind {
	t := reflect.TypeOf((*T)(nil)).Elem()
	for _, k := range s.kinds {
		if k.typ == t {
			return k
		}
	}
	panic(fmt.Sprintf("nexudussim: %v is not a simulator entity type", t))
}

// Get returns a copy of the record of type T with the id.
func Get[T any](s *Server, id int) (T, bool) {
	k := kindOf[T](s)
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.get(k, id)
	if !ok {
		var zero T
		return zero, false
	}
	return *(clone(r).(any).(*T)), true
}

// All returns copies of every record of type T, ordered by id.
func All[T any](s *Server) []T {
	k := kindOf[T](s)
	s.mu.Lock()
	defer s.mu.Unlock()
	rows := s.tables[k.name].sorted()
	out := make([]T, 0, len(rows))
	for _, r := range rows {
		out = append(out, *(clone(r).(any).(*T)))
	}
	return out
}

// Save writes a record as Nexudus staff would in the back office: Id 0 creates, a
// known Id replaces the whole record. Webhooks fire as for the REST API; no budget or
// fault applies. It returns the record as stored.
func Save[T any](s *Server, v T) (T, error) {
	k := kindOf[T](s)
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := clone(any(&v).(record))
	var old record
	if id := rec.base().Id; id != 0 {
		var ok bool
		if old, ok = s.get(k, id); !ok {
			var zero T
			return zero, &writeError{status: 404, msg: fmt.Sprintf("%s %d was not found.", k.name, id)}
		}
	}
	stored, err := s.save(k, old, rec, srcAdmin)
	if err != nil {
		var zero T
		return zero, err
	}
	return *(clone(stored).(any).(*T)), nil
}

// Delete removes the record of type T with the id, firing webhooks as the REST API
// does.
func Delete[T any](s *Server, id int) error {
	k := kindOf[T](s)
	s.mu.Lock()
	defer s.mu.Unlock()
	_, err := s.remove(k, id)
	return err
}

// Booking returns a booking by id.
func (s *Server) Booking(id int) (Booking, bool) { return Get[Booking](s, id) }

// Bookings returns every booking.
func (s *Server) Bookings() []Booking { return All[Booking](s) }

// Coworker returns a coworker by id.
func (s *Server) Coworker(id int) (Coworker, bool) { return Get[Coworker](s, id) }

// Contract returns a contract by id.
func (s *Server) Contract(id int) (CoworkerContract, bool) { return Get[CoworkerContract](s, id) }

// Desk returns a floor plan desk by id.
func (s *Server) Desk(id int) (FloorPlanDesk, bool) { return Get[FloorPlanDesk](s, id) }

// CoworkerTimePass returns a customer's pass by id.
func (s *Server) CoworkerTimePass(id int) (CoworkerTimePass, bool) {
	return Get[CoworkerTimePass](s, id)
}

// Visitor returns a visitor by id.
func (s *Server) Visitor(id int) (Visitor, bool) { return Get[Visitor](s, id) }

// Checkins returns every check-in.
func (s *Server) Checkins() []Checkin { return All[Checkin](s) }

// Audits returns every access-control audit record.
func (s *Server) Audits() []CoworkerAccessControlAudit { return All[CoworkerAccessControlAudit](s) }

// Webhooks returns every webhook registration, with its Active state.
func (s *Server) Webhooks() []Webhook { return All[Webhook](s) }

// kindByCollection finds a kind by its path segment ("bookings").
func (s *Server) kindByCollection(c string) (*kind, bool) {
	for _, k := range s.kinds {
		if k.collection() == c {
			return k, true
		}
	}
	return nil, false
}

func (s *Server) routeAdmin(mux *http.ServeMux) {
	mux.HandleFunc("GET /admin/state", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.State())
	})
	mux.HandleFunc("POST /admin/seed", func(w http.ResponseWriter, r *http.Request) {
		body, ok := readAdminBody(w, r)
		if !ok {
			return
		}
		var ds Dataset
		if err := json.Unmarshal(body, &ds); err != nil {
			adminError(w, http.StatusBadRequest, "dataset: "+err.Error())
			return
		}
		out, err := s.Seed(ds)
		if err != nil {
			adminError(w, http.StatusBadRequest, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, out)
	})
	mux.HandleFunc("POST /admin/reset", func(w http.ResponseWriter, r *http.Request) {
		s.Reset()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /admin/faults", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Faults())
	})
	mux.HandleFunc("PUT /admin/faults", func(w http.ResponseWriter, r *http.Request) {
		body, ok := readAdminBody(w, r)
		if !ok {
			return
		}
		s.mu.Lock()
		f := s.faults
		err := json.Unmarshal(body, &f)
		if err == nil {
			s.faults = f
		}
		s.mu.Unlock()
		if err != nil {
			adminError(w, http.StatusBadRequest, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, f)
	})
	mux.HandleFunc("GET /admin/stats", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Stats())
	})
	mux.HandleFunc("DELETE /admin/stats", func(w http.ResponseWriter, r *http.Request) {
		s.ResetStats()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /admin/webhooks", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Webhooks())
	})
	mux.HandleFunc("GET /admin/webhooks/deliveries", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Deliveries())
	})
	mux.HandleFunc("GET /admin/webhooks/drop", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		d := s.hooks.drop
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]bool{"Drop": d})
	})
	mux.HandleFunc("PUT /admin/webhooks/drop", func(w http.ResponseWriter, r *http.Request) {
		body, ok := readAdminBody(w, r)
		if !ok {
			return
		}
		var in struct{ Drop *bool }
		if err := json.Unmarshal(body, &in); err != nil || in.Drop == nil {
			adminError(w, http.StatusBadRequest, `body must be {"Drop": true|false}`)
			return
		}
		s.SetDropWebhooks(*in.Drop)
		writeJSON(w, http.StatusOK, map[string]bool{"Drop": *in.Drop})
	})
	mux.HandleFunc("POST /admin/tokens/expire", func(w http.ResponseWriter, r *http.Request) {
		s.ExpireAccessTokens()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /admin/tokens/revoke-refresh", func(w http.ResponseWriter, r *http.Request) {
		s.RevokeRefreshTokens()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("PUT /admin/entities/{collection}", func(w http.ResponseWriter, r *http.Request) {
		k, ok := s.kindByCollection(r.PathValue("collection"))
		if !ok {
			adminError(w, http.StatusNotFound, "unknown collection "+strconv.Quote(r.PathValue("collection")))
			return
		}
		body, ok := readAdminBody(w, r)
		if !ok {
			return
		}
		var probe struct{ Id int }
		_ = json.Unmarshal(body, &probe)
		s.mu.Lock()
		defer s.mu.Unlock()
		rec := k.new()
		if errs := decodeInto(rec, body); len(errs) > 0 {
			writeFailure(w, &writeError{status: 400, msg: "invalid record", errs: errs})
			return
		}
		var old record
		if probe.Id != 0 {
			if old, ok = s.get(k, probe.Id); !ok {
				adminError(w, http.StatusNotFound, fmt.Sprintf("%s %d was not found", k.name, probe.Id))
				return
			}
		}
		stored, err := s.save(k, old, rec, srcAdmin)
		if err != nil {
			writeFailure(w, err)
			return
		}
		writeJSON(w, http.StatusOK, stored)
	})
	mux.HandleFunc("DELETE /admin/entities/{collection}/{id}", func(w http.ResponseWriter, r *http.Request) {
		k, ok := s.kindByCollection(r.PathValue("collection"))
		if !ok {
			adminError(w, http.StatusNotFound, "unknown collection "+strconv.Quote(r.PathValue("collection")))
			return
		}
		id, err := strconv.Atoi(r.PathValue("id"))
		if err != nil {
			adminError(w, http.StatusBadRequest, "invalid id")
			return
		}
		s.mu.Lock()
		_, err = s.remove(k, id)
		s.mu.Unlock()
		if err != nil {
			writeFailure(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

func readAdminBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	b, err := readLimited(w, r, 64<<20)
	if err != nil {
		adminError(w, http.StatusRequestEntityTooLarge, "body too large")
		return nil, false
	}
	return b, true
}

func adminError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"Message": msg})
}

// IsNotFound reports whether an error from Save or Delete means the record does not
// exist.
func IsNotFound(err error) bool {
	var we *writeError
	return errors.As(err, &we) && we.status == http.StatusNotFound
}
