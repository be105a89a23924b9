package e2e

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/nexsalto/nexsalto/nexudus"
	nexudussim "github.com/nexsalto/nexsalto/simulators/nexudus"
	"github.com/nexsalto/nexsalto/simulators/saltoks"
)

// Shared by the fault tests: many customers, bookings with their due instants, and a watch on a group's members
// that tells when each customer first and last held access.

// seedCustomers adds n coworkers from id first to Nexudus; with salto, each already has a Salto user on site 1
// (a known customer: linking it is one search, no create).
func (s *stack) seedCustomers(first, n int, salto bool) []int {
	return s.seedCustomersAt(site1, first, n, salto)
}

func (s *stack) seedCustomersAt(site string, first, n int, salto bool) []int {
	ds := nexudussim.Dataset{}
	ids := make([]int, n)
	for i := range n {
		id := first + i
		ids[i] = id
		ds.Coworkers = append(ds.Coworkers, nexudussim.Coworker{Base: nexudussim.Base{Id: id},
			FullName: "Customer " + strconv.Itoa(id), Email: email(id), Active: true, InvoicingBusinessId: int(loc1)})
		if salto {
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
	mu          sync.Mutex
	first, last map[int]time.Time
	stop        chan struct{}
	done        chan struct{}
}

func (s *stack) watchMembers(site, group string) *memberWatch {
	w := &memberWatch{first: map[int]time.Time{}, last: map[int]time.Time{}, stop: make(chan struct{}),
		done: make(chan struct{})}
	go func() {
		defer close(w.done)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			now := time.Now()
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
			select {
			case <-w.stop:
				return
			case <-tick.C:
			}
		}
	}()
	s.t.Cleanup(w.close)
	return w
}

func (w *memberWatch) close() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
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
