package workflows

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/nexsalto/nexsalto/access"
)

const backgroundQueue = "access-background"

// withBackgroundQueue gives the location a background task queue, as LoadLocation does from the configuration.
func (w *world) withBackgroundQueue() {
	loc := w.locations[locID]
	loc.BackgroundTaskQueue = backgroundQueue
	w.locations[locID] = loc
}

// recordQueues returns, as the run goes, the activities that ran on the background queue, and fails the test
// when one of them ran as a local activity or a grant's call went there.
func (w *world) recordQueues(t *testing.T) *[]string {
	var onBackground []string
	w.env.SetOnActivityStartedListener(func(info *activityInfo, _ ctxT, _ converter.EncodedValues) {
		name := info.ActivityType.Name
		if info.TaskQueue == backgroundQueue {
			onBackground = append(onBackground, name)
		}
		if info.TaskQueue == backgroundQueue && slices.Contains([]string{"AddToGroup", "EnsureSaltoUser"}, name) {
			t.Errorf("%s went to the background queue", name)
		}
	})
	w.env.SetOnLocalActivityStartedListener(func(info *activityInfo, _ ctxT, _ []any) {
		if name := info.ActivityType.Name; name == "CheckUserHold" || name == "DeleteSaltoUser" {
			t.Errorf("%s ran as a local activity", name)
		}
	})
	return &onBackground
}

// With a background queue, the no-access policy's check and suspension are regular activities there, never
// local (a backlog of them then waits in Temporal, not in the worker's slots).
func TestPolicyStepsGoToTheBackgroundQueue(t *testing.T) {
	w := newWorld(t)
	w.setPolicy(access.PolicySuspend)
	w.withBackgroundQueue()
	adopted := w.addUser("ada@example.com", "TAG-0042")
	onBackground := w.recordQueues(t)
	w.grantAt(at(8, 45), "booking-1", at(10, 15), "room-a")
	w.revokeAt(at(10, 15), "booking-1")
	st := runCustomer(t, w, access.NewCustomerInput(customer))

	if want := []string{"CheckUserHold", "SetSubscription"}; !slices.Equal(*onBackground, want) {
		t.Errorf("on the background queue: %v, want %v", *onBackground, want)
	}
	if u := w.users[adopted.SiteUserID]; !u.Suspended || st.State != access.StateSuspended {
		t.Errorf("policy suspend not applied: user %+v, state %s", u, st.State)
	}
}

// A suspension still waiting in the background queue when access comes back is cancelled: the grant does not
// wait for it, the user counts as suspended (the suspension may have reached Salto), so it is subscribed before
// its group is added, and the policy applies again once access ends for good.
func TestAccessReturningCancelsAQueuedSuspension(t *testing.T) {
	w := newWorld(t)
	w.setPolicy(access.PolicySuspend)
	w.withBackgroundQueue()
	adopted := w.addUser("ada@example.com", "TAG-0042")
	w.recordQueues(t)
	w.grantAt(at(8, 45), "booking-1", at(10, 15), "room-a")
	w.revokeAt(at(10, 15), "booking-1")
	// The first suspension waits in the background queue, and would still be there ten minutes later (the
	// test environment resolves a cancelled activity at once; the server does so for one not yet started).
	// The second one does not wait.
	w.env.OnActivity(w.SetSubscription, mock.Anything, mock.Anything).After(10*time.Minute).
		Return(access.SaltoUser{}, temporal.NewCanceledError("still queued")).Once()
	w.env.OnActivity(w.SetSubscription, mock.Anything, mock.Anything).Return(w.SetSubscription)
	w.grantAt(at(10, 17), "booking-2", at(11, 0), "room-b")
	w.revokeAt(at(11, 0), "booking-2")
	st := runCustomer(t, w, access.NewCustomerInput(customer))

	checkCalls(t, w.callsOf("add", "suspend", "subscribe"), wantCall{at(8, 45), "add", "room-a"},
		wantCall{at(10, 17), "subscribe", ""}, wantCall{at(10, 17), "add", "room-b"},
		wantCall{at(11, 0), "suspend", ""})
	if u := w.users[adopted.SiteUserID]; !u.Suspended || st.State != access.StateSuspended {
		t.Errorf("policy suspend not applied once access ended for good: user %+v, state %s", u, st.State)
	}
}
