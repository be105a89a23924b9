package nexudussim

import (
	"crypto/rand"
	"fmt"
	"math/big"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"time"
)

// Kind names (filter prefixes).
const (
	kBusiness   = "Business"
	kCoworker   = "Coworker"
	kResource   = "Resource"
	kTimePass   = "TimePass"
	kCTP        = "CoworkerTimePass"
	kContract   = "CoworkerContract"
	kDesk       = "FloorPlanDesk"
	kBooking    = "Booking"
	kVisitor    = "Visitor"
	kCheckin    = "Checkin"
	kAudit      = "CoworkerAccessControlAudit"
	kWebhook    = "Webhook"
	maxNameSize = 250
)

// seedOrder is the order in which a dataset is loaded: referenced kinds first.
var seedOrder = []string{kBusiness, kTimePass, kResource, kCoworker, kDesk, kContract, kCTP, kBooking, kVisitor, kCheckin, kAudit, kWebhook}

func newKinds() map[string]*kind {
	defs := []*kind{
		{name: kBusiness, path: "/api/sys/businesses", typ: reflect.TypeOf(Business{}), prepare: prepBusiness},
		{name: kCoworker, path: "/api/spaces/coworkers", typ: reflect.TypeOf(Coworker{}), prepare: prepCoworker,
			events:   eventsCoworker,
			business: func(_ *Server, r record) int { return r.(*Coworker).InvoicingBusinessId }},
		{name: kResource, path: "/api/spaces/resources", typ: reflect.TypeOf(Resource{}), prepare: prepResource},
		{name: kTimePass, path: "/api/billing/timepasses", typ: reflect.TypeOf(TimePass{}), prepare: prepTimePass},
		// No webhook for passes, as in Nexudus: they are found by polling.
		{name: kCTP, path: "/api/billing/coworkertimepasses", typ: reflect.TypeOf(CoworkerTimePass{}), prepare: prepCTP},
		{name: kContract, path: "/api/billing/coworkercontracts", typ: reflect.TypeOf(CoworkerContract{}),
			omit: []string{"Desks", "Notes"}, prepare: prepContract, after: afterContract, events: eventsContract,
			business: func(s *Server, r record) int { return s.coworkerBusiness(r.(*CoworkerContract).CoworkerId) }},
		{name: kDesk, path: "/api/sys/floorplandesks", typ: reflect.TypeOf(FloorPlanDesk{}), prepare: prepDesk,
			events:   eventsDesk,
			business: func(_ *Server, r record) int { return r.(*FloorPlanDesk).FloorPlanBusinessId }},
		{name: kBooking, path: "/api/spaces/bookings", typ: reflect.TypeOf(Booking{}), omit: []string{"Notes"},
			prepare: prepBooking, events: eventsBooking,
			business: func(s *Server, r record) int { return s.resourceBusiness(r.(*Booking).ResourceId) }},
		{name: kVisitor, path: "/api/spaces/visitors", typ: reflect.TypeOf(Visitor{}), prepare: prepVisitor,
			events:   eventsVisitor,
			business: func(_ *Server, r record) int { return r.(*Visitor).BusinessId }},
		{name: kCheckin, path: "/api/spaces/checkins", typ: reflect.TypeOf(Checkin{}), prepare: prepCheckin,
			events:   eventsCheckin,
			business: func(_ *Server, r record) int { return r.(*Checkin).BusinessId }},
		{name: kAudit, path: "/api/sys/coworkeraccesscontrolaudits", typ: reflect.TypeOf(CoworkerAccessControlAudit{}), prepare: prepAudit},
		{name: kWebhook, path: "/api/sys/webhooks", typ: reflect.TypeOf(Webhook{}), prepare: prepWebhook},
	}
	out := make(map[string]*kind, len(defs))
	for _, k := range defs {
		k.fields = map[string]field{}
		fieldsOf(k.typ, nil, k.fields)
		out[k.name] = k
	}
	return out
}

func fe(prop, msg string, attempted any) FieldError {
	return FieldError{PropertyName: prop, Message: msg, AttemptedValue: attempted}
}

func required(errs []FieldError, prop, v string) []FieldError {
	switch {
	case strings.TrimSpace(v) == "":
		return append(errs, fe(prop, prop+" is required.", v))
	case len(v) > maxNameSize:
		return append(errs, fe(prop, fmt.Sprintf("%s is longer than %d characters.", prop, maxNameSize), nil))
	}
	return errs
}

