package saltoks

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"golang.org/x/time/rate"
)

// Faults are injected into API calls (/v1.1, /v1.2), never into identity or admin calls.
type Faults struct {
	// ErrorRate is the fraction of API calls answered 503 with the error body.
	ErrorRate float64
	// RateLimitRate is the fraction of API calls answered 429 with Retry-After: RetryAfter.
	RateLimitRate float64
	// UnauthorizedRate is the fraction of API calls answered 401, as if the token had been revoked.
	UnauthorizedRate float64
	// RetryAfter is announced on injected 429s (default and minimum 1 s; whole seconds on the wire).
	RetryAfter time.Duration
	// Latency is added to every API call.
	Latency time.Duration
	// RequestsPerSecond, when positive, is a real token bucket over all API calls (burst: one second's worth);
	// calls above it are answered 429 with the Retry-After the bucket needs.
	RequestsPerSecond float64
	// LostAnswerRate is the fraction of writes (POST, PUT, PATCH, DELETE) that are carried out but never
	// answered: the connection is closed instead, as when the network drops after Salto acted. The client
	// cannot tell such a write from one that never arrived.
	LostAnswerRate float64
}

type faultsWire struct {
	ErrorRate         float64 `json:"error_rate"`
	RateLimitRate     float64 `json:"rate_limit_rate"`
	UnauthorizedRate  float64 `json:"unauthorized_rate"`
	RetryAfterSeconds int     `json:"retry_after_seconds"`
	LatencyMS         int64   `json:"latency_ms"`
	RequestsPerSecond float64 `json:"requests_per_second"`
	LostAnswerRate    float64 `json:"lost_answer_rate"`
}

// MarshalJSON uses the admin API's field names and units.
func (f Faults) MarshalJSON() ([]byte, error) {
	return json.Marshal(faultsWire{
		ErrorRate:         f.ErrorRate,
		RateLimitRate:     f.RateLimitRate,
		UnauthorizedRate:  f.UnauthorizedRate,
		RetryAfterSeconds: int(f.RetryAfter / time.Second),
		LatencyMS:         f.Latency.Milliseconds(),
		RequestsPerSecond: f.RequestsPerSecond,
		LostAnswerRate:    f.LostAnswerRate,
	})
}

// UnmarshalJSON reads the admin API's field names and units.
func (f *Faults) UnmarshalJSON(b []byte) error {
	var w faultsWire
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*f = Faults{
		ErrorRate:         w.ErrorRate,
		RateLimitRate:     w.RateLimitRate,
		UnauthorizedRate:  w.UnauthorizedRate,
		RetryAfter:        time.Duration(w.RetryAfterSeconds) * time.Second,
		Latency:           time.Duration(w.LatencyMS) * time.Millisecond,
		RequestsPerSecond: w.RequestsPerSecond,
		LostAnswerRate:    w.LostAnswerRate,
	}
	return nil
}

func (f Faults) validate() error {
	for name, v := range map[string]float64{
		"error_rate": f.ErrorRate, "rate_limit_rate": f.RateLimitRate, "unauthorized_rate": f.UnauthorizedRate,
		"lost_answer_rate": f.LostAnswerRate,
	} {
		if v < 0 || v > 1 || math.IsNaN(v) {
			return fmt.Errorf("%s must be between 0 and 1", name)
		}
	}
	if f.RetryAfter < 0 || f.Latency < 0 || f.RequestsPerSecond < 0 || math.IsNaN(f.RequestsPerSecond) {
		return fmt.Errorf("retry_after_seconds, latency_ms and requests_per_second must not be negative")
	}
	return nil
}

func clamp01(v float64) float64 {
	if math.IsNaN(v) || v < 0 {
		return 0
	}
	return math.Min(v, 1)
}

