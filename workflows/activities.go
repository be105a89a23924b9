package workflows

import (
	"context"

	"go.temporal.io/sdk/workflow"

	"github.com/nexsalto/nexsalto/activities"
)

// a names the activities by their methods, as reference-app-orders-go does: a renamed or removed activity
// fails the build. The methods are never called through this nil receiver; the worker runs the registered
// activities (local ones too: the SDK looks a method's name up in the registry).
var a *activities.Activities

// none is the result of an activity that returns only an error.
type none struct{}

// activityRef is an activity method with its input and result types, so passing the wrong input or reading
// the wrong result fails the build as well.
type activityRef[I, O any] struct{ fn any }

// fn refers to an activity that returns a result.
func fn[I, O any](f func(context.Context, I) (O, error)) activityRef[I, O] {
	return activityRef[I, O]{f}
}

// proc refers to an activity that returns only an error.
func proc[I any](f func(context.Context, I) error) activityRef[I, none] {
	return activityRef[I, none]{f}
}

// start schedules the activity with ctx's activity options.
func (r activityRef[I, O]) start(ctx workflow.Context, in I) future[O] {
	return future[O]{workflow.ExecuteActivity(ctx, r.fn, in)}
}

// startLocal runs the activity as a local activity with ctx's local activity options.
func (r activityRef[I, O]) startLocal(ctx workflow.Context, in I) future[O] {
	return future[O]{workflow.ExecuteLocalActivity(ctx, r.fn, in)}
}

func (r activityRef[I, O]) run(ctx workflow.Context, in I) (O, error) {
	return r.start(ctx, in).get(ctx)
}

func (r activityRef[I, O]) runLocal(ctx workflow.Context, in I) (O, error) {
	return r.startLocal(ctx, in).get(ctx)
}

// future is an activity's future with its result type.
type future[O any] struct{ workflow.Future }

func (f future[O]) get(ctx workflow.Context) (O, error) {
	var out O
	if _, ok := any(out).(none); ok {
		return out, f.Get(ctx, nil)
	}
	err := f.Get(ctx, &out)
	return out, err
}