// exists checks a reference; id 0 passes when optional.
func (s *Server) exists(errs []FieldError, kindName, prop string, id int, optional bool) []FieldError {
	if id == 0 && optional {
		return errs
	}
	if _, ok := s.tables[kindName].rows[id]; !ok {
		return append(errs, fe(prop, fmt.Sprintf("%s %d does not exist.", kindName, id), id))
	}
	return errs
}

// location is a business' time zone (UTC when unknown).
func (s *Server) location(businessID int) *time.Location {
	if r, ok := s.tables[kBusiness].rows[businessID]; ok {
		if loc, err := time.LoadLocation(r.(*Business).TimeZone); err == nil {
			return loc
		}
	}
	return time.UTC
}

func (s *Server) resourceBusiness(resourceID int) int {
	if r, ok := s.tables[kResource].rows[resourceID]; ok {
		return r.(*Resource).BusinessId
	}
	return 0
}

func (s *Server) coworkerBusiness(coworkerID int) int {
	if r, ok := s.tables[kCoworker].rows[coworkerID]; ok {
		return r.(*Coworker).InvoicingBusinessId
	}
	return 0
}

func prepBusiness(_ *Server, _, cur record, _ time.Time) []FieldError {
	b := cur.(*Business)
	errs := required(nil, "Name", b.Name)
	if b.TimeZone == "" {
		b.TimeZone = "UTC"
	}
	if _, err := time.LoadLocation(b.TimeZone); err != nil {
		errs = append(errs, fe("TimeZone", "Unknown time zone.", b.TimeZone))
	}
	return errs
}

func prepCoworker(s *Server, _, cur record, _ time.Time) []FieldError {
	c := cur.(*Coworker)
	var errs []FieldError
	if strings.TrimSpace(c.FullName) == "" && strings.TrimSpace(c.Email) == "" {
		errs = append(errs, fe("FullName", "FullName or Email is required.", c.FullName))
	}
	return s.exists(errs, kBusiness, "InvoicingBusinessId", c.InvoicingBusinessId, true)
}

func prepResource(s *Server, _, cur record, _ time.Time) []FieldError {
	r := cur.(*Resource)
	errs := required(nil, "Name", r.Name)
	return s.exists(errs, kBusiness, "BusinessId", r.BusinessId, false)
}

func prepTimePass(_ *Server, _, cur record, _ time.Time) []FieldError {
	return required(nil, "Name", cur.(*TimePass).Name)
}

func prepCTP(s *Server, _, cur record, _ time.Time) []FieldError {
	p := cur.(*CoworkerTimePass)
	errs := s.exists(nil, kCoworker, "CoworkerId", p.CoworkerId, false)
	errs = s.exists(errs, kTimePass, "TimePassId", p.TimePassId, false)
	if tp, ok := s.tables[kTimePass].rows[p.TimePassId]; ok {
		p.TimePassName = tp.(*TimePass).Name
	}
	if p.BusinessId == 0 {
		p.BusinessId = s.coworkerBusiness(p.CoworkerId)
	}
	if p.RemainingUses != nil && *p.RemainingUses < 0 {
		errs = append(errs, fe("RemainingUses", "RemainingUses cannot be negative.", *p.RemainingUses))
	}
	return s.exists(errs, kBusiness, "BusinessId", p.BusinessId, true)
}

func prepContract(s *Server, _, cur record, _ time.Time) []FieldError {
	c := cur.(*CoworkerContract)
	errs := s.exists(nil, kCoworker, "CoworkerId", c.CoworkerId, false)
	// Desks is output only, derived from FloorPlanDeskIds: on a merge it would still
	// hold the old desks and could contradict what the writer sent.
	c.Desks = nil
	for _, id := range c.FloorPlanDeskIds {
		d, ok := s.tables[kDesk].rows[id]
		if !ok {
			errs = append(errs, fe("FloorPlanDeskIds", fmt.Sprintf("FloorPlanDesk %d does not exist.", id), id))
			continue
		}
		c.Desks = append(c.Desks, ContractDesk{Id: id, Name: d.(*FloorPlanDesk).Name})
	}
	if !c.StartDate.IsZero() && !c.RenewalDate.IsZero() && c.RenewalDate.Before(c.StartDate.Time) {
		errs = append(errs, fe("RenewalDate", "RenewalDate is before StartDate.", c.RenewalDate))
	}
	return errs
}

// contractHolds reports whether a contract keeps its desks assigned.
func contractHolds(c *CoworkerContract) bool { return !c.Cancelled }

