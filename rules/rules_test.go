package rules

import (
	"strings"
	"testing"
	"time"

	"github.com/nexsalto/nexsalto/access"
	"github.com/nexsalto/nexsalto/config"
	"github.com/nexsalto/nexsalto/nexudus"
)

// The expected instants below are written out in UTC by hand (Madrid is UTC+1 in winter, UTC+2 in summer),
// never computed with the rule under test. Nexudus' zone-less unsuffixed fields are UTC wall clocks and the
// *Local fields the business' wall clock (nexudus.ResolveInstant); days are Madrid's.

func utc(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04", s)
	if err != nil {
		panic(err)
	}
	return t
}

func dur(d time.Duration) *time.Duration { return &d }

// madrid has two locations: the first maps room 10, desk 30 and pass 20; the second also maps room 10 (the
// first location wins) and room 11.
func madrid() *config.Config {
	return &config.Config{Locations: []config.Location{{
		BusinessID: 5, TimeZone: "Europe/Madrid", GrantLead: 15 * time.Minute, RevokeLag: 15 * time.Minute,
		VisitorGroups: []string{"g-visit", "g-other"}, VisitorPINs: true,
		Resources: map[int64][]string{10: {"g-room", "g-entrance", "g-room"}},
		Passes:    map[int64][]string{20: {"g-day"}},
		Desks:     map[int64][]string{30: {"g-desk", "g-entrance"}},
	}, {
		BusinessID: 6, TimeZone: "UTC", GrantLead: time.Hour, RevokeLag: time.Hour,
		Resources: map[int64][]string{10: {"g-elsewhere"}, 11: {"g-six"}},
	}}}
}

func wall(s string) nexudus.Time { return nexudus.WallClock(utc(s)) }
func inst(s string) nexudus.Time { return nexudus.NewTime(utc(s)) }

func TestBooking(t *testing.T) {
	desk := 30
	for _, tc := range []struct {
		name           string
		b              nexudus.Booking
		now            string
		loc            int64
		groups         string
		grant, revoke  string
		status         access.Status
		summaryContain string
	}{
		{name: "lead and lag around a winter booking given in Madrid wall-clock time (the *Local fields)",
			b:   nexudus.Booking{ResourceId: 10, CoworkerId: 1, FromTimeLocal: wall("2026-12-01 10:00"), ToTimeLocal: wall("2026-12-01 11:00")},
			now: "2026-12-01 08:00", loc: 5, groups: "g-entrance,g-room", grant: "2026-12-01 08:45", revoke: "2026-12-01 10:15",
			status: access.StatusActive, summaryContain: "1 Dec 10:00–11:00"},
		{name: "summer offset",
			b:   nexudus.Booking{ResourceId: 10, CoworkerId: 1, FromTimeLocal: wall("2026-07-01 10:00"), ToTimeLocal: wall("2026-07-01 11:00")},
			now: "2026-07-01 06:00", loc: 5, groups: "g-entrance,g-room", grant: "2026-07-01 07:45", revoke: "2026-07-01 09:15",
			status: access.StatusActive},
		{name: "across the spring DST change (02:00 does not exist)",
			b:   nexudus.Booking{ResourceId: 10, CoworkerId: 1, FromTimeLocal: wall("2026-03-29 01:30"), ToTimeLocal: wall("2026-03-29 03:30")},
			now: "2026-03-28 12:00", loc: 5, groups: "g-entrance,g-room", grant: "2026-03-29 00:15", revoke: "2026-03-29 01:45",
			status: access.StatusActive},
		{name: "UTC instants are taken as they are",
			b:   nexudus.Booking{ResourceId: 10, CoworkerId: 1, FromTime: inst("2026-12-01 10:00"), ToTime: inst("2026-12-01 11:00")},
			now: "2026-12-01 08:00", loc: 5, groups: "g-entrance,g-room", grant: "2026-12-01 09:45", revoke: "2026-12-01 11:15",
			status: access.StatusActive},
		{name: "a desk booking adds the desk's groups",
			b: nexudus.Booking{ResourceId: 10, FloorPlanDeskId: &desk, CoworkerId: 1, FromTime: inst("2026-12-01 10:00"),
				ToTime: inst("2026-12-01 11:00")},
			now: "2026-12-01 08:00", loc: 5, groups: "g-desk,g-entrance,g-room", grant: "2026-12-01 09:45", revoke: "2026-12-01 11:15",
			status: access.StatusActive},
		{name: "the second location's own room, with its own lead and lag",
			b:   nexudus.Booking{ResourceId: 11, CoworkerId: 1, FromTime: inst("2026-12-01 10:00"), ToTime: inst("2026-12-01 11:00")},
			now: "2026-12-01 08:00", loc: 6, groups: "g-six", grant: "2026-12-01 09:00", revoke: "2026-12-01 12:00",
			status: access.StatusActive},
		{name: "ended once the lag is over",
			b:   nexudus.Booking{ResourceId: 10, CoworkerId: 1, FromTime: inst("2026-12-01 10:00"), ToTime: inst("2026-12-01 11:00")},
			now: "2026-12-01 11:15", loc: 5, groups: "g-entrance,g-room", grant: "2026-12-01 09:45", revoke: "2026-12-01 11:15",
			status: access.StatusExpired},
		{name: "tentative",
			b: nexudus.Booking{ResourceId: 10, CoworkerId: 1, Tentative: true, FromTime: inst("2026-12-01 10:00"),
				ToTime: inst("2026-12-01 11:00")},
			now: "2026-12-01 08:00", loc: 5, groups: "g-entrance,g-room", grant: "2026-12-01 09:45", revoke: "2026-12-01 11:15",
			status: access.StatusTentative},
		{name: "unmapped room: no location, no groups",
			b:   nexudus.Booking{ResourceId: 99, ResourceName: "Attic", FromTime: inst("2026-12-01 10:00"), ToTime: inst("2026-12-01 11:00")},
			now: "2026-12-01 08:00", status: access.StatusActive, summaryContain: "resource 99 is not mapped"},
		{name: "no end: no groups",
			b:   nexudus.Booking{ResourceId: 10, FromTime: inst("2026-12-01 10:00")},
			now: "2026-12-01 08:00", loc: 5, status: access.StatusActive, summaryContain: "without start or end"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := Booking(madrid(), tc.b, utc(tc.now))
			checkEntitlement(t, e, tc.loc, tc.groups, tc.grant, tc.revoke, tc.status, tc.summaryContain)
		})
	}
}

