package activities

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/nexsalto/nexsalto/access"
	"github.com/nexsalto/nexsalto/salto"
)

func TestSaltoErrorClassification(t *testing.T) {
	ctx := context.Background() // not an activity: attempt 1
	cases := []struct {
		name      string
		err       *salto.Error
		final     bool
		finalType string
		retryIn   time.Duration // -1: saltoRetryDelay's jittered first delay
	}{
		{"rate limited", &salto.Error{Status: 429, Kind: salto.KindRateLimited, RetryAfter: 7 * time.Second}, false, "", 7 * time.Second},
		{"server error", &salto.Error{Status: 503, Kind: salto.KindTransient}, false, "", -1},
		{"token refused", &salto.Error{Status: 401, Kind: salto.KindAuth}, false, "", -1},
		{"user not yet consistent", &salto.Error{Status: 404, Code: salto.CodeUserNotFound, Kind: salto.KindNotFound}, false, "", -1},
		{"group missing", &salto.Error{Status: 404, Code: "2204", Kind: salto.KindNotFound}, true, access.ErrSaltoNotFound, 0},
		{"validation", &salto.Error{Status: 400, Code: salto.CodeValidation, Kind: salto.KindValidation}, true, access.ErrSaltoValidation, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := saltoError(ctx, "op", tc.err)
			var app *temporal.ApplicationError
			if !errors.As(err, &app) {
				t.Fatalf("%T is not an ApplicationError", err)
			}
			if access.IsFinal(err) != tc.final {
				t.Fatalf("final = %v, want %v (%v)", access.IsFinal(err), tc.final, err)
			}
			if tc.final && app.Type() != tc.finalType {
				t.Errorf("type %q, want %q", app.Type(), tc.finalType)
			}
			if d := app.NextRetryDelay(); tc.retryIn >= 0 && d != tc.retryIn {
				t.Errorf("next retry delay %s, want %s", d, tc.retryIn)
			} else if tc.retryIn < 0 && (d < saltoRetryFirst/2 || d > saltoRetryFirst) {
				t.Errorf("next retry delay %s, want within [%s, %s]", d, saltoRetryFirst/2, saltoRetryFirst)
			}
		})
	}
	if saltoError(ctx, "op", nil) != nil {
		t.Fatal("nil error classified as an error")
	}
}

// Retries of a due Salto call stay a few seconds apart however long Salto fails, and calls that failed together
// come back spread out.
func TestSaltoRetryDelayIsCappedAndJittered(t *testing.T) {
	for attempt := int32(1); attempt <= 200; attempt++ {
		want := saltoRetryCap
		if attempt < 3 {
			want = saltoRetryFirst << (attempt - 1)
		}
		seen := map[time.Duration]bool{}
		for range 20 {
			d := saltoRetryDelay(attempt)
			if d < want/2 || d > want {
				t.Fatalf("attempt %d: delay %s, want within [%s, %s]", attempt, d, want/2, want)
			}
			seen[d] = true
		}
		if len(seen) < 2 {
			t.Fatalf("attempt %d: 20 delays all %v: no jitter", attempt, seen)
		}
	}
}

// The consistency window's answers are benign (the SDK logs them at DEBUG, not ERROR) and retried; real failures
// keep the default category, so they still show as errors.
func TestConsistencyWindowErrorsAreBenign(t *testing.T) {
	ctx := context.Background()
	for _, se := range []*salto.Error{
		{Status: 404, Code: salto.CodeUserNotFound, Kind: salto.KindNotFound},
		{Status: 403, Code: "2203", Kind: salto.KindPermission},
	} {
		var app *temporal.ApplicationError
		if err := saltoError(ctx, "op", se); !errors.As(err, &app) || app.Category() != temporal.ApplicationErrorCategoryBenign || access.IsFinal(err) {
			t.Errorf("%s %s: %v, want a benign retryable error", se.Code, se.Kind, err)
		}
	}
	for _, se := range []*salto.Error{
		{Status: 503, Kind: salto.KindTransient},
		{Status: 404, Code: "2204", Kind: salto.KindNotFound},
	} {
		var app *temporal.ApplicationError
		if err := saltoError(ctx, "op", se); errors.As(err, &app) && app.Category() == temporal.ApplicationErrorCategoryBenign {
			t.Errorf("%s %s is not expected, yet classified benign", se.Code, se.Kind)
		}
	}
}

// Under Temporal's retries a 2202 stays benign and retryable for the attempts of the consistency window, and
// the attempt consistencyAttempts turns it final (ErrSaltoNotFound), which ends the retries.
func TestConsistencyWindowEndsAfterConsistencyAttempts(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	type outcome struct {
		attempt int32
		err     error
	}
	var seen []outcome
	env.RegisterActivityWithOptions(func(ctx context.Context) error {
		err := saltoError(ctx, "add to access group", &salto.Error{Status: 404, Code: salto.CodeUserNotFound, Kind: salto.KindNotFound})
		seen = append(seen, outcome{activity.GetInfo(ctx).Attempt, err})
		return err
	}, activity.RegisterOptions{Name: "AddToGroup"})
	env.RegisterWorkflowWithOptions(func(ctx workflow.Context) error {
		ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute,
			RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2,
				MaximumInterval: 2 * time.Minute, MaximumAttempts: 2 * consistencyAttempts,
				NonRetryableErrorTypes: access.FinalErrorTypes}})
		return workflow.ExecuteActivity(ctx, "AddToGroup").Get(ctx, nil)
	}, workflow.RegisterOptions{Name: "Grant"})
	env.ExecuteWorkflow("Grant")
	if !env.IsWorkflowCompleted() || !access.IsFinal(env.GetWorkflowError()) {
		t.Fatalf("workflow error %v, want the final error", env.GetWorkflowError())
	}
	if len(seen) != consistencyAttempts {
		t.Fatalf("%d attempts, want %d", len(seen), consistencyAttempts)
	}
	for _, o := range seen {
		var app *temporal.ApplicationError
		if !errors.As(o.err, &app) {
			t.Fatalf("attempt %d: %T is not an ApplicationError", o.attempt, o.err)
		}
		inWindow := o.attempt < consistencyAttempts
		if benign := app.Category() == temporal.ApplicationErrorCategoryBenign; benign != inWindow || access.IsFinal(o.err) == inWindow {
			t.Errorf("attempt %d: benign %v, final %v (%v)", o.attempt, benign, access.IsFinal(o.err), o.err)
		}
		if !inWindow && app.Type() != access.ErrSaltoNotFound {
			t.Errorf("attempt %d: type %q, want %q", o.attempt, app.Type(), access.ErrSaltoNotFound)
		}
	}
}
