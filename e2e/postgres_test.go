package e2e

import (
	"context"
	"strconv"
	"testing"
	"time"

	pgschema "go.temporal.io/server/schema/postgresql/v12"

	"github.com/nexsalto/nexsalto/devserver"
	"github.com/nexsalto/nexsalto/devserver/pgtest"
)

// TestPostgresServer runs the embedded Temporal server on a real PostgreSQL, the production persistence: the
// schema set up by the server's own SQL tooling (twice: the second run must change nothing), then the booking
// path through it — a grant and a revoke — and a server restart while a booking's revoke timer sleeps, which
// must fire on time from what PostgreSQL kept. Without PostgreSQL it skips (see package pgtest).
func TestPostgresServer(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: embedded Temporal server on PostgreSQL")
	}
	const (
		lead, lag = time.Second, time.Second
		down      = 5 * time.Second
	)
	began := time.Now()
	dsn := pgtest.DSN(t)
	clusterUp := time.Since(began)

	t0 := time.Now()
	if err := devserver.SetupPostgresSchema(dsn, nil); err != nil {
		t.Fatal(err)
	}
	coldSetup := time.Since(t0)
	t0 = time.Now()
	if err := devserver.SetupPostgresSchema(dsn, nil); err != nil {
		t.Fatalf("set-up on an up-to-date database: %v", err)
	}
	warmSetup := time.Since(t0)
	mainV, visV, err := devserver.PostgresSchemaVersions(dsn)
	if err != nil {
		t.Fatal(err)
	}
	if mainV != pgschema.Version || visV != pgschema.VisibilityVersion {
		t.Fatalf("schema versions %s and %s, want the server's %s and %s", mainV, visV, pgschema.Version,
			pgschema.VisibilityVersion)
	}

	t0 = time.Now()
	s := newStack(t, stackOptions{noSync: true, postgres: dsn, lead: lead, lag: lag})
	stackUp := time.Since(t0)
	customers := s.seedCustomers(4000, 2, true)
	watch := s.watchMembers(site1, gRoom)

	// A is granted and revoked while the server runs; B is granted, then its revoke timer sleeps through a
	// server restart and falls due after the server is back.
	start := time.Now().Add(lead + 3*time.Second)
	a := s.book(customers[0], start, start.Add(4*time.Second), lead, lag)
	b := s.book(customers[1], start, start.Add(25*time.Second), lead, lag)
	eventually(t, 30*time.Second, "A granted and revoked, B granted", func() bool {
		_, _, bGranted := watch.seen(b.coworker)
		return bGranted && s.member(site1, gRoom, b.coworker) && !s.member(site1, gRoom, a.coworker) &&
			time.Now().After(a.revokeDue)
	})
	aFirst, aLast, aSeen := watch.seen(a.coworker)
	if !aSeen {
		t.Fatal("A was never granted")
	}
	bFirst, _, _ := watch.seen(b.coworker)
	if !s.running("booking-" + strconv.Itoa(b.id)) {
		t.Fatal("B's booking workflow is not running before the restart")
	}

	if err := s.srv.Stop(); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	time.Sleep(down)
	t0 = time.Now()
	srv, err := devserver.Start(context.Background(), s.srvOpts)
	if err != nil {
		t.Fatalf("restart on the same databases: %v", err)
	}
	restart := time.Since(t0)
	s.srv = srv
	t.Cleanup(func() { _ = srv.Stop() })
	if time.Now().After(b.revokeDue.Add(-2 * time.Second)) {
		t.Fatalf("B's revoke fell due before the server was back (restart took %s): the test proves nothing", restart)
	}
	if !s.running("booking-" + strconv.Itoa(b.id)) {
		t.Fatal("B's booking workflow is not running after the restart: the server lost it")
	}
	eventually(t, time.Until(b.revokeDue)+15*time.Second, "B revoked after the restart", func() bool {
		return !s.member(site1, gRoom, b.coworker)
	})
	time.Sleep(200 * time.Millisecond) // the watch's next sample
	_, bLast, _ := watch.seen(b.coworker)
	if bLast.Before(stopped) {
		t.Fatalf("B lost access at %s, before the server stopped", bLast.Format(time.TimeOnly))
	}
	bRevokeLate := bLast.Sub(b.revokeDue)
	ms := func(d time.Duration) time.Duration { return d.Round(10 * time.Millisecond) }
	printFigures(t, "postgres: cluster up %s; schema set-up cold %s, again %s (versions %s, %s); stack up %s; "+
		"grant lateness A %s, B %s; revoke lateness A %s; server down %s, restart %s; B's revoke after the "+
		"restart %s late; test %s", ms(clusterUp), ms(coldSetup), ms(warmSetup), mainV, visV, ms(stackUp),
		ms(aFirst.Sub(a.grantDue)), ms(bFirst.Sub(b.grantDue)), ms(aLast.Sub(a.revokeDue)), down, ms(restart),
		ms(bRevokeLate), time.Since(began).Round(100*time.Millisecond))
	if bRevokeLate < -time.Second || bRevokeLate > 5*time.Second {
		t.Errorf("B's revoke %s from its due instant after the restart, want within [-1 s, 5 s]", bRevokeLate)
	}
}