func (f Faults) normalized() Faults {
	f.ErrorRate = clamp01(f.ErrorRate)
	f.RateLimitRate = clamp01(f.RateLimitRate)
	f.UnauthorizedRate = clamp01(f.UnauthorizedRate)
	f.LostAnswerRate = clamp01(f.LostAnswerRate)
	f.RetryAfter = max(f.RetryAfter, 0)
	f.Latency = max(f.Latency, 0)
	if math.IsNaN(f.RequestsPerSecond) || f.RequestsPerSecond < 0 {
		f.RequestsPerSecond = 0
	}
	return f
}

// Faults returns the active faults.
func (s *Server) Faults() Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults
}

// SetFaults replaces the active faults; the zero Faults switches injection off.
func (s *Server) SetFaults(f Faults) error {
	if err := f.validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.setFaultsLocked(f)
	return nil
}

func (s *Server) setFaultsLocked(f Faults) {
	if f.RequestsPerSecond != s.faults.RequestsPerSecond || (f.RequestsPerSecond > 0 && s.limiter == nil) {
		s.limiter = nil
		if f.RequestsPerSecond > 0 {
			burst := max(1, int(math.Floor(f.RequestsPerSecond)))
			s.limiter = rate.NewLimiter(rate.Limit(f.RequestsPerSecond), burst)
		}
	}
	s.faults = f
}

// injectFault decides, for one API call, whether a fault answers it instead of the handler.
func (s *Server) injectFault(r *http.Request) (reply, bool) {
	s.mu.Lock()
	f, lim := s.faults, s.limiter
	// Always draw all three numbers so a seeded run stays reproducible whatever the rates are.
	rl, er, ua := s.rng.Float64(), s.rng.Float64(), s.rng.Float64()
	s.mu.Unlock()

	if f.Latency > 0 {
		t := time.NewTimer(f.Latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return errReply(http.StatusServiceUnavailable, CodeInjectedFailure, "Client went away"), true
		}
	}
	if lim != nil {
		res := lim.Reserve()
		if d := res.Delay(); d > 0 {
			res.Cancel()
			return rateLimited(d), true
		}
	}
	if rl < f.RateLimitRate {
		return rateLimited(f.RetryAfter), true
	}
	if er < f.ErrorRate {
		return errReply(http.StatusServiceUnavailable, CodeInjectedFailure,
			"The service is temporarily unavailable"), true
	}
	if ua < f.UnauthorizedRate {
		return unauthorized(), true
	}
	return reply{}, false
}

// loseAnswer decides, for a write the handler carried out, whether its answer is lost.
func (s *Server) loseAnswer(r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults.LostAnswerRate > 0 && s.rng.Float64() < s.faults.LostAnswerRate
}

func rateLimited(d time.Duration) reply {
	secs := max(defaultRetryAfterSec, int(math.Ceil(d.Seconds())))
	rep := errReply(http.StatusTooManyRequests, CodeRateLimited, "Too many requests")
	rep.header = http.Header{"Retry-After": {strconv.Itoa(secs)}}
	return rep
}

// Stats counts calls by method and path template (for example "GET /v1.2/sites/{site}/users") and responses by
// status code (0: a write carried out whose answer was lost, Faults.LostAnswerRate), since the last reset.
type Stats struct {
	Calls     map[string]int `json:"calls"`
	Responses map[int]int    `json:"responses"`
	Total     int            `json:"total"`
}

// Stats returns a copy of the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{Calls: make(map[string]int, len(s.calls)), Responses: make(map[int]int, len(s.responses))}
	for k, v := range s.calls {
		st.Calls[k] = v
		st.Total += v
	}
	for k, v := range s.responses {
		st.Responses[k] = v
	}
	return st
}

// Calls returns how often the given "METHOD /path/{template}" was called since the last reset.
func (s *Server) Calls(pattern string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[pattern]
}

// ResetStats zeroes the counters.
func (s *Server) ResetStats() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = map[string]int{}
	s.responses = map[int]int{}
}
