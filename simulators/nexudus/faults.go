package nexudussim

import (
	"encoding/json"
	"fmt"
	"time"
)

// Faults are the run-time switches for misbehaviour. They apply to /api calls other
// than /api/token.
type Faults struct {
	// ErrorRate is the share of calls answered 500 (0..1).
	ErrorRate float64
	// ThrottleRate is the share of calls answered 409 with Retry-After (0..1).
	ThrottleRate float64
	// ThrottleNext and ErrorNext answer exactly the next n calls 409 or 500, for
	// deterministic tests; they count down to 0.
	ThrottleNext int
	ErrorNext    int
	// RetryAfter is the Retry-After, in seconds, of injected 409s (minimum 1).
	RetryAfter int
	// Latency delays every call.
	Latency time.Duration
	// CallsPerMinute and WritesPerMinute are sliding-window budgets; a call over
	// budget gets 409 with the seconds until a slot frees up. 0 means unlimited.
	CallsPerMinute  int
	WritesPerMinute int
	// WritesPerDay caps the writes of a UTC day; a write over it gets 409 with the seconds until midnight UTC
	// (what Nexudus answers over its daily cap is not documented: a guess). 0 means unlimited.
	WritesPerDay int
}

// faultsJSON is the wire form: Latency as a Go duration string ("250ms"), or a number
// of milliseconds on input.
type faultsJSON struct {
	ErrorRate       *float64        `json:"ErrorRate,omitempty"`
	ThrottleRate    *float64        `json:"ThrottleRate,omitempty"`
	ThrottleNext    *int            `json:"ThrottleNext,omitempty"`
	ErrorNext       *int            `json:"ErrorNext,omitempty"`
	RetryAfter      *int            `json:"RetryAfter,omitempty"`
	Latency         json.RawMessage `json:"Latency,omitempty"`
	CallsPerMinute  *int            `json:"CallsPerMinute,omitempty"`
	WritesPerMinute *int            `json:"WritesPerMinute,omitempty"`
	WritesPerDay    *int            `json:"WritesPerDay,omitempty"`
}

// MarshalJSON writes every field, Latency as "250ms".
func (f Faults) MarshalJSON() ([]byte, error) {
	lat, _ := json.Marshal(f.Latency.String())
	return json.Marshal(faultsJSON{ErrorRate: &f.ErrorRate, ThrottleRate: &f.ThrottleRate, ThrottleNext: &f.ThrottleNext,
		ErrorNext: &f.ErrorNext, RetryAfter: &f.RetryAfter, Latency: lat, CallsPerMinute: &f.CallsPerMinute,
		WritesPerMinute: &f.WritesPerMinute, WritesPerDay: &f.WritesPerDay})
}

// UnmarshalJSON changes only the fields present, so PUT /admin/faults can switch one
// fault without restating the others.
func (f *Faults) UnmarshalJSON(b []byte) error {
	var in faultsJSON
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	n := *f
	if in.ErrorRate != nil {
		n.ErrorRate = *in.ErrorRate
	}
	if in.ThrottleRate != nil {
		n.ThrottleRate = *in.ThrottleRate
	}
	if in.ThrottleNext != nil {
		n.ThrottleNext = *in.ThrottleNext
	}
	if in.ErrorNext != nil {
		n.ErrorNext = *in.ErrorNext
	}
	if in.RetryAfter != nil {
		n.RetryAfter = *in.RetryAfter
	}
	if len(in.Latency) > 0 {
		var s string
		var ms float64
		switch {
		case json.Unmarshal(in.Latency, &s) == nil:
			d, err := time.ParseDuration(s)
			if err != nil {
				return fmt.Errorf("Latency: %v", err)
			}
			n.Latency = d
		case json.Unmarshal(in.Latency, &ms) == nil:
			n.Latency = time.Duration(ms * float64(time.Millisecond))
		default:
			return fmt.Errorf("Latency must be a duration string or milliseconds")
		}
	}
	if in.CallsPerMinute != nil {
		n.CallsPerMinute = *in.CallsPerMinute
	}
	if in.WritesPerMinute != nil {
		n.WritesPerMinute = *in.WritesPerMinute
	}
	if in.WritesPerDay != nil {
		n.WritesPerDay = *in.WritesPerDay
	}
	if err := n.validate(); err != nil {
		return err
	}
	*f = n
	return nil
}

