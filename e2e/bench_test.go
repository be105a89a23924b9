package e2e

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/nexsalto/nexsalto/salto"
	"github.com/nexsalto/nexsalto/service"
	nexudussim "github.com/nexsalto/nexsalto/simulators/nexudus"
	"github.com/nexsalto/nexsalto/simulators/saltoks"
)

// BenchmarkReconcile10k reconciles a location of 10,000 Salto users, each a Nexudus coworker, against 300
// entitlements (100 contracts with a desk, 100 passes, 100 bookings now) with some drift: 30 memberships
// removed by hand, 30 added by hand, 50 customers with nothing left still subscribed. The Salto and Nexudus
// clients keep their production budgets (10 calls a second, 120 a minute); only the Nexudus simulator's own
// limit is lifted, so that the seeding and the entitlement workflows started by the run do not throttle it.
//
//	go test -run '^$' -bench Reconcile10k -benchtime 1x ./e2e/
//
// Each iteration runs a dry run (reads and plan only) and a real run, and prints their time and calls.
func BenchmarkReconcile10k(b *testing.B) {
	if testing.Short() {
		b.Skip("seeds 10,000 users")
	}
	const users, entitled = 10000, 300
	s := newStack(b, stackOptions{noSync: true, nexudusPerMinute: 120, simPerMinute: -1, saltoPerSecond: 10})
	ctx := context.Background()
	seedStart := time.Now()
	seedLarge(b, s, users, entitled)
	if err := service.EnsureReconcileSchedule(ctx, s.tc, s.cfg, loc1); err != nil {
		b.Fatal(err)
	}
	fmt.Fprintf(os.Stderr, "seeded %d Salto users and %d coworkers, %d entitlements, in %s\n", users, users,
		entitled, time.Since(seedStart).Round(time.Millisecond))

	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, dry := range []bool{true, false} {
			s.salto.ResetStats()
			s.nexudus.ResetStats()
			start := time.Now()
			rep := s.reconcile(loc1, dry)
			took := time.Since(start)
			ss, ns := s.salto.Stats(), s.nexudus.Stats()
			mode := "run"
			if dry {
				mode = "dry run"
			}
			fmt.Fprintf(os.Stderr, "reconcile %s of %d users: %s (workflow %s); plan reads: Nexudus %d, Salto %d, "+
				"Temporal %d; simulators saw Nexudus %d, Salto %d calls; checked %d, entitlements %d, members %d, "+
				"added %d, removed %d, suspended %d, deleted %d, refreshed %d, unmatched %d, repairs %d, errors %d\n",
				mode, users, took.Round(time.Millisecond), rep.Duration.Round(time.Millisecond), rep.Calls.Nexudus,
				rep.Calls.Salto, rep.Calls.Temporal, ns.Total, ss.Total, rep.Checked, rep.Entitlements, rep.Members,
				rep.Added, rep.Removed, rep.Suspended, rep.Deleted, rep.Refreshed, rep.Unmatched, rep.Repairs, rep.Errors)
			if rep.Checked < users || rep.Entitlements != entitled || rep.Errors != 0 {
				b.Fatalf("report %+v", rep)
			}
			if !dry {
				b.ReportMetric(took.Seconds(), "s/run")
				b.ReportMetric(float64(ns.Total), "nexudus-calls/run")
				b.ReportMetric(float64(ss.Total), "salto-calls/run")
			}
		}
	}
}

// seedLarge fills both simulators: users coworkers with matching emails in Nexudus and in Salto, the first
// entitled of them with an entitlement and its Salto memberships, with drift.
func seedLarge(b *testing.B, s *stack, users, entitled int) {
	now := time.Now().UTC()
	const first = 1000 // coworker ids 1000…
	ds := nexudussim.Dataset{}
	for i := 0; i < users; i++ {
		ds.Coworkers = append(ds.Coworkers, nexudussim.Coworker{Base: nexudussim.Base{Id: first + i},
			FullName: "Member " + strconv.Itoa(i), Email: benchEmail(i), Active: true, InvoicingBusinessId: int(loc1)})
	}
	groups := map[int][]string{}
	third := entitled / 3
	for i := 0; i < entitled; i++ {
		cw := first + i
		switch {
		case i < third:
			ds.CoworkerContracts = append(ds.CoworkerContracts, nexudussim.CoworkerContract{CoworkerId: cw,
				TariffName: "Dedicated desk", StartDate: nexudussim.At(now.AddDate(0, -1, 0)), Active: true,
				FloorPlanDeskIds: nexudussim.IDList{deskD1}})
			groups[i] = []string{gDesk, gEntrance}
		case i < 2*third:
			ds.CoworkerTimePasses = append(ds.CoworkerTimePasses, nexudussim.CoworkerTimePass{CoworkerId: cw,
				BusinessId: int(loc1), TimePassId: timePassDay, ExpireDate: nexudussim.At(now.Add(24 * time.Hour))})
			groups[i] = []string{gPass, gEntrance}
		default:
			ds.Bookings = append(ds.Bookings, nexudussim.Booking{ResourceId: resourceRoom, CoworkerId: cw,
				FromTime: nexudussim.At(now.Add(-time.Hour)), ToTime: nexudussim.At(now.Add(3 * time.Hour))})
			groups[i] = []string{gRoom, gEntrance}
		}
	}
	if _, err := s.nexudus.Seed(ds); err != nil {
		b.Fatal(err)
	}
	// Salto: everybody has a user; those with nothing are suspended already, except 50.
	platform := make([]string, users)
	for i := 0; i < users; i++ {
		seed := saltoks.UserSeed{FirstName: "Member", LastName: strconv.Itoa(i), Alias: "Member " + strconv.Itoa(i),
			Email: benchEmail(i)}
		if i >= entitled+50 {
			seed.SubscriptionState = "suspended"
		}
		u, err := s.salto.SeedUser(site1, seed)
		if err != nil {
			b.Fatal(err)
		}
		platform[i] = u.User.ID
	}
	// Memberships as the workflows would have made them, minus 30 removed by hand, plus 30 added by hand.
	sc, err := salto.New(salto.Config{APIURL: s.cfg.Salto.APIURL, TokenURL: s.cfg.Salto.TokenURL,
		ClientID: s.cfg.Salto.ClientID, ClientSecret: s.cfg.Salto.ClientSecret, Username: s.cfg.Salto.Username,
		Password: s.cfg.Salto.Password})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for i := 0; i < entitled; i++ {
		for j, g := range groups[i] {
			if i%10 == 0 && j == 0 {
				continue // removed by hand
			}
			if err := sc.AddGroupMember(ctx, site1, g, platform[i]); err != nil {
				b.Fatal(err)
			}
		}
	}
	for i := entitled; i < entitled+30; i++ {
		if err := sc.AddGroupMember(ctx, site1, gRoom, platform[i]); err != nil {
			b.Fatal(err)
		}
	}
}

func benchEmail(i int) string { return fmt.Sprintf("member%05d@bench.example", i) }
