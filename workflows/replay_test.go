package workflows

import (
	"path/filepath"
	"testing"
	"time"

	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/nexsalto/nexsalto/access"
)

// TestReplayRecordedHistories replays histories recorded on a real server (see service.TestRecordHistories)
// against today's workflow code. Entitlement and customer workflows sleep for weeks: a change that cannot replay
// an old history would fail every workflow sleeping in production.
func TestReplayRecordedHistories(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "histories", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no recorded histories in testdata/histories")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			r := worker.NewWorkflowReplayer()
			Register(r)
			if err := r.ReplayWorkflowHistoryFromJSONFile(nil, f); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// The replayer is not a formality: a booking history does not replay on a workflow that decides differently.
func TestReplayDetectsAChangedWorkflow(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "histories", "*-booking-*.json"))
	if len(files) == 0 {
		t.Fatal("no recorded booking history")
	}
	r := worker.NewWorkflowReplayer()
	r.RegisterWorkflowWithOptions(func(ctx workflow.Context, _ access.EntitlementInput) error {
		return workflow.Sleep(ctx, time.Hour) // a timer where the recorded run read Nexudus first
	}, workflow.RegisterOptions{Name: access.WorkflowBooking})
	if err := r.ReplayWorkflowHistoryFromJSONFile(nil, files[0]); err == nil {
		t.Fatal("a workflow that does something else replayed the recorded history without error")
	}
}
