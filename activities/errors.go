package activities

import (
	"context"
	"errors"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/nexsalto/nexsalto/access"
	"github.com/nexsalto/nexsalto/nexudus"
	"github.com/nexsalto/nexsalto/salto"
)

// consistencyAttempts bounds how long a 2202 "user not found" or 2203 "no permission" is taken for Salto's
// eventual consistency after a user is created (about a minute on the live API). With saltoRetryDelay (1–2 s
// apart once past the first tries) sixty attempts cover about a minute and a half; after that the error is
// real.
const consistencyAttempts = 60

// saltoError turns a Salto client error into what Temporal should do with it:
//   - rate limited: retry after the server's Retry-After (NextRetryDelay overrides the backoff);
//   - transient, auth (a person may fix the token while we keep trying): retry after saltoRetryDelay;
//   - 2202 / 2203 during the consistency window: retry; later, final;
//   - validation, other not-found, permission: final, recorded as a problem by the workflow.
func saltoError(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	msg := op + ": " + err.Error()
	attempt := attemptOf(ctx)
	again := temporal.ApplicationErrorOptions{NextRetryDelay: saltoRetryDelay(attempt)}
	var se *salto.Error
	if !errors.As(err, &se) {
		again.Cause = err
		return temporal.NewApplicationErrorWithOptions(op, "SaltoOther", again)
	}
	if se.SaltoUp {
		// Other calls go through: this failure is the call's own, not an outage. Try again soon, whatever
		// the attempt count an outage left behind.
		again.NextRetryDelay = saltoRetryDelay(1)
	}
	switch se.Kind {
	case salto.KindRateLimited:
		if se.RetryAfter > 0 {
			again.NextRetryDelay = se.RetryAfter
		}
		return temporal.NewApplicationErrorWithOptions(msg, "SaltoRateLimited", again)
	case salto.KindTransient, salto.KindAuth, salto.KindConflict:
		return temporal.NewApplicationErrorWithOptions(msg, "Salto"+titleKind(se.Kind), again)
	case salto.KindNotFound:
		if se.Code == salto.CodeUserNotFound && attempt < consistencyAttempts {
			return notYetConsistent(ctx, op, msg, se)
		}
		return access.NewFinalError(access.ErrSaltoNotFound, msg, nil)
	case salto.KindPermission:
		if attempt < consistencyAttempts {
			return notYetConsistent(ctx, op, msg, se)
		}
		return access.NewFinalError(access.ErrSaltoPermission, msg, nil)
	case salto.KindValidation:
		return access.NewFinalError(access.ErrSaltoValidation, msg, nil)
	default:
		return temporal.NewApplicationErrorWithOptions(msg, "SaltoOther", again)
	}
}

// notYetConsistent is the expected, retried answer of Salto's consistency window right after a user is created.
// It is benign, so the SDK logs the failed attempt at DEBUG rather than ERROR (a real ERROR then stands out),
// and one WARN line (no stack; the activity logger adds the Attempt) says what is happening. Local activities
// need nothing more: the SDK logs no failed local attempt, and counts no failure metric for a benign one.
func notYetConsistent(ctx context.Context, op, msg string, se *salto.Error) error {
	if activity.IsActivity(ctx) {
		logger(ctx).Warn("Salto not consistent yet: its consistency window after creating a user; will retry",
			"Operation", op, "ErrorCode", se.Code, "FinalFromAttempt", consistencyAttempts)
	}
	return temporal.NewApplicationErrorWithOptions(msg+" (may be Salto's consistency window after creating the user)",
		"SaltoNotYetConsistent", temporal.ApplicationErrorOptions{Category: temporal.ApplicationErrorCategoryBenign,
			NextRetryDelay: saltoRetryDelay(attemptOf(ctx))})
}

func titleKind(k salto.ErrorKind) string {
	switch k {
	case salto.KindTransient:
		return "Transient"
	case salto.KindAuth:
		return "Auth"
	case salto.KindConflict:
		return "Conflict"
	}
	return "Other"
}

// nexudusError does the same for Nexudus: throttling waits for Retry-After, server errors retry, a refused
// write is final.
func nexudusError(op string, err error) error {
	if err == nil {
		return nil
	}
	msg := op + ": " + err.Error()
	var budget *temporal.ApplicationError
	switch {
	case errors.As(err, &budget) && budget.Type() == access.ErrBudgetExhausted:
		// The account's writes for today are spent for this kind of work: retrying before tomorrow is futile,
		// and the workflow says so (presence tracking shows it as its last error).
		return access.NewFinalError(access.ErrBudgetExhausted, msg, nil)
	case nexudus.IsThrottled(err):
		return temporal.NewApplicationErrorWithOptions(msg, "NexudusThrottled", temporal.ApplicationErrorOptions{
			NextRetryDelay: nexudus.RetryAfter(err),
		})
	case nexudus.IsRetryable(err), nexudus.IsUnauthorized(err):
		return temporal.NewApplicationError(msg, "NexudusTransient")
	default:
		var ne *nexudus.Error
		if errors.As(err, &ne) && ne.Status >= 400 && ne.Status < 500 {
			return access.NewFinalError(access.ErrNexudusValidation, msg, nil)
		}
		return temporal.NewApplicationError(msg, "NexudusOther")
	}
}
