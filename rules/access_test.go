package rules

import (
	"strings"
	"testing"
	"time"

	"github.com/nexsalto/nexsalto/access"
	"github.com/nexsalto/nexsalto/config"
)

func TestGivesAccess(t *testing.T) {
	now := utc("2026-12-01 10:00")
	active := access.Entitlement{Ref: access.Ref{Kind: access.KindBooking, ID: 1}, CoworkerID: 100,
		Status: access.StatusActive, Groups: []string{"room"}, GrantAt: utc("2026-12-01 09:59"),
		RevokeAt: utc("2026-12-01 11:00"), Summary: "Room"}
	for _, tc := range []struct {
		name   string
		change func(*access.Entitlement)
		want   bool
		why    string
	}{
		{"active", func(*access.Entitlement) {}, true, "due until 2026-12-01 11:00 UTC: Room"},
		{"granted at exactly now", func(e *access.Entitlement) { e.GrantAt = now }, true, "due until"},
		{"not yet", func(e *access.Entitlement) { e.GrantAt = now.Add(time.Second) }, false, "starts 2026-12-01 10:00 UTC"},
		{"ended at exactly now", func(e *access.Entitlement) { e.RevokeAt = now }, false, "ended 2026-12-01 10:00 UTC"},
		{"open-ended", func(e *access.Entitlement) { e.RevokeAt = time.Time{} }, true, "due until open-ended"},
		{"tentative", func(e *access.Entitlement) { e.Status = access.StatusTentative }, false, "tentative"},
		{"cancelled", func(e *access.Entitlement) { e.Status = access.StatusCancelled }, false, "cancelled in Nexudus"},
		{"deleted", func(e *access.Entitlement) { e.Status = access.StatusDeleted }, false, "deleted in Nexudus"},
		{"expired pass", func(e *access.Entitlement) { e.Kind, e.Status = access.KindPass, access.StatusExpired }, false,
			"pass used up or expired"},
		{"unknown status", func(e *access.Entitlement) { e.Status = "odd" }, false, `unknown status "odd"`},
		{"unmapped", func(e *access.Entitlement) { e.Groups = nil }, false, "no access group"},
		{"no customer", func(e *access.Entitlement) { e.CoworkerID = 0 }, false, "no customer"},
		{"visitor without details", func(e *access.Entitlement) { e.Kind = access.KindVisitor }, false, "visitor details missing"},
		{"visitor without a host", func(e *access.Entitlement) {
			e.Kind, e.CoworkerID, e.Visitor = access.KindVisitor, 0, &access.VisitorDetails{GroupID: "room"}
		}, true, "due until"},
	} {
		e := active
		tc.change(&e)
		got, why := GivesAccess(e, now)
		if got != tc.want || !strings.Contains(why, tc.why) {
			t.Errorf("%s: %v %q, want %v %q", tc.name, got, why, tc.want, tc.why)
		}
	}
}

func TestMayGiveAccess(t *testing.T) {
	t0 := utc("2026-05-01 00:00")
	h := time.Hour
	w := Window{From: t0, To: t0.Add(24 * h)}
	ent := func(grant, revoke time.Time, status access.Status) access.Entitlement {
		return access.Entitlement{Ref: access.Ref{Kind: access.KindBooking, ID: 1}, CoworkerID: 1, Groups: []string{"g"},
			Status: status, GrantAt: grant, RevokeAt: revoke}
	}
	for _, tc := range []struct {
		name          string
		grant, revoke time.Time
		status        access.Status
		want          bool
	}{
		{"inside", t0.Add(2 * h), t0.Add(3 * h), access.StatusActive, true},
		{"ended before", t0.Add(-2 * h), t0.Add(-h), access.StatusActive, false},
		{"starts after", t0.Add(25 * h), t0.Add(26 * h), access.StatusActive, false},
		{"ends exactly at the start", t0.Add(-h), t0, access.StatusActive, false},
		{"starts exactly at the end", t0.Add(24 * h), t0.Add(25 * h), access.StatusActive, false},
		{"open on both sides", time.Time{}, time.Time{}, access.StatusActive, true},
		{"tentative may be confirmed", t0.Add(2 * h), t0.Add(3 * h), access.StatusTentative, true},
		{"cancelled", t0.Add(2 * h), t0.Add(3 * h), access.StatusCancelled, false},
	} {
		if got := MayGiveAccess(ent(tc.grant, tc.revoke, tc.status), w); got != tc.want {
			t.Errorf("%s: %v", tc.name, got)
		}
	}
	if !MayGiveAccess(ent(t0.Add(1000*h), time.Time{}, access.StatusActive), Window{From: t0}) {
		t.Errorf("an open window takes everything later")
	}
	// At(t) is the instant t: access that starts at t meets it, access that ends at t does not.
	if !MayGiveAccess(ent(t0, t0.Add(h), access.StatusActive), At(t0)) || MayGiveAccess(ent(t0.Add(-h), t0, access.StatusActive), At(t0)) {
		t.Errorf("At(t) is not the instant t")
	}
}

func TestBounds(t *testing.T) {
	cfg := madrid()
	locs := []*config.Location{&cfg.Locations[0], &cfg.Locations[1]}
	asOf := utc("2026-12-01 10:00")
	// Bookings: the largest lag and lead of the locations (location 6: an hour), then the margin.
	fromEnd, toStart := BookingBounds(locs, Window{From: asOf, To: asOf.Add(2 * time.Hour)}, time.Minute)
	if !fromEnd.Equal(utc("2026-12-01 08:59")) || !toStart.Equal(utc("2026-12-01 13:01")) {
		t.Errorf("booking bounds %s, %s", fromEnd, toStart)
	}
	if _, to := BookingBounds(locs, Window{From: asOf}, time.Minute); !to.IsZero() {
		t.Errorf("an open window bounds the start: %s", to)
	}
	// Visitors: arrivals on the Madrid day, or within the lead after it.
	from, to := VisitorBounds(locs[0], At(asOf), time.Minute)
	if !from.Equal(utc("2026-11-30 22:59")) || !to.Equal(utc("2026-12-01 23:16")) {
		t.Errorf("visitor bounds %s, %s", from, to)
	}
	if got := PassUsedSince(locs[0], asOf, ZoneMargin); !got.Equal(utc("2026-11-29 23:00")) {
		t.Errorf("pass used since %s", got)
	}
}

func TestDayBoundsAcrossDST(t *testing.T) {
	zone, err := time.LoadLocation("Europe/Madrid")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ at, start, end string }{
		{"2026-03-29 12:00", "2026-03-28 23:00", "2026-03-29 22:00"}, // 23 hours
		{"2026-10-25 12:00", "2026-10-24 22:00", "2026-10-25 23:00"}, // 25 hours
		{"2026-12-01 23:30", "2026-12-01 23:00", "2026-12-02 23:00"}, // already the next day in Madrid
	} {
		if s, e := StartOfDay(utc(tc.at), zone), EndOfDay(utc(tc.at), zone); !s.Equal(utc(tc.start)) || !e.Equal(utc(tc.end)) {
			t.Errorf("%s: day %s → %s, want %s → %s", tc.at, s.UTC(), e.UTC(), tc.start, tc.end)
		}
	}
}
