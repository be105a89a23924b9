package activities

import (
	"context"
	"log/slog"

	"go.temporal.io/sdk/activity"
	sdklog "go.temporal.io/sdk/log"
)

// logger is the activity's logger (with its workflow's ids), or the process's default outside an activity:
// the activities are plain methods, called directly by tests and by the starter's dry runs too.
func logger(ctx context.Context) sdklog.Logger {
	if activity.IsActivity(ctx) {
		return activity.GetLogger(ctx)
	}
	return sdklog.NewStructuredLogger(slog.Default())
}
