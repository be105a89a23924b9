package main

import (
	"cmp"
	"context"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/nexsalto/nexsalto/access"
	"github.com/nexsalto/nexsalto/config"
	"github.com/nexsalto/nexsalto/nexudus"
	"github.com/nexsalto/nexsalto/rules"
)

// Candidate selection only decides which workflows to start: each workflow reads its record itself and
// decides access. It keeps every record whose entitlement may give access in the window by the same rules
// (rules.MayGiveAccess), so a backfill starts exactly what the workflows would act on.

func collectCandidates(ctx context.Context, nx *nexudus.Client, cfg *config.Config, locs []*config.Location,
	win rules.Window, now time.Time) ([]candidate, []string) {
	selected := map[int64]bool{}
	for _, l := range locs {
		selected[l.BusinessID] = true
	}
	var out []candidate
	var errs []string
	// consider keeps a record of a selected location that may give access in the window.
	consider := func(e access.Entitlement, summary func(zone *time.Location) string) {
		loc, ok := cfg.Location(e.LocationID)
		if !ok || !selected[e.LocationID] || !rules.MayGiveAccess(e, win) {
			return
		}
		out = append(out, candidate{Ref: e.Ref, Location: e.LocationID, Summary: summary(loc.Zone())})
	}

	fromEnd, toStart := rules.BookingBounds(locs, win, rules.ZoneMargin)
	q := url.Values{"from_Booking_ToTime": {nexudus.FormatFilterTime(fromEnd)}}
	if !toStart.IsZero() {
		q.Set("to_Booking_FromTime", nexudus.FormatFilterTime(toStart))
	}
	if bookings, err := nx.ListBookings(ctx, q); err != nil {
		errs = append(errs, "list bookings: "+err.Error())
	} else {
		for _, b := range bookings {
			consider(rules.Booking(cfg, b, now), func(zone *time.Location) string {
				start, _ := b.Start(zone)
				return fmt.Sprintf("%s, %s", b.ResourceName, fmtWhen(start, zone))
			})
		}
	}

	// Contracts no longer active give nothing; the list carries the desks the mapping needs.
	if contracts, err := nx.ListContracts(ctx, url.Values{"CoworkerContract_Active": {"true"}}); err != nil {
		errs = append(errs, "list contracts: "+err.Error())
	} else {
		for _, c := range contracts {
			consider(rules.Contract(cfg, c, now), func(*time.Location) string {
				return fmt.Sprintf("%s, coworker %d", c.TariffName, c.CoworkerId)
			})
		}
	}

	for _, loc := range locs {
		business := strconv.FormatInt(loc.BusinessID, 10)
		// Passes have no webhook in Nexudus, so this is also how passes bought while nothing listened get
		// their workflow.
		if len(loc.Passes) > 0 {
			passes, err := nx.ListCoworkerTimePasses(ctx, url.Values{"CoworkerTimePass_BusinessId": {business}})
			if err != nil {
				errs = append(errs, fmt.Sprintf("list passes of location %d: %v", loc.BusinessID, err))
			}
			for _, p := range passes {
				consider(rules.Pass(cfg, p, now), func(*time.Location) string {
					return fmt.Sprintf("%s, coworker %d", p.TimePassName, p.CoworkerId)
				})
			}
		}
		if len(loc.VisitorGroups) > 0 {
			from, to := rules.VisitorBounds(loc, win, rules.ZoneMargin)
			q := url.Values{"Visitor_BusinessId": {business}, "from_Visitor_ExpectedArrival": {nexudus.FormatFilterTime(from)}}
			if !to.IsZero() {
				q.Set("to_Visitor_ExpectedArrival", nexudus.FormatFilterTime(to))
			}
			visitors, err := nx.ListVisitors(ctx, q)
			if err != nil {
				errs = append(errs, fmt.Sprintf("list visitors of location %d: %v", loc.BusinessID, err))
			}
			for _, v := range visitors {
				// The visitor's name stays out of the output: the id is enough to find them in Nexudus.
				consider(rules.Visitor(cfg, v, now), func(zone *time.Location) string {
					arrival, _ := nexudus.ResolveInstant(v.ExpectedArrival, nexudus.Time{}, zone)
					return fmt.Sprintf("visitor of coworker %d, %s", v.CoworkerId, fmtWhen(arrival, zone))
				})
			}
		}
	}

	// One workflow per entity, in a stable order: kind, then id.
	order := map[access.Kind]int{}
	for i, k := range access.Kinds {
		order[k] = i
	}
	slices.SortFunc(out, func(x, y candidate) int {
		if d := order[x.Ref.Kind] - order[y.Ref.Kind]; d != 0 {
			return d
		}
		return cmp.Compare(x.Ref.ID, y.Ref.ID)
	})
	out = slices.CompactFunc(out, func(x, y candidate) bool { return x.Ref == y.Ref })
	return out, errs
}
