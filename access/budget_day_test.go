package access

import (
	"testing"
	"time"
)

// The daily cap counts Nexudus' UTC day: yesterday's writes and yesterday's degradation are over at midnight
// UTC even before the day's first write clears them.
func TestBudgetStateOnAnotherDay(t *testing.T) {
	st := BudgetState{Day: "2026-03-01", WritesToday: 2100, Degraded: "presence check-ins are refused"}
	sameDay := time.Date(2026, 3, 1, 23, 30, 0, 0, time.FixedZone("CET", 3600)) // 22:30 UTC
	if st.WritesOn(sameDay) != 2100 || !st.DegradedOn(sameDay) {
		t.Errorf("same UTC day: writes %d, degraded %v; want 2100, true", st.WritesOn(sameDay), st.DegradedOn(sameDay))
	}
	nextDay := time.Date(2026, 3, 2, 0, 30, 0, 0, time.FixedZone("CET", 3600)) // 23:30 UTC, still the 1st
	if !st.DegradedOn(nextDay) {
		t.Error("00:30 CET is still the 1st in UTC: degraded")
	}
	utcNext := time.Date(2026, 3, 2, 0, 0, 1, 0, time.UTC)
	if st.WritesOn(utcNext) != 0 || st.DegradedOn(utcNext) {
		t.Errorf("next UTC day: writes %d, degraded %v; want 0, false", st.WritesOn(utcNext), st.DegradedOn(utcNext))
	}
	st.Degraded = ""
	if st.DegradedOn(sameDay) {
		t.Error("degraded without a reason")
	}
}
