package e2e

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/nexsalto/nexsalto/devserver"
)

// The embedded Temporal server stops while bookings sleep towards their grants, stays down while the grants
// fall due, and starts again on the same data: nothing is lost, and the worker picks the work up at once.
func TestFaultServerRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("fault suite: embedded Temporal server restarted")
	}
	const (
		n        = 20
		down     = 20 * time.Second
		lead     = time.Second
		lag      = time.Second
		duration = 30 * time.Second
	)
	s := newStack(t, stackOptions{noSync: true, temporalFile: filepath.Join(t.TempDir(), "temporal.db"),
		lead: lead, lag: lag, saltoPerSecond: 20})
	customers := s.seedCustomers(2000, n, true)
	watch := s.watchMembers(site1, gRoom)

	// Every booking's grant falls due while the server is down.
	stopAt := time.Now().Add(8 * time.Second)
	start := stopAt.Add(lead + 5*time.Second)
	var bookings []faultBooking
	for i, c := range customers {
		from := start.Add(time.Duration(i) * 250 * time.Millisecond)
		bookings = append(bookings, s.book(c, from, from.Add(duration), lead, lag))
	}
	eventually(t, 30*time.Second, "every booking workflow sleeping towards its grant", func() bool {
		for _, b := range bookings {
			if !s.running("booking-" + strconv.Itoa(b.id)) {
				return false
			}
		}
		return true
	})
	time.Sleep(time.Until(stopAt))
	if err := s.srv.Stop(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(down)
	srv, err := devserver.Start(context.Background(), s.srvOpts)
	if err != nil {
		t.Fatalf("restart on the same data: %v", err)
	}
	up := time.Now()
	s.srv = srv
	t.Cleanup(func() { _ = srv.Stop() })

	eventually(t, 60*time.Second, "every booking granted", func() bool {
		for _, b := range bookings {
			if _, _, ok := watch.seen(b.coworker); !ok {
				return false
			}
		}
		return true
	})
	var firstGrant, lastGrant time.Duration = time.Hour, 0
	for _, b := range bookings {
		f, _, _ := watch.seen(b.coworker)
		firstGrant, lastGrant = min(firstGrant, f.Sub(up)), max(lastGrant, f.Sub(up))
	}
	last := bookings[len(bookings)-1].revokeDue
	time.Sleep(time.Until(last.Add(5 * time.Second)))
	var revokeLate []time.Duration
	lost := 0
	for _, b := range bookings {
		if s.member(site1, gRoom, b.coworker) {
			lost++
			continue
		}
		_, l, _ := watch.seen(b.coworker)
		revokeLate = append(revokeLate, l.Sub(b.revokeDue))
	}
	printFigures(t, "fault server-restart: server down %s while %d grants fell due; after it was up: first grant %s, "+
		"all %d by %s; revoke lateness %s; lost %d", down, n, firstGrant.Round(10*time.Millisecond), n,
		lastGrant.Round(10*time.Millisecond), pctls(revokeLate), lost)
	if lost > 0 {
		t.Fatalf("%d revokes lost", lost)
	}
	if firstGrant > 2*time.Second {
		t.Errorf("work resumed %s after the server was up, want ≤ 2 s", firstGrant)
	}
}
