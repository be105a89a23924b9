package main

import (
	"testing"
	"time"
)

func TestSimilarity(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		min  float64
		max  float64
	}{
		{"Meeting Room A", "meeting-room-a", 1, 1},
		{"Meeting Room A", "MeetingRoomA", 1, 1},
		{"Meeting Rom A", "Meeting Room A", 1, 1},
		{"Room A", "Room B", 0, 0.4},
		{"Desk 12", "Desk 13", 0, 0.4},
		{"Day Pass", "Day pass (all doors)", 0.65, 0.65},
		{"Meeting Room A", "Meeting Room B", 0.5, 0.5},
		{"Phone booth", "Storage", 0, 0},
		{"", "anything", 0, 0},
	} {
		if got := similarity(tc.a, tc.b); got < tc.min || got > tc.max {
			t.Errorf("similarity(%q, %q) = %.2f, want %.2f..%.2f", tc.a, tc.b, got, tc.min, tc.max)
		}
	}
}

func TestSuggest(t *testing.T) {
	groups := []candidateGroup{
		{ID: "0f5c2a6e-1111-4c1e-9d7a-000000000001", Name: "Meeting Room A"},
		{ID: "0f5c2a6e-1111-4c1e-9d7a-000000000002", Name: "Meeting Room B"},
		{ID: "0f5c2a6e-1111-4c1e-9d7a-000000000003", Reference: "day-pass"},
	}
	got := suggest("Meeting room A", "", groups)
	if len(got) != 1 || got[0].GroupID != groups[0].ID {
		t.Errorf("by name: %+v", got)
	}
	if got := suggest("Day Pass", "", groups); len(got) != 1 || got[0].GroupName != "day-pass" {
		t.Errorf("by customer reference: %+v", got)
	}
	// A mistyped id finds its group even when the item's name says nothing.
	got = suggest("Something else", "0f5c2a6e-1111-4c1e-9d7a-00000000002", groups)
	if len(got) == 0 || got[0].GroupID != groups[1].ID {
		t.Errorf("by id: %+v", got)
	}
	if got := suggest("Storage", "", groups); len(got) != 0 {
		t.Errorf("unrelated name got suggestions %+v", got)
	}
}

func TestParseWhen(t *testing.T) {
	now := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"now":                  now,
		"+7d":                  now.Add(7 * 24 * time.Hour),
		"-2h":                  now.Add(-2 * time.Hour),
		"+1d12h":               now.Add(36 * time.Hour),
		"2026-05-03T09:00:00Z": time.Date(2026, 5, 3, 9, 0, 0, 0, time.UTC),
		"2026-05-03":           time.Date(2026, 5, 3, 0, 0, 0, 0, time.Local),
		"2026-05-03T09:30":     time.Date(2026, 5, 3, 9, 30, 0, 0, time.Local),
	} {
		got, err := parseWhen(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("parseWhen(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"tomorrow", "+7x", "+d", "2026-13-01"} {
		if _, err := parseWhen(bad, now); err == nil {
			t.Errorf("parseWhen(%q) accepted", bad)
		}
	}
}
