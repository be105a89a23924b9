package salto

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// ErrorKind sorts errors by what a caller can do about them.
type ErrorKind int

// Error kinds. Only KindTransient and KindRateLimited are worth retrying as they are; see IsRetryable.
const (
	KindOther       ErrorKind = iota
	KindNotFound              // 404, ErrorCode 2202
	KindValidation            // 400, ErrorCode 1100, 1101, 1102
	KindPermission            // 403, ErrorCode 2203
	KindRateLimited           // 429; RetryAfter tells how long to wait
	KindTransient             // 5xx, timeouts, connection errors
	KindAuth                  // 401 after the one refresh retry; invalid_grant, invalid_client; no token at all
	KindConflict              // 409
)

var kindNames = [...]string{"other", "not found", "validation", "permission", "rate limited", "transient", "auth",
	"conflict"}

func (k ErrorKind) String() string {
	if int(k) >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Salto error codes seen on the live API (see the shared API notes).
const (
	CodeBadParameter = "1100"
	CodeValidation   = "1101"
	CodeBadOrderBy   = "1102"
	CodeUserNotFound = "2202"
	CodeNoPermission = "2203"
	CodeOTPInvalid   = "3102"
)

// ErrNotConnected means there is neither a stored refresh token nor a system user for the password grant: an
// operator has to run the authorization-code step (Connect) first.
var ErrNotConnected = errors.New("salto: not connected: no stored token and no system user configured")

// Error is every error the client returns. Status is 0 when no HTTP response was involved.
type Error struct {
	Status     int
	Code       string // Salto ErrorCode, or the OAuth error ("invalid_grant") for identity-server errors
	Message    string
	Kind       ErrorKind
	RetryAfter time.Duration // from Retry-After on 429 (and 503); 0 when absent
	Method     string
	Path       string // without the query string
	// SaltoUp says another call of this client succeeded within the last two seconds: the failure is this
	// call's (a random 5xx, a lost answer), not an outage, so it is worth trying again at once.
	SaltoUp bool
	err     error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("salto: ")
	if e.Method != "" {
		b.WriteString(e.Method + " " + e.Path + ": ")
	}
	if e.Status != 0 {
		b.WriteString(strconv.Itoa(e.Status) + " ")
	}
	if e.Code != "" {
		b.WriteString(e.Code + " ")
	}
	msg := e.Message
	if msg == "" && e.err != nil {
		msg = e.err.Error()
	}
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	b.WriteString(msg)
	fmt.Fprintf(&b, " (%s", e.Kind)
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, ", retry after %s", e.RetryAfter)
	}
	b.WriteString(")")
	return b.String()
}

// Unwrap exposes the cause (a context error, a network error, an *oauth2.RetrieveError, ErrNotConnected).
func (e *Error) Unwrap() error { return e.err }

// KindOf returns the kind of err; errors that are not *Error count as KindOther, except context deadlines and
// network errors, which are transient.
func KindOf(err error) ErrorKind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	if err != nil && isTransientCause(err) {
		return KindTransient
	}
	return KindOther
}

// IsNotFound reports a 404 / 2202, or a Find* call that found nothing.
func IsNotFound(err error) bool { return KindOf(err) == KindNotFound }

// IsRetryable reports errors that may succeed if the same call is repeated later: transient failures and rate
// limiting. Right after creating a user the API may also answer 2202 or 2203 for up to about a minute; callers
// that just created the user should retry those too, for a bounded time.
func IsRetryable(err error) bool {
	k := KindOf(err)
	return k == KindTransient || k == KindRateLimited
}

// RetryAfter returns the wait the server asked for, if any.
func RetryAfter(err error) (time.Duration, bool) {
	var e *Error
	if errors.As(err, &e) && e.RetryAfter > 0 {
		return e.RetryAfter, true
	}
	return 0, false
}

// classify maps an HTTP status and a Salto ErrorCode to a kind. Status decides for 401, 429 and 5xx whatever
// the code says; otherwise the code, when known, wins over the status.
func classify(status int, code string) ErrorKind {
	switch {
	case status == http.StatusUnauthorized:
		return KindAuth
	case status == http.StatusTooManyRequests:
		return KindRateLimited
	case status >= 500 || status == http.StatusRequestTimeout:
		return KindTransient
	}
	switch code {
	case CodeUserNotFound:
		return KindNotFound
	case CodeNoPermission:
		return KindPermission
	case CodeBadParameter, CodeValidation, CodeBadOrderBy:
		return KindValidation
	}
	switch status {
	case http.StatusNotFound, http.StatusGone:
		return KindNotFound
	case http.StatusBadRequest, http.StatusUnprocessableEntity:
		return KindValidation
	case http.StatusForbidden:
		return KindPermission
	case http.StatusConflict:
		return KindConflict
	}
	return KindOther
}

// parseRetryAfter reads Retry-After as seconds or as an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil {
		return max(time.Duration(secs)*time.Second, 0)
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return 0
}

// apiErrorBody is the live error body. ErrorCode is documented as a string; a number is accepted too.
type apiErrorBody struct {
	ErrorCode json.RawMessage `json:"ErrorCode"`
	Message   string          `json:"Message"`
}

func errorCode(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}

func responseError(method, path string, status int, header http.Header, body []byte, now time.Time) *Error {
	e := &Error{Status: status, Method: method, Path: path}
	var b apiErrorBody
	if json.Unmarshal(body, &b) == nil {
		e.Code, e.Message = errorCode(b.ErrorCode), b.Message
	}
	e.Kind = classify(status, e.Code)
	if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
		e.RetryAfter = parseRetryAfter(header.Get("Retry-After"), now)
	}
	return e
}

func isTransientCause(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false // the caller gave up; repeating is the caller's decision, not a property of the failure
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	// *url.Error itself satisfies net.Error whatever it wraps, so look at what it wraps.
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var ne net.Error
	// Timeouts, refused and reset connections, DNS failures; EOF when the server drops the connection.
	return errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// transportError wraps a failure that produced no HTTP response.
func transportError(method, path string, err error) *Error {
	kind := KindOther
	if isTransientCause(err) {
		kind = KindTransient
	}
	return &Error{Kind: kind, Method: method, Path: path, err: err}
}

// tokenError maps an identity-server failure. The description of an OAuth error is kept; the raw body is not
// copied into the message.
func tokenError(path string, err error) *Error {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		e := transportError(http.MethodPost, path, err)
		if e.Kind == KindOther && !errors.Is(err, context.Canceled) {
			e.Kind = KindAuth // malformed token responses: nothing a retry fixes
		}
		return e
	}
	e := &Error{Code: re.ErrorCode, Message: re.ErrorDescription, Method: http.MethodPost, Path: path, err: err}
	if re.Response != nil {
		e.Status = re.Response.StatusCode
	}
	switch {
	case e.Status == http.StatusTooManyRequests:
		e.Kind = KindRateLimited
		if re.Response != nil {
			e.RetryAfter = parseRetryAfter(re.Response.Header.Get("Retry-After"), time.Now())
		}
	case e.Status >= 500:
		e.Kind = KindTransient
	default:
		// invalid_grant, invalid_client, unauthorized_client, invalid_scope and friends: credentials are wrong
		// or revoked; retrying the same request cannot help.
		e.Kind = KindAuth
	}
	if e.Message == "" && e.Code == "" {
		e.Message = "token request failed"
	}
	return e
}
