package access

import (
	"errors"
	"slices"

	"go.temporal.io/sdk/temporal"
)

// Error types of final failures: a 4xx that retrying cannot fix. Activities return them with NewFinalError;
// the workflows list them as NonRetryableErrorTypes and record them as problems instead of retrying.
const (
	ErrSaltoValidation   = "SaltoValidation"   // 400 1100/1101: a request Salto refuses as such
	ErrSaltoNotFound     = "SaltoNotFound"     // a group or site that does not exist (not the 2202 of eventual consistency)
	ErrSaltoPermission   = "SaltoPermission"   // 403 that persists: the integration lacks a right
	ErrSaltoNoSeat       = "SaltoNoSeat"       // no free seat: only in older histories (now a Suspended result)
	ErrNexudusValidation = "NexudusValidation" // a write Nexudus rejects
	ErrMissingEmail      = "MissingEmail"      // a coworker without an email cannot have a Salto user
	ErrConfig            = "AccessConfig"      // unknown location, site or mapping
)

// FinalErrorTypes lists the types above.
var FinalErrorTypes = []string{
	ErrSaltoValidation, ErrSaltoNotFound, ErrSaltoPermission, ErrSaltoNoSeat,
	ErrNexudusValidation, ErrMissingEmail, ErrConfig, ErrBudgetExhausted,
}

// NewFinalError returns a non-retryable ApplicationError of the given type: Temporal does not retry it and the
// workflow records it as a problem for a person.
func NewFinalError(errType, message string, cause error) error {
	return temporal.NewNonRetryableApplicationError(message, errType, cause)
}

// IsFinal reports whether err (possibly wrapped in an ActivityError) is a failure retrying cannot fix: a
// non-retryable ApplicationError or one of FinalErrorTypes. Timeouts and cancellations are not final.
func IsFinal(err error) bool {
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) {
		return false
	}
	return appErr.NonRetryable() || slices.Contains(FinalErrorTypes, appErr.Type())
}

// FinalMessage is the message of the final ApplicationError inside err, for a problem description; it is
// empty when err is not final.
func FinalMessage(err error) string {
	var appErr *temporal.ApplicationError
	if !IsFinal(err) || !errors.As(err, &appErr) {
		return ""
	}
	if appErr.Type() != "" {
		return appErr.Type() + ": " + appErr.Message()
	}
	return appErr.Message()
}