func (f Faults) validate() error {
	switch {
	case f.ErrorRate < 0 || f.ErrorRate > 1:
		return fmt.Errorf("ErrorRate must be within 0..1")
	case f.ThrottleRate < 0 || f.ThrottleRate > 1:
		return fmt.Errorf("ThrottleRate must be within 0..1")
	case f.Latency < 0 || f.Latency > time.Minute:
		return fmt.Errorf("Latency must be within 0..1m")
	case f.RetryAfter < 0 || f.CallsPerMinute < 0 || f.WritesPerMinute < 0 || f.WritesPerDay < 0 || f.ThrottleNext < 0 || f.ErrorNext < 0:
		return fmt.Errorf("RetryAfter, ThrottleNext, ErrorNext and budgets cannot be negative")
	}
	return nil
}

// Faults returns the current switches.
func (s *Server) Faults() Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults
}

// SetFaults replaces the switches.
func (s *Server) SetFaults(f Faults) error {
	if err := f.validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f
	return nil
}

// budgetWindow remembers the admission times of the last minute.
type budgetWindow struct {
	calls, writes []time.Time
	// day is the UTC day dayWrites counts.
	day       string
	dayWrites int
}

func prune(ts []time.Time, since time.Time) []time.Time {
	i := 0
	for i < len(ts) && !ts[i].After(since) {
		i++
	}
	return ts[i:]
}

// admit charges one call (and one write) against the budgets, using real time. It
// returns 0 when admitted, or the Retry-After seconds and the budget that refused. The
// lock must be held.
func (s *Server) admit(write bool) (int, string) {
	now := time.Now()
	since := now.Add(-time.Minute)
	s.window.calls = prune(s.window.calls, since)
	s.window.writes = prune(s.window.writes, since)
	wait := func(ts []time.Time, limit int) int {
		if limit <= 0 || len(ts) < limit {
			return 0
		}
		// The slot frees when the call limit-th from the end leaves the window.
		free := ts[len(ts)-limit].Add(time.Minute).Sub(now)
		return max(1, int((free+time.Second-1)/time.Second))
	}
	if r := wait(s.window.calls, s.faults.CallsPerMinute); r > 0 {
		return r, fmt.Sprintf("%d calls per minute", s.faults.CallsPerMinute)
	}
	if write {
		if r := wait(s.window.writes, s.faults.WritesPerMinute); r > 0 {
			return r, fmt.Sprintf("%d writes per minute", s.faults.WritesPerMinute)
		}
		if day := now.UTC().Format(time.DateOnly); s.window.day != day {
			s.window.day, s.window.dayWrites = day, 0
		}
		if limit := s.faults.WritesPerDay; limit > 0 && s.window.dayWrites >= limit {
			midnight := now.UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)
			return max(1, int(midnight.Sub(now).Seconds())), fmt.Sprintf("%d writes per day", limit)
		}
		s.window.writes = append(s.window.writes, now)
		s.window.dayWrites++
	}
	s.window.calls = append(s.window.calls, now)
	return 0, ""
}

// Stats counts API calls since the last reset.
type Stats struct {
	// Calls counts calls by "METHOD /path", ids shown as {id}
	// ("GET /api/spaces/bookings/{id}"), answered or not.
	Calls map[string]int `json:"Calls"`
	Total int            `json:"Total"`
	// Throttled counts 409 answers (budget and injected).
	Throttled      int `json:"Throttled"`
	InjectedErrors int `json:"InjectedErrors"`
	Unauthorized   int `json:"Unauthorized"`
	// TokenRequests counts /api/token grants: "password", "refresh_token", and
	// "password:refused", "refresh_token:refused".
	TokenRequests map[string]int `json:"TokenRequests"`
}

func (st *Stats) reset() { *st = Stats{Calls: map[string]int{}, TokenRequests: map[string]int{}} }

// Stats returns a copy of the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.stats
	out.Calls = make(map[string]int, len(s.stats.Calls))
	for k, v := range s.stats.Calls {
		out.Calls[k] = v
	}
	out.TokenRequests = make(map[string]int, len(s.stats.TokenRequests))
	for k, v := range s.stats.TokenRequests {
		out.TokenRequests[k] = v
	}
	return out
}

// ResetStats zeroes the counters.
func (s *Server) ResetStats() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.reset()
}
