package nexudus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/go-resty/resty/v2"
	"golang.org/x/time/rate"

	"github.com/nexsalto/nexsalto/internal/pause"
)

// Client is a Nexudus REST client. It is safe for concurrent use.
type Client struct {
	cfg     Config
	rc      *resty.Client
	limiter *rate.Limiter // nil: no client-side budget
	tokens  *tokenSource  // nil in Basic mode
	now     func() time.Time
}

// maxThrottleRetries stops a server that answers 409 with "Retry-After: 0" forever.
const maxThrottleRetries = 100

// maxResponseBytes bounds a response body; the largest legitimate one is a page of
// records.
const maxResponseBytes = 64 << 20

// New builds a Client. It makes no network call; the first call logs in.
func New(cfg Config) (*Client, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	c := &Client{cfg: cfg, now: time.Now}
	c.rc = resty.NewWithClient(cfg.HTTPClient).
		SetBaseURL(cfg.BaseURL).
		SetHeader("Accept", "application/json").
		SetHeader("User-Agent", "nexsalto-nexudus").
		SetDisableWarn(true).
		SetLogger(discardLogger{}).
		SetResponseBodyLimit(maxResponseBytes)
	if cfg.RequestsPerMinute > 0 {
		// No burst: Nexudus counts calls in a sliding minute, so a bucket that saved a burst while idle would
		// spend it on top of a minute already full, which Nexudus answers with 409 and Retry-After.
		c.limiter = rate.NewLimiter(rate.Every(CallInterval(cfg.RequestsPerMinute)), 1)
	}
	if cfg.Auth == AuthBearer {
		c.tokens = newTokenSource(cfg, c.now)
	}
	return c, nil
}

// String identifies the client without its credentials.
func (c *Client) String() string {
	return fmt.Sprintf("nexudus.Client{%s %s as %q}", c.cfg.BaseURL, c.cfg.Auth, c.cfg.Username)
}

// Config returns the effective configuration (defaults applied).
func (c *Client) Config() Config { return c.cfg }

// TokenFileError is the last failure to write Config.TokenFile, or nil.
func (c *Client) TokenFileError() error {
	if c.tokens == nil {
		return nil
	}
	return c.tokens.lastFileError()
}

// discardLogger keeps resty quiet: its messages can echo request details.
type discardLogger struct{}

func (discardLogger) Errorf(string, ...any) {}
func (discardLogger) Warnf(string, ...any)  {}
func (discardLogger) Debugf(string, ...any) {}

// do performs one logical call: it waits for the client-side budget, authenticates,
// renews the token once on a 401, waits out 409 throttling within MaxThrottleWait, and
// decodes a 2xx body into out (when out is not nil).
func (c *Client) do(ctx context.Context, method, path string, q url.Values, body, out any) error {
	var waited time.Duration
	reauthenticated := false
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		asked := time.Now()
		if c.cfg.Budget != nil {
			if err := c.cfg.Budget.Wait(ctx, method != http.MethodGet); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return fmt.Errorf("nexudus: %s %s: %w", method, path, err)
			}
		} else if c.limiter != nil {
			if err := c.limiter.Wait(ctx); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return fmt.Errorf("nexudus: %s %s: client-side call budget: %w", method, path, err)
			}
		}
		if c.cfg.RateWaited != nil {
			c.cfg.RateWaited(ctx, time.Since(asked))
		}
		resp, bearer, err := c.attempt(ctx, method, path, q, body)
		if err != nil {
			var e *Error
			if errors.As(err, &e) && e.Throttled { // the token endpoint throttled us
				if werr := c.waitThrottle(ctx, e, &waited, attempt); werr != nil {
					return werr
				}
				continue
			}
			return err
		}
		status := resp.StatusCode()
		switch {
		case status == http.StatusUnauthorized && c.tokens != nil && !reauthenticated:
			// The token expired early or was revoked: renew once.
			c.tokens.invalidate(bearer)
			reauthenticated = true
			continue
		case status == http.StatusConflict || status == http.StatusTooManyRequests:
			e := newHTTPError(method, path, status, resp.Body())
			e.Throttled = true
			e.RetryAfter = parseRetryAfter(resp.Header().Get("Retry-After"), c.now(), time.Second)
			if werr := c.waitThrottle(ctx, e, &waited, attempt); werr != nil {
				return werr
			}
			continue
		case status < 200 || status > 299:
			return newHTTPError(method, path, status, resp.Body())
		}
		if out == nil {
			return nil
		}
		if err := json.Unmarshal(resp.Body(), out); err != nil {
			return &Error{Method: method, Path: path, Status: status, Message: "decoding response: " + err.Error()}
		}
		return nil
	}
}

