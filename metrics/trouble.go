package metrics

import (
	"sync"
	"time"
)

// TroubleWindow is how long a customer counts as in trouble after a final error with no success since: a
// final error is not retried until something changes (the coworker, the booking), so no later call may
// come to clear it, and a customer whose access was fixed by hand must not count for ever.
const TroubleWindow = 24 * time.Hour

// FinalErrors holds the customers whose latest Salto call on this process failed for good. The keys are
// workflow ids, kept in memory only: never a label, so no customer appears in what /metrics shows.
var FinalErrors = &troubleSet{}

type troubleSet struct {
	mu    sync.Mutex
	since map[string]time.Time
}

// Observe records the outcome of a Salto call for a customer: final marks it in trouble, a success clears
// it, and a failure that will be retried changes nothing.
func (s *troubleSet) Observe(customer string, err error, final bool, now time.Time) {
	if customer == "" || (err != nil && !final) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil {
		delete(s.since, customer)
		return
	}
	if s.since == nil {
		s.since = map[string]time.Time{}
	}
	s.since[customer] = now
}

// Count is how many customers are in trouble at now; it forgets those older than TroubleWindow.
func (s *troubleSet) Count(now time.Time) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, t := range s.since {
		if now.Sub(t) > TroubleWindow {
			delete(s.since, k)
		}
	}
	return len(s.since)
}