func checkEntitlement(t *testing.T, e access.Entitlement, loc int64, groups, grant, revoke string, status access.Status,
	summary string) {
	t.Helper()
	at := func(s string) time.Time {
		if s == "" {
			return time.Time{}
		}
		return utc(s)
	}
	if e.LocationID != loc {
		t.Errorf("location %d, want %d", e.LocationID, loc)
	}
	if got := strings.Join(e.Groups, ","); got != groups {
		t.Errorf("groups %q, want %q", got, groups)
	}
	if !e.GrantAt.Equal(at(grant)) || !e.RevokeAt.Equal(at(revoke)) {
		t.Errorf("access %s → %s, want %s → %s", e.GrantAt.UTC(), e.RevokeAt.UTC(), grant, revoke)
	}
	if e.Status != status {
		t.Errorf("status %s, want %s", e.Status, status)
	}
	if !strings.Contains(e.Summary, summary) {
		t.Errorf("summary %q lacks %q", e.Summary, summary)
	}
}

func TestPass(t *testing.T) {
	zero := 0
	two := 2
	for _, tc := range []struct {
		name           string
		p              nexudus.CoworkerTimePass
		now            string
		groups         string
		revoke         string
		status         access.Status
		summaryContain string
	}{
		{name: "open from when it is on the account to its expiry",
			p:   nexudus.CoworkerTimePass{BusinessId: 5, TimePassId: 20, CoworkerId: 1, ExpireDate: wall("2026-12-31 23:59")},
			now: "2026-12-01 08:00", groups: "g-day", revoke: "2026-12-31 23:59", status: access.StatusActive},
		{name: "no expiry, unused: open-ended",
			p:   nexudus.CoworkerTimePass{BusinessId: 5, TimePassId: 20, CoworkerId: 1, RemainingUses: &two},
			now: "2026-12-01 08:00", groups: "g-day", status: access.StatusActive},
		{name: "used up: to the end of the day it was used, in Madrid",
			p: nexudus.CoworkerTimePass{BusinessId: 5, TimePassId: 20, CoworkerId: 1, Used: true,
				UsedDate: wall("2026-12-01 09:30"), ExpireDate: wall("2026-12-31 23:59")},
			now: "2026-12-01 10:00", groups: "g-day", revoke: "2026-12-01 23:00", status: access.StatusActive,
			summaryContain: "used up"},
		{name: "no uses left counts as used up; the spring DST day is 23 hours long",
			p: nexudus.CoworkerTimePass{BusinessId: 5, TimePassId: 20, CoworkerId: 1, RemainingUses: &zero,
				UsedDate: wall("2026-03-29 09:00")},
			now: "2026-03-29 08:00", groups: "g-day", revoke: "2026-03-29 22:00", status: access.StatusActive},
		{name: "used up without a use date: the day of its last update",
			p: nexudus.CoworkerTimePass{Entity: nexudus.Entity{UpdatedOn: inst("2026-10-25 12:00")}, BusinessId: 5,
				TimePassId: 20, CoworkerId: 1, Used: true},
			now: "2026-10-25 12:00", groups: "g-day", revoke: "2026-10-25 23:00", status: access.StatusActive},
		{name: "an expiry before the end of the day of use wins",
			p: nexudus.CoworkerTimePass{BusinessId: 5, TimePassId: 20, CoworkerId: 1, Used: true,
				UsedDate: wall("2026-12-01 09:30"), ExpireDate: wall("2026-12-01 18:00")},
			now: "2026-12-01 10:00", groups: "g-day", revoke: "2026-12-01 18:00", status: access.StatusActive},
		{name: "used up yesterday: over",
			p: nexudus.CoworkerTimePass{BusinessId: 5, TimePassId: 20, CoworkerId: 1, Used: true,
				UsedDate: wall("2026-11-30 09:30")},
			now: "2026-12-01 08:00", groups: "g-day", revoke: "2026-11-30 23:00", status: access.StatusExpired},
		{name: "unmapped product",
			p:   nexudus.CoworkerTimePass{BusinessId: 5, TimePassId: 21, CoworkerId: 1},
			now: "2026-12-01 08:00", status: access.StatusActive, summaryContain: "pass product 21 is not mapped"},
		{name: "unconfigured location",
			p:   nexudus.CoworkerTimePass{BusinessId: 7, TimePassId: 20, CoworkerId: 1},
			now: "2026-12-01 08:00", status: access.StatusActive, summaryContain: "location 7 is not configured"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := Pass(madrid(), tc.p, utc(tc.now))
			loc := int64(tc.p.BusinessId)
			checkEntitlement(t, e, loc, tc.groups, "", tc.revoke, tc.status, tc.summaryContain)
		})
	}
}

