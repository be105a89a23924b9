package e2e

import (
	"context"
	"encoding/json"
	"strconv"
	"sync"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/nexsalto/nexsalto/access"
	"github.com/nexsalto/nexsalto/codec"
	"github.com/nexsalto/nexsalto/nexudus"
	"github.com/nexsalto/nexsalto/service"
	nexudussim "github.com/nexsalto/nexsalto/simulators/nexudus"
	"github.com/nexsalto/nexsalto/simulators/saltoks"
)

// Shared by the fault tests: many customers, bookings with their due instants, and a watch on a group's members
// that tells when each customer first and last held access.

// seedCustomers adds n coworkers from id first to Nexudus; with salto, each already has a Salto user on site 1
// (a known customer: linking it is one search, no create).
func (s *stack) seedCustomers(first, n int, salto bool) []int {
	return s.seedCustomersAt(site1, first, n, func(int) bool { return salto })
}

// seedCustomersAt is seedCustomers on a site, with a Salto user for the i-th customer when withUser(i).
func (s *stack) seedCustomersAt(site string, first, n int, withUser func(i int) bool) []int {
	ds := nexudussim.Dataset{}
	ids := make([]int, n)
	for i := range n {
		id := first + i
		ids[i] = id
		ds.Coworkers = append(ds.Coworkers, nexudussim.Coworker{Base: nexudussim.Base{Id: id},
			FullName: "Customer " + strconv.Itoa(id), Email: email(id), Active: true, InvoicingBusinessId: int(loc1)})
		if withUser(i) {
			if _, err := s.salto.SeedUser(site, saltoks.UserSeed{FirstName: "Customer", LastName: strconv.Itoa(id),
				Email: email(id)}); err != nil {
				s.t.Fatal(err)
			}
		}
	}
	if _, err := s.nexudus.Seed(ds); err != nil {
		s.t.Fatal(err)
	}
	return ids
}

// faultBooking is a booking of the meeting room and the instants its access is due.
type faultBooking struct {
	coworker            int
	id                  int
	grantDue, revokeDue time.Time
}

// book creates a booking of location 1's meeting room through the Nexudus API (its webhook reaches the worker).
func (s *stack) book(coworker int, from, to time.Time, lead, lag time.Duration) faultBooking {
	return s.bookRoom(resourceRoom, coworker, from, to, lead, lag)
}

func (s *stack) bookRoom(room, coworker int, from, to time.Time, lead, lag time.Duration) faultBooking {
	s.t.Helper()
	from, to = from.Truncate(time.Second), to.Truncate(time.Second) // Nexudus keeps whole seconds
	id, err := s.nx.CreateBooking(context.Background(), nexudus.Booking{ResourceId: room, CoworkerId: coworker,
		FromTime: nexudus.NewTime(from.UTC()), ToTime: nexudus.NewTime(to.UTC())})
	if err != nil {
		s.t.Fatal(err)
	}
	return faultBooking{coworker: coworker, id: id, grantDue: from.Add(-lead), revokeDue: to.Add(lag)}
}

// memberWatch samples a group's members every 50 ms and keeps, per coworker, when they were first and last
// seen in it.
type memberWatch struct {
	*sampler
	mu          sync.Mutex
	first, last map[int]time.Time
}

func (s *stack) watchMembers(site, group string) *memberWatch {
	w := &memberWatch{first: map[int]time.Time{}, last: map[int]time.Time{}}
	w.sampler = sampleEvery(s.t, 50*time.Millisecond, func(now time.Time) {
		byPlatform := map[string]int{}
		for _, u := range s.salto.Users(site) {
			if c, ok := customerOf(u.Alias, u.User.Email); ok {
				byPlatform[u.User.ID] = c
			}
		}
		w.mu.Lock()
		for _, p := range s.salto.GroupMembers(site, group) {
			if c, ok := byPlatform[p]; ok {
				if _, seen := w.first[c]; !seen {
					w.first[c] = now
				}
				w.last[c] = now
			}
		}
		w.mu.Unlock()
	})
	return w
}

// sampler calls a function every interval until the test ends.
type sampler struct{ stop, done chan struct{} }

func sampleEvery(t testing.TB, every time.Duration, f func(now time.Time)) *sampler {
	sm := &sampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(sm.done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			f(time.Now())
			select {
			case <-sm.stop:
				return
			case <-tick.C:
			}
		}
	}()
	t.Cleanup(sm.close)
	return sm
}

func (sm *sampler) close() {
	select {
	case <-sm.stop:
	default:
		close(sm.stop)
	}
	<-sm.done
}

// seen tells when the coworker was first and last seen in the group.
func (w *memberWatch) seen(coworker int) (first, last time.Time, ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	first, ok = w.first[coworker]
	return first, w.last[coworker], ok
}