// afterContract keeps the desks' CoworkerContractIds and CoworkerId in step with the
// contracts that name them.
func afterContract(s *Server, old, cur record, now time.Time) {
	touched := map[int]bool{}
	for _, r := range []record{old, cur} {
		if r != nil {
			for _, id := range r.(*CoworkerContract).FloorPlanDeskIds {
				touched[id] = true
			}
		}
	}
	for id := range touched {
		r, ok := s.tables[kDesk].rows[id]
		if !ok {
			continue
		}
		d := r.(*FloorPlanDesk)
		var ids IDList
		holder := 0
		for _, cr := range s.tables[kContract].sorted() {
			c := cr.(*CoworkerContract)
			if c.FloorPlanDeskIds.has(id) {
				ids = append(ids, c.Id)
				if holder == 0 && contractHolds(c) {
					holder = c.CoworkerId
				}
			}
		}
		if fmt.Sprint(ids) != fmt.Sprint(d.CoworkerContractIds) || holder != d.CoworkerId {
			d.CoworkerContractIds, d.CoworkerId = ids, holder
			d.UpdatedOn = At(now)
			s.movedDesks = append(s.movedDesks, id)
		}
	}
}

func prepDesk(s *Server, _, cur record, _ time.Time) []FieldError {
	d := cur.(*FloorPlanDesk)
	errs := required(nil, "Name", d.Name)
	if d.ItemType < 1 || d.ItemType > 5 {
		errs = append(errs, fe("ItemType", "ItemType must be 1 (office) to 5 (room).", d.ItemType))
	}
	errs = s.exists(errs, kCoworker, "CoworkerId", d.CoworkerId, true)
	return s.exists(errs, kBusiness, "FloorPlanBusinessId", d.FloorPlanBusinessId, true)
}

func prepBooking(s *Server, _, cur record, _ time.Time) []FieldError {
	b := cur.(*Booking)
	errs := s.exists(nil, kResource, "ResourceId", b.ResourceId, false)
	errs = s.exists(errs, kCoworker, "CoworkerId", b.CoworkerId, true)
	if b.FloorPlanDeskId != nil && *b.FloorPlanDeskId == 0 {
		b.FloorPlanDeskId = nil
	}
	if b.FloorPlanDeskId != nil {
		errs = s.exists(errs, kDesk, "FloorPlanDeskId", *b.FloorPlanDeskId, false)
	}
	res, ok := s.tables[kResource].rows[b.ResourceId]
	if !ok {
		return errs
	}
	b.ResourceName = res.(*Resource).Name
	loc := s.location(res.(*Resource).BusinessId)
	// A writer may give either pair; the UTC pair wins and the local pair is derived.
	if b.FromTime.IsZero() && !b.FromTimeLocal.IsZero() {
		b.FromTime = At(b.FromTimeLocal.in(loc))
	}
	if b.ToTime.IsZero() && !b.ToTimeLocal.IsZero() {
		b.ToTime = At(b.ToTimeLocal.in(loc))
	}
	switch {
	case b.FromTime.IsZero():
		errs = append(errs, fe("FromTime", "FromTime is required.", nil))
	case b.ToTime.IsZero():
		errs = append(errs, fe("ToTime", "ToTime is required.", nil))
	case !b.ToTime.After(b.FromTime.Time):
		errs = append(errs, fe("ToTime", "ToTime must be after FromTime.", b.ToTime))
	}
	b.FromTimeLocal = wall(b.FromTime.In(loc))
	b.ToTimeLocal = wall(b.ToTime.In(loc))
	return errs
}

func prepVisitor(s *Server, old, cur record, now time.Time) []FieldError {
	v := cur.(*Visitor)
	errs := required(nil, "FullName", v.FullName)
	errs = s.exists(errs, kBusiness, "BusinessId", v.BusinessId, false)
	errs = s.exists(errs, kCoworker, "CoworkerId", v.CoworkerId, true)
	if v.Arrived && v.ArrivalDate.IsZero() {
		v.ArrivalDate = At(now)
	}
	if v.VisitorCode == "" && old == nil {
		v.VisitorCode = randomDigits(6)
	}
	return errs
}

func prepCheckin(s *Server, _, cur record, now time.Time) []FieldError {
	c := cur.(*Checkin)
	errs := s.exists(nil, kCoworker, "CoworkerId", c.CoworkerId, false)
	if c.BusinessId == 0 {
		c.BusinessId = s.coworkerBusiness(c.CoworkerId)
	}
	errs = s.exists(errs, kBusiness, "BusinessId", c.BusinessId, false)
	if c.FromTime.IsZero() {
		c.FromTime = At(now)
	}
	if !c.ToTime.IsZero() && c.ToTime.Before(c.FromTime.Time) {
		errs = append(errs, fe("ToTime", "ToTime is before FromTime.", c.ToTime))
	}
	return errs
}