func TestContract(t *testing.T) {
	withTiming := madrid()
	withTiming.Locations[0].ContractTiming = config.Timing{GrantLead: dur(0), RevokeLag: dur(0)}
	for _, tc := range []struct {
		name          string
		cfg           *config.Config
		c             nexudus.CoworkerContract
		now           string
		groups        string
		grant, revoke string
		status        access.Status
	}{
		{name: "from start - lead to cancellation + lag",
			c: nexudus.CoworkerContract{CoworkerId: 1, Active: true, FloorPlanDeskIds: nexudus.IDList{30},
				StartDate: inst("2026-11-30 23:00"), CancellationDate: inst("2026-12-31 23:00")},
			now: "2026-12-10 08:00", groups: "g-desk,g-entrance", grant: "2026-11-30 22:45", revoke: "2026-12-31 23:15",
			status: access.StatusActive},
		{name: "contract_timing 0s: exactly the start and cancellation dates, as Nexudus' own integration",
			cfg: withTiming,
			c: nexudus.CoworkerContract{CoworkerId: 1, Active: true, FloorPlanDeskIds: nexudus.IDList{30},
				StartDate: inst("2026-11-30 23:00"), CancellationDate: inst("2026-12-31 23:00")},
			now: "2026-12-10 08:00", groups: "g-desk,g-entrance", grant: "2026-11-30 23:00", revoke: "2026-12-31 23:00",
			status: access.StatusActive},
		{name: "cancelled without a date: nothing",
			c: nexudus.CoworkerContract{CoworkerId: 1, Cancelled: true, FloorPlanDeskIds: nexudus.IDList{30},
				StartDate: inst("2026-11-30 23:00")},
			now: "2026-12-10 08:00", groups: "g-desk,g-entrance", grant: "2026-11-30 22:45", status: access.StatusCancelled},
		{name: "no longer active after its start: ended",
			c: nexudus.CoworkerContract{CoworkerId: 1, FloorPlanDeskIds: nexudus.IDList{30},
				StartDate: inst("2026-11-30 23:00")},
			now: "2026-12-10 08:00", groups: "g-desk,g-entrance", grant: "2026-11-30 22:45", status: access.StatusExpired},
		{name: "not active before its start: still to come",
			c: nexudus.CoworkerContract{CoworkerId: 1, FloorPlanDeskIds: nexudus.IDList{30},
				StartDate: inst("2026-11-30 23:00")},
			now: "2026-11-10 08:00", groups: "g-desk,g-entrance", grant: "2026-11-30 22:45", status: access.StatusActive},
		{name: "no mapped desk",
			c:   nexudus.CoworkerContract{CoworkerId: 1, Active: true, FloorPlanDeskIds: nexudus.IDList{31}},
			now: "2026-12-10 08:00", status: access.StatusActive},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			if cfg == nil {
				cfg = madrid()
			}
			e := Contract(cfg, tc.c, utc(tc.now))
			loc := int64(5)
			if tc.groups == "" {
				loc = 0
			}
			checkEntitlement(t, e, loc, tc.groups, tc.grant, tc.revoke, tc.status, "")
		})
	}
}