// duplicates counts the customers that have more than one Salto user on the site.
func (s *stack) duplicates(site string) int {
	users := map[int]int{}
	for _, u := range s.salto.Users(site) {
		if c, ok := customerOf(u.Alias, u.User.Email); ok {
			users[c]++
		}
	}
	dup := 0
	for _, n := range users {
		if n > 1 {
			dup++
		}
	}
	return dup
}

// explainBooking logs what the booking's workflow and its customer's workflow hold, so that a booking left
// without access says why (a problem, a blocked group, a link still retrying).
func (s *stack) explainBooking(bookingID int) {
	s.t.Helper()
	ctx := context.Background()
	var ent access.EntitlementState
	ref := access.Ref{Kind: access.KindBooking, ID: int64(bookingID)}
	v, err := s.tc.QueryWorkflow(ctx, ref.WorkflowID(), "", access.QueryEntitlement)
	if err == nil {
		err = v.Get(&ent)
	}
	if err != nil {
		s.t.Logf("%s: %v", ref.WorkflowID(), err)
		return
	}
	raw, _ := json.Marshal(ent)
	s.t.Logf("%s: %s", ref.WorkflowID(), raw)
	if ent.Entitlement == nil {
		return
	}
	key := ent.Entitlement.Customer()
	var cst access.CustomerState
	v, err = s.tc.QueryWorkflow(ctx, key.WorkflowID(), "", access.QueryCustomer)
	if err == nil {
		err = v.Get(&cst)
	}
	if err != nil {
		s.t.Logf("%s: %v", key.WorkflowID(), err)
		return
	}
	raw, _ = json.Marshal(cst)
	s.t.Logf("%s: %s", key.WorkflowID(), raw)
	s.explainActivities(key.WorkflowID())
}

// explainActivities logs a workflow's current run as a timeline of its activities: regular ones (scheduled,
// the attempt that ended, completed or failed) and local ones (their markers, which record only the end).
func (s *stack) explainActivities(workflowID string) {
	s.t.Helper()
	names := map[int64]string{}
	it := s.tc.GetWorkflowHistory(context.Background(), workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			s.t.Logf("%s history: %v", workflowID, err)
			return
		}
		at := e.GetEventTime().AsTime().Format("15:04:05.000")
		switch {
		case e.GetActivityTaskScheduledEventAttributes() != nil:
			names[e.GetEventId()] = e.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName()
			s.t.Logf("  %s scheduled %s", at, names[e.GetEventId()])
		case e.GetActivityTaskStartedEventAttributes() != nil:
			a := e.GetActivityTaskStartedEventAttributes()
			s.t.Logf("  %s %s attempt %d began", at, names[a.GetScheduledEventId()], a.GetAttempt())
		case e.GetActivityTaskCompletedEventAttributes() != nil:
			s.t.Logf("  %s %s completed", at, names[e.GetActivityTaskCompletedEventAttributes().GetScheduledEventId()])
		case e.GetActivityTaskFailedEventAttributes() != nil:
			s.t.Logf("  %s %s failed", at, names[e.GetActivityTaskFailedEventAttributes().GetScheduledEventId()])
		case e.GetActivityTaskCanceledEventAttributes() != nil:
			s.t.Logf("  %s %s cancelled", at, names[e.GetActivityTaskCanceledEventAttributes().GetScheduledEventId()])
		case e.GetMarkerRecordedEventAttributes() != nil:
			outcome := "completed"
			if e.GetMarkerRecordedEventAttributes().GetFailure() != nil {
				outcome = "failed"
			}
			s.t.Logf("  %s local activity %s", at, outcome)
		case e.GetWorkflowExecutionSignaledEventAttributes() != nil:
			s.t.Logf("  %s signal %s", at, e.GetWorkflowExecutionSignaledEventAttributes().GetSignalName())
		}
	}
	d, err := s.tc.DescribeWorkflowExecution(context.Background(), workflowID, "")
	if err != nil {
		s.t.Logf("%s: %v", workflowID, err)
		return
	}
	c, err := service.NewCodec(s.cfg.Temporal.Encryption)
	if err != nil {
		s.t.Logf("codec: %v", err)
		return
	}
	fc := codec.FailureConverter(codec.DataConverter(c))
	for _, pa := range d.GetPendingActivities() {
		last := "none"
		if f := pa.GetLastFailure(); f != nil {
			last = fc.FailureToError(f).Error()
		}
		s.t.Logf("  pending %s: attempt %d, state %s, last attempt %s, last failure: %s", pa.GetActivityType().GetName(),
			pa.GetAttempt(), pa.GetState(), pa.GetLastStartedTime().AsTime().Format("15:04:05.000"), last)
	}
}