// waitThrottle sleeps for e.RetryAfter when the call's total throttle wait stays within
// MaxThrottleWait, and returns e otherwise.
func (c *Client) waitThrottle(ctx context.Context, e *Error, waited *time.Duration, attempt int) error {
	if c.cfg.MaxThrottleWait < 0 || *waited+e.RetryAfter > c.cfg.MaxThrottleWait || attempt >= maxThrottleRetries {
		return e
	}
	if err := pause.For(ctx, e.RetryAfter); err != nil {
		return err
	}
	*waited += e.RetryAfter
	return nil
}

// attempt sends one HTTP request. It returns the bearer token it used so that a 401
// invalidates exactly that token.
func (c *Client) attempt(ctx context.Context, method, path string, q url.Values, body any) (*resty.Response, string, error) {
	actx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req := c.rc.R().SetContext(actx)
	var bearer string
	if c.tokens != nil {
		tok, err := c.tokens.token(ctx)
		if err != nil {
			return nil, "", err
		}
		bearer = tok
		req.SetAuthToken(tok)
	} else {
		req.SetBasicAuth(c.cfg.Username, c.cfg.Password)
	}
	if len(q) > 0 {
		req.SetQueryParamsFromValues(q)
	}
	if body != nil {
		req.SetHeader("Content-Type", "application/json").SetBody(body)
	}
	resp, err := req.Execute(method, path)
	if err != nil {
		if ctx.Err() != nil {
			return nil, "", ctx.Err()
		}
		if actx.Err() != nil {
			err = errAttemptTimeout
		}
		return nil, "", &Error{Method: method, Path: path, Err: err}
	}
	return resp, bearer, nil
}

// get decodes GET path into out.
func (c *Client) get(ctx context.Context, path string, q url.Values, out any) error {
	return c.do(ctx, http.MethodGet, path, q, nil, out)
}

// write sends a POST/PUT/DELETE and checks the write response. It returns the id
// Nexudus reports in Value.Id (0 when absent).
func (c *Client) write(ctx context.Context, method, path string, body any) (int, error) {
	var wr WriteResponse
	if err := c.do(ctx, method, path, nil, body, &wr); err != nil {
		return 0, err
	}
	if !wr.WasSuccessful {
		status := wr.Status
		if status < 400 {
			status = http.StatusBadRequest
		}
		return 0, &Error{Method: method, Path: path, Status: status, Message: wr.Message, Errors: wr.Errors}
	}
	if wr.Value == nil {
		return 0, nil
	}
	return wr.Value.Id, nil
}

func getByID[T any](ctx context.Context, c *Client, path string, id int) (T, error) {
	var out T
	if id <= 0 {
		return out, fmt.Errorf("nexudus: GET %s: invalid id %d", path, id)
	}
	err := c.get(ctx, fmt.Sprintf("%s/%d", path, id), nil, &out)
	return out, err
}

func (c *Client) create(ctx context.Context, path string, body any) (int, error) {
	id, err := c.write(ctx, http.MethodPost, path, body)
	if err == nil && id == 0 {
		return 0, &Error{Method: http.MethodPost, Path: path, Status: http.StatusOK, Message: "write response carries no Value.Id"}
	}
	return id, err
}

// update PUTs the whole record to the collection path; Nexudus takes the Id from the
// body. Send a record read with Get: list records are partial, and the fields they
// lack would be cleared.
func (c *Client) update(ctx context.Context, path string, id int, body any) error {
	if id <= 0 {
		return fmt.Errorf("nexudus: PUT %s: record has no Id", path)
	}
	_, err := c.write(ctx, http.MethodPut, path, body)
	return err
}

func (c *Client) remove(ctx context.Context, path string, id int) error {
	if id <= 0 {
		return fmt.Errorf("nexudus: DELETE %s: invalid id %d", path, id)
	}
	_, err := c.write(ctx, http.MethodDelete, fmt.Sprintf("%s/%d", path, id), nil)
	return err
}