func prepAudit(s *Server, _, cur record, _ time.Time) []FieldError {
	a := cur.(*CoworkerAccessControlAudit)
	errs := s.exists(nil, kCoworker, "CoworkerId", a.CoworkerId, false)
	if strings.TrimSpace(a.Description) == "" {
		errs = append(errs, fe("Description", "Description is required.", a.Description))
	}
	return errs
}

func prepWebhook(s *Server, old, cur record, _ time.Time) []FieldError {
	w := cur.(*Webhook)
	var errs []FieldError
	if _, ok := actionNames[w.Action]; !ok {
		errs = append(errs, fe("Action", "Unknown or unsupported webhook action.", w.Action))
	}
	if u, err := url.Parse(w.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fe("URL", "URL must be an absolute http(s) URL.", w.URL))
	}
	if w.Name == "" {
		w.Name = actionNames[w.Action]
	}
	if old == nil {
		w.Active = true // Nexudus creates webhooks enabled
	}
	return s.exists(errs, kBusiness, "BusinessId", w.BusinessId, true)
}

func eventsCoworker(_ *Server, o op, _, _ record) []int {
	switch o {
	case opCreate:
		return []int{actCoworkerCreate}
	case opUpdate:
		return []int{actCoworkerUpdate}
	}
	return []int{actCoworkerDelete}
}

func eventsDesk(_ *Server, o op, _, _ record) []int {
	return []int{[]int{actDeskCreate, actDeskUpdate, actDeskDelete}[o]}
}

// emitMovedDesks sends a desk update for each desk whose holder the last contract write changed, as a floor
// plan shows it: a guess (see doc.go), since Nexudus does not document what the desk webhooks follow.
func (s *Server) emitMovedDesks(src source) {
	moved := s.movedDesks
	s.movedDesks = nil
	if src == srcSeed {
		return
	}
	slices.Sort(moved)
	k := s.kinds[kDesk]
	for _, id := range slices.Compact(moved) {
		if r, ok := s.tables[kDesk].rows[id]; ok {
			s.emit(k, []int{actDeskUpdate}, r)
		}
	}
}

func eventsBooking(_ *Server, o op, _, _ record) []int {
	return []int{[]int{actBookingCreate, actBookingUpdate, actBookingDelete}[o]}
}

func eventsContract(s *Server, o op, old, cur record) []int {
	switch o {
	case opCreate:
		c := cur.(*CoworkerContract)
		acts := []int{actContractActivate}
		first := true
		for _, r := range s.tables[kContract].rows {
			if o := r.(*CoworkerContract); o.CoworkerId == c.CoworkerId && o.Id != c.Id {
				first = false
				break
			}
		}
		if first {
			acts = append(acts, actContractActivateFirst)
		}
		return acts
	case opDelete:
		return []int{actContractCancel}
	}
	o1, c := old.(*CoworkerContract), cur.(*CoworkerContract)
	switch {
	case c.Cancelled && !o1.Cancelled,
		!c.CancellationDate.IsZero() && !c.CancellationDate.Equal(o1.CancellationDate.Time):
		return []int{actContractCancel}
	case c.TariffId != o1.TariffId:
		return []int{actContractUpgradeDowngrade}
	default:
		return []int{actContractRenew}
	}
}

func eventsVisitor(_ *Server, o op, old, cur record) []int {
	switch o {
	case opCreate:
		if cur.(*Visitor).Arrived {
			return []int{actVisitorRegistered, actVisitorCheckedin}
		}
		return []int{actVisitorRegistered}
	case opUpdate:
		if cur.(*Visitor).Arrived && !old.(*Visitor).Arrived {
			return []int{actVisitorCheckedin}
		}
	}
	return nil
}

func eventsCheckin(_ *Server, o op, _, _ record) []int {
	return []int{[]int{actCheckinCreated, actCheckinUpdated, actCheckinDeleted}[o]}
}

func randomDigits(n int) string {
	var b strings.Builder
	for range n {
		d, err := rand.Int(rand.Reader, big.NewInt(10))
		if err != nil {
			d = big.NewInt(0)
		}
		b.WriteByte(byte('0' + d.Int64()))
	}
	return b.String()
}
