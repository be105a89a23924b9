package nexudus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Error is a failed Nexudus call: an HTTP error status, a write that Nexudus refused
// (WasSuccessful false), throttling that outlasted Config.MaxThrottleWait, or a network
// failure (Status 0, Err set).
type Error struct {
	Method string
	Path   string // without the query string, which may hold personal data
	// Status is the HTTP status, or the write response's Status when Nexudus answered
	// 200 with WasSuccessful false; 0 for network failures.
	Status  int
	Message string
	// RetryAfter is the wait Nexudus last asked for (throttling).
	RetryAfter time.Duration
	// Throttled is set for 409 (Nexudus' throttling status) and 429.
	Throttled bool
	Errors    []FieldError
	// Err is the underlying transport error, if any.
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("nexudus: ")
	if e.Method != "" {
		fmt.Fprintf(&b, "%s %s: ", e.Method, e.Path)
	}
	switch {
	case e.Status == 0 && e.Err != nil:
		b.WriteString(e.Err.Error())
		return b.String()
	case e.Status != 0:
		b.WriteString(strconv.Itoa(e.Status))
		if t := http.StatusText(e.Status); t != "" {
			b.WriteString(" " + t)
		}
	}
	if e.Throttled {
		fmt.Fprintf(&b, " (throttled, retry after %s)", e.RetryAfter)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	for i, fe := range e.Errors {
		if i == 0 {
			b.WriteString(" [")
		} else {
			b.WriteString("; ")
		}
		if fe.PropertyName != "" {
			b.WriteString(fe.PropertyName + ": ")
		}
		b.WriteString(fe.Message)
		if i == len(e.Errors)-1 {
			b.WriteString("]")
		}
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// IsNotFound reports a 404.
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusNotFound
}

// IsThrottled reports a call that stayed throttled (409/429) beyond MaxThrottleWait.
func IsThrottled(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Throttled
}

// IsUnauthorized reports a 401 or 403, or a token request Nexudus refused.
func IsUnauthorized(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	refused := e.Path == TokenPath && e.Status >= 400 && e.Status < 500 && !e.Throttled
	return refused || e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden
}

// RetryAfter is the wait Nexudus asked for, or 0.
func RetryAfter(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}

// IsRetryable reports errors worth retrying later: throttling, 5xx, 408, and network
// failures (including an attempt that ran past Config.Timeout). A cancelled or expired
// caller context is not retryable here: the caller decided to stop.
func IsRetryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	return e.Throttled || e.Status >= 500 || e.Status == http.StatusRequestTimeout || (e.Status == 0 && e.Err != nil)
}

// errAttemptTimeout is the Err of a single attempt that ran past Config.Timeout while
// the caller's context was still alive. It deliberately does not wrap
// context.DeadlineExceeded, which would read as the caller's own deadline.
var errAttemptTimeout = errors.New("request timed out")

// parseRetryAfter reads Retry-After as seconds or an HTTP date; def when absent or
// unreadable.
func parseRetryAfter(h string, now time.Time, def time.Duration) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return def
	}
	if s, err := strconv.ParseFloat(h, 64); err == nil && s >= 0 {
		return time.Duration(s * float64(time.Second))
	}
	if t, err := http.ParseTime(h); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
		return 0
	}
	return def
}

// errorBody is the union of the error shapes Nexudus answers with: a write response,
// an ASP.NET {"Message"} body, or an OAuth {"error","error_description"} body.
type errorBody struct {
	Status           int          `json:"Status"`
	Message          string       `json:"Message"`
	ExceptionMessage string       `json:"ExceptionMessage"`
	Errors           []FieldError `json:"Errors"`
	OAuthError       string       `json:"error"`
	OAuthDescription string       `json:"error_description"`
}

func newHTTPError(method, path string, status int, body []byte) *Error {
	e := &Error{Method: method, Path: path, Status: status}
	var eb errorBody
	if json.Unmarshal(body, &eb) == nil {
		e.Message = eb.Message
		if e.Message == "" {
			e.Message = eb.ExceptionMessage
		}
		if e.Message == "" && eb.OAuthError != "" {
			e.Message = strings.TrimSpace(eb.OAuthError + " " + eb.OAuthDescription)
		}
		e.Errors = eb.Errors
	} else if s := strings.TrimSpace(string(body)); s != "" && !strings.HasPrefix(s, "<") {
		e.Message = truncate(s, 200)
	}
	return e
}
