package metrics

import (
	"errors"
	"testing"
	"time"
)

func TestFinalErrorsCountUntilASuccessOrTheWindowEnds(t *testing.T) {
	s := &troubleSet{}
	t0 := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	boom := errors.New("400")
	s.Observe("customer-1-100", boom, true, t0)
	s.Observe("customer-1-101", boom, true, t0)
	s.Observe("customer-1-102", boom, false, t0) // retried: not in trouble
	if n := s.Count(t0); n != 2 {
		t.Fatalf("count = %d, want 2", n)
	}
	s.Observe("customer-1-100", nil, false, t0.Add(time.Minute))
	if n := s.Count(t0.Add(time.Minute)); n != 1 {
		t.Fatalf("after a success: count = %d, want 1", n)
	}
	if n := s.Count(t0.Add(TroubleWindow + time.Second)); n != 0 {
		t.Fatalf("after the window: count = %d, want 0", n)
	}
}
