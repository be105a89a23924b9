package e2e

import (
	"context"
	"slices"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/nexsalto/nexsalto/access"
	"github.com/nexsalto/nexsalto/nexudus"
	"github.com/nexsalto/nexsalto/service"
	nexudussim "github.com/nexsalto/nexsalto/simulators/nexudus"
	"github.com/nexsalto/nexsalto/simulators/saltoks"
)

// TestConvergence runs every "done when" point of the change poller, reconciliation and presence tracking on
// one stack, in order: each step leaves the world the next one builds on.
func TestConvergence(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: embedded Temporal server and simulators")
	}
	s := newStack(t, stackOptions{})
	ctx := context.Background()
	const wait = 45 * time.Second
	now := func() time.Time { return time.Now().UTC() }
	var bookingA int

	t.Run("poller repairs a dropped booking webhook", func(t *testing.T) {
		s.nexudus.SetDropWebhooks(true)
		defer s.nexudus.SetDropWebhooks(false)
		var err error
		bookingA, err = s.nx.CreateBooking(ctx, nexudus.Booking{ResourceId: resourceRoom, CoworkerId: 100,
			FromTime: nexudus.NewTime(now().Add(-time.Minute)), ToTime: nexudus.NewTime(now().Add(time.Hour))})
		if err != nil {
			t.Fatal(err)
		}
		eventually(t, wait, "coworker 100 in the room group", func() bool { return s.member(site1, gRoom, 100) })
		if !s.member(site1, gEntrance, 100) {
			t.Error("not in the entrance group")
		}
	})

	t.Run("pass created in Nexudus without webhook is granted", func(t *testing.T) {
		if _, err := s.nx.CreateCoworkerTimePass(ctx, nexudus.CoworkerTimePass{CoworkerId: 101, BusinessId: int(loc1),
			TimePassId: timePassDay, ExpireDate: nexudus.NewTime(now().Add(2 * time.Hour))}); err != nil {
			t.Fatal(err)
		}
		eventually(t, wait, "coworker 101 in the pass group", func() bool { return s.member(site1, gPass, 101) })
	})

	t.Run("one change poller reads for the account: a lost webhook of the second location is found", func(t *testing.T) {
		if d, err := s.tc.DescribeWorkflowExecution(ctx, access.PollerWorkflowID(loc2), ""); err == nil &&
			d.GetWorkflowExecutionInfo().GetCloseTime() == nil {
			t.Fatalf("%s runs: one poller per account, not per location", access.PollerWorkflowID(loc2))
		}
		s.nexudus.SetDropWebhooks(true)
		_, err := s.nx.CreateBooking(ctx, nexudus.Booking{ResourceId: resourceRoom2, CoworkerId: 107,
			FromTime: nexudus.NewTime(now().Add(-time.Minute)), ToTime: nexudus.NewTime(now().Add(time.Hour))})
		s.nexudus.SetDropWebhooks(false)
		if err != nil {
			t.Fatal(err)
		}
		eventually(t, wait, "coworker 107 in the second location's room", func() bool { return s.member(site2, gRoom2, 107) })

		// A poller of the second location, as an earlier version ran, is stopped when the worker starts.
		old := access.PollerWorkflowID(loc2)
		if _, err := s.tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: old, TaskQueue: s.cfg.Temporal.TaskQueue},
			access.WorkflowPoller, access.PollerInput{LocationID: loc2}); err != nil {
			t.Fatal(err)
		}
		if err := service.StartSyncWorkflows(ctx, s.tc, s.cfg); err != nil {
			t.Fatal(err)
		}
		d, err := s.tc.DescribeWorkflowExecution(ctx, old, "")
		if err != nil || d.GetWorkflowExecutionInfo().GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED {
			t.Fatalf("%s after the worker started: %v, %v", old, d.GetWorkflowExecutionInfo().GetStatus(), err)
		}
	})

	t.Run("reconciliation repairs what the poller missed; its dry runs change nothing", func(t *testing.T) {
		// The poller is down and the webhook is lost: only reconciliation can find this booking.
		if err := s.tc.TerminateWorkflow(ctx, access.PollerWorkflowID(loc1), "", "test: poller down"); err != nil {
			t.Fatal(err)
		}
		s.nexudus.SetDropWebhooks(true)
		id, err := s.nx.CreateBooking(ctx, nexudus.Booking{ResourceId: resourceRoom, CoworkerId: 102,
			FromTime: nexudus.NewTime(now().Add(-time.Minute)), ToTime: nexudus.NewTime(now().Add(time.Hour))})
		s.nexudus.SetDropWebhooks(false)
		if err != nil {
			t.Fatal(err)
		}
		ref := access.Ref{Kind: access.KindBooking, ID: int64(id)}

		plan, err := service.ReconcilePlan(ctx, s.cfg, s.tc, s.sc, s.nx, loc1)
		if err != nil {
			t.Fatal(err)
		}
		if a := actionFor(plan.Actions, 102); a == nil || !slices.Contains(a.Refresh, ref) {
			t.Fatalf("plan does not refresh %s: %+v", ref, plan.Actions)
		}
		// Coworker 100's booking runs and grants (seen through Temporal's visibility): nothing to do for it.
		if a := actionFor(plan.Actions, 100); a != nil {
			t.Errorf("plan for coworker 100: %+v", a)
		}
		dry := s.reconcile(loc1, true)
		if !dry.DryRun || dry.Refreshed < 1 || actionFor(dry.Plan, 102) == nil {
			t.Fatalf("dry run report %+v", dry)
		}
		time.Sleep(2 * time.Second)
		if s.running(ref.WorkflowID()) || s.member(site1, gRoom, 102) {
			t.Fatal("the dry run changed something")
		}

		rep := s.reconcile(loc1, false)
		if rep.DryRun || rep.Refreshed < 1 || rep.Errors != 0 || rep.Duration <= 0 {
			t.Fatalf("report %+v", rep)
		}
		eventually(t, wait, "coworker 102 in the room group", func() bool { return s.member(site1, gRoom, 102) })
		// The poller comes back (as at the next worker start) and carries on.
		if err := service.StartSyncWorkflows(ctx, s.tc, s.cfg); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("member added by hand is removed and, with nothing left, suspended", func(t *testing.T) {
		u, err := s.salto.SeedUser(site1, saltoks.UserSeed{FirstName: "Dmitri", LastName: "Volkov",
			Alias: "Dmitri Volkov", Email: email(103)})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.sc.AddGroupMember(ctx, site1, gRoom, u.User.ID); err != nil {
			t.Fatal(err)
		}
		dry := s.reconcile(loc1, true)
		a := actionFor(dry.Plan, 103)
		if a == nil || !slices.Contains(a.Remove, gRoom) || a.Policy != access.PolicySuspend {
			t.Fatalf("dry run plan for 103: %+v", a)
		}
		if au, _ := s.user(site1, 103); !s.member(site1, gRoom, 103) || (au.SubscriptionState == "suspended") {
			t.Fatal("the dry run changed something")
		}
		rep := s.reconcile(loc1, false)
		if rep.Removed < 1 || rep.Suspended < 1 {
			t.Fatalf("report %+v", rep)
		}
		eventually(t, wait, "coworker 103 out of the room group and suspended", func() bool {
			au, ok := s.user(site1, 103)
			return ok && (au.SubscriptionState == "suspended") && !s.member(site1, gRoom, 103)
		})
		// The paying customers kept their access.
		if !s.member(site1, gRoom, 100) || !s.member(site1, gPass, 101) {
			t.Error("reconciliation removed paid access")
		}
	})

	t.Run("member removed by hand is restored", func(t *testing.T) {
		u, ok := s.user(site1, 100)
		if !ok {
			t.Fatal("no Salto user for coworker 100")
		}
		if err := s.sc.RemoveGroupMember(ctx, site1, gRoom, u.User.ID); err != nil {
			t.Fatal(err)
		}
		rep := s.reconcile(loc1, false)
		if rep.Added < 1 {
			t.Fatalf("report %+v", rep)
		}
		eventually(t, wait, "coworker 100 back in the room group", func() bool { return s.member(site1, gRoom, 100) })
		if _, err := s.nx.GetBooking(ctx, bookingA); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("customer with nothing left is deleted where the policy says delete", func(t *testing.T) {
		if _, err := s.salto.SeedUser(site2, saltoks.UserSeed{FirstName: "Emma", LastName: "Schulz",
			Alias: "Emma Schulz", Email: email(104)}); err != nil {
			t.Fatal(err)
		}
		rep := s.reconcile(loc2, false)
		if rep.Deleted != 1 {
			t.Fatalf("report %+v", rep)
		}
		eventually(t, wait, "coworker 104's Salto user deleted", func() bool {
			_, ok := s.user(site2, 104)
			return !ok
		})
	})

	t.Run("presence entries create and close a check-in once each", func(t *testing.T) {
		u, ok := s.user(site1, 100)
		if !ok {
			t.Fatal("no Salto user for coworker 100")
		}
		checkins := func() []nexudussim.Checkin {
			var out []nexudussim.Checkin
			for _, c := range s.nexudus.Checkins() {
				if c.CoworkerId == 100 {
					out = append(out, c)
				}
			}
			return out
		}
		entry := func(lock string, exit bool) {
			if _, err := s.salto.SeedEntry(site1, saltoks.EntrySeed{UserID: u.User.ID, LockID: lock,
				ExitRequested: exit}); err != nil {
				t.Fatal(err)
			}
		}
		entries := func() int {
			var st access.PresenceState
			v, err := s.tc.QueryWorkflow(ctx, access.PresenceWorkflowID(loc1), "", access.QueryPresence)
			if err != nil || v.Get(&st) != nil {
				return -1
			}
			return st.Entries
		}
		entry(doorIn, false)
		eventually(t, wait, "a check-in for coworker 100", func() bool { return len(checkins()) == 1 })
		entry(doorIn, false) // in again while in: no second check-in
		eventually(t, wait, "the second entry handled", func() bool { return entries() >= 2 })
		time.Sleep(2 * time.Second) // more polls re-read the same second: nothing is counted twice
		if n := len(checkins()); n != 1 || !checkins()[0].ToTime.IsZero() {
			t.Fatalf("check-ins after two entries: %+v", checkins())
		}
		entry(doorOut, false)
		eventually(t, wait, "the check-in closed", func() bool {
			cs := checkins()
			return len(cs) == 1 && !cs[0].ToTime.IsZero()
		})
		entry(doorIn, true) // exit requested with nothing open: nothing to close
		eventually(t, wait, "the exit handled", func() bool { return entries() >= 4 })
		time.Sleep(2 * time.Second)
		if cs := checkins(); len(cs) != 1 || cs[0].Source != int(nexudus.SourceDoorAccess) {
			t.Fatalf("check-ins at the end: %+v", cs)
		}
	})

	t.Run("poller resumes from its cursor after a worker restart", func(t *testing.T) {
		stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		s.worker.Stop(stopCtx)
		cancel()
		s.nexudus.SetDropWebhooks(true)
		defer s.nexudus.SetDropWebhooks(false)
		if _, err := s.nx.CreateCoworkerTimePass(ctx, nexudus.CoworkerTimePass{CoworkerId: 105, BusinessId: int(loc1),
			TimePassId: timePassDay, ExpireDate: nexudus.NewTime(now().Add(2 * time.Hour))}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Second) // no worker: nothing happens
		if s.member(site1, gPass, 105) {
			t.Fatal("granted without a worker")
		}
		w, err := service.NewWorker(s.cfg, s.tc, testLogger())
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Start(); err != nil {
			t.Fatal(err)
		}
		s.worker = w // stopped by the stack's cleanup
		eventually(t, wait, "coworker 105 in the pass group", func() bool { return s.member(site1, gPass, 105) })
	})

	t.Run("poller state after all this", func(t *testing.T) {
		var st access.PollerState
		v, err := s.tc.QueryWorkflow(ctx, access.PollerWorkflowID(loc1), "", access.QueryPoller)
		if err != nil {
			t.Fatal(err)
		}
		if err := v.Get(&st); err != nil {
			t.Fatal(err)
		}
		t.Logf("poller: polls %d, calls %d, changes %d, duplicates %d, started %d", st.Polls, st.Calls, st.Changes,
			st.Duplicates, st.Started)
		if st.Polls == 0 || st.LastError != "" {
			t.Errorf("poller state %+v", st)
		}
	})
}

func actionFor(actions []access.ReconcileAction, coworker int64) *access.ReconcileAction {
	for i := range actions {
		if actions[i].Customer.CoworkerID == coworker {
			return &actions[i]
		}
	}
	return nil
}