func TestVisitor(t *testing.T) {
	mobile := madrid()
	mobile.Locations[0].MobileAccess = true
	mobile.Locations[0].VisitorTiming = config.Timing{RevokeLag: dur(0)}
	for _, tc := range []struct {
		name          string
		cfg           *config.Config
		v             nexudus.Visitor
		now           string
		groups        string
		grant, revoke string
		status        access.Status
	}{
		{name: "the whole expected day in Madrid",
			v:   nexudus.Visitor{BusinessId: 5, CoworkerId: 1, FullName: "Vera", ExpectedArrival: wall("2026-12-01 10:00")},
			now: "2026-12-01 08:00", groups: "g-visit", grant: "2026-11-30 23:00", revoke: "2026-12-01 23:00",
			status: access.StatusActive},
		{name: "arriving just after midnight: the lead starts the evening before",
			v:   nexudus.Visitor{BusinessId: 5, CoworkerId: 1, ExpectedArrival: inst("2026-11-30 23:05")},
			now: "2026-11-30 08:00", groups: "g-visit", grant: "2026-11-30 22:50", revoke: "2026-12-01 23:00",
			status: access.StatusActive},
		{name: "the autumn DST day is 25 hours long",
			v:   nexudus.Visitor{BusinessId: 5, CoworkerId: 1, ExpectedArrival: wall("2026-10-25 10:00")},
			now: "2026-10-25 08:00", groups: "g-visit", grant: "2026-10-24 22:00", revoke: "2026-10-25 23:00",
			status: access.StatusActive},
		{name: "departure + lag ends it early",
			v: nexudus.Visitor{BusinessId: 5, CoworkerId: 1, ExpectedArrival: wall("2026-12-01 10:00"),
				DepartureDate: inst("2026-12-01 11:00")},
			now: "2026-12-01 11:30", groups: "g-visit", grant: "2026-11-30 23:00", revoke: "2026-12-01 11:15",
			status: access.StatusExpired},
		{name: "visitor_timing without lag, with mobile access",
			cfg: mobile,
			v: nexudus.Visitor{BusinessId: 5, CoworkerId: 1, Email: "v@example.com", ExpectedArrival: wall("2026-12-01 10:00"),
				DepartureDate: inst("2026-12-01 11:00")},
			now: "2026-12-01 10:30", groups: "g-visit", grant: "2026-11-30 23:00", revoke: "2026-12-01 11:00",
			status: access.StatusActive},
		{name: "no expected arrival",
			v:   nexudus.Visitor{BusinessId: 5, CoworkerId: 1},
			now: "2026-12-01 08:00", status: access.StatusActive},
		{name: "no visitor group at the location",
			v:   nexudus.Visitor{BusinessId: 6, CoworkerId: 1, ExpectedArrival: wall("2026-12-01 10:00")},
			now: "2026-12-01 08:00", status: access.StatusActive},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			if cfg == nil {
				cfg = madrid()
			}
			e := Visitor(cfg, tc.v, utc(tc.now))
			checkEntitlement(t, e, int64(tc.v.BusinessId), tc.groups, tc.grant, tc.revoke, tc.status, "")
			if tc.groups != "" {
				if e.Visitor == nil || e.Visitor.GroupID != "g-visit" || !e.Visitor.PIN {
					t.Fatalf("visitor details %+v", e.Visitor)
				}
				if got, want := e.Visitor.Email, map[bool]string{true: "v@example.com"}[tc.cfg == mobile]; got != want {
					t.Errorf("email %q, want %q (only with mobile access)", got, want)
				}
				if e.Visitor.Departed != !tc.v.DepartureDate.IsZero() {
					t.Errorf("departed %v", e.Visitor.Departed)
				}
			}
		})
	}
}

func TestTimingPerKind(t *testing.T) {
	l := config.Location{GrantLead: 10 * time.Minute, RevokeLag: 20 * time.Minute,
		ContractTiming: config.Timing{GrantLead: dur(0)}, VisitorTiming: config.Timing{RevokeLag: dur(time.Hour)}}
	for _, tc := range []struct {
		kind      access.Kind
		lead, lag time.Duration
	}{
		{access.KindBooking, 10 * time.Minute, 20 * time.Minute},
		{access.KindContract, 0, 20 * time.Minute},
		{access.KindVisitor, 10 * time.Minute, time.Hour},
		{access.KindPass, 0, 0},
	} {
		if lead, lag := Timing(&l, tc.kind); lead != tc.lead || lag != tc.lag {
			t.Errorf("%s: lead %s lag %s, want %s %s", tc.kind, lead, lag, tc.lead, tc.lag)
		}
	}
}
