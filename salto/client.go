package salto

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-resty/resty/v2"
	"golang.org/x/oauth2"
)

// Client calls the Salto KS Connect API. It is safe for concurrent use.
//
// The client does not retry: retries belong to the caller (Temporal activities), which knows the deadline and
// can honour Retry-After (see Error, IsRetryable, RetryAfter). The only repeat is the single retry after a 401,
// with a freshly refreshed token.
type Client struct {
	cfg     Config
	api     *url.URL
	http    *resty.Client
	limiter *pacer
	oauth   *oauth2.Config
	tokens  *tokenManager
	now     func() time.Time
	lastOK  atomic.Int64 // unix nanoseconds of the last 2xx
}

// quietLogger drops resty's log lines: they can carry request URLs, and the client reports through errors.
type quietLogger struct{}

func (quietLogger) Errorf(string, ...any) {}
func (quietLogger) Warnf(string, ...any)  {}
func (quietLogger) Debugf(string, ...any) {}

// New checks the configuration and builds a client. It makes no network call: tokens are obtained on first use.
func New(cfg Config) (*Client, error) {
	api, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	// Copies, because resty installs its redirect policy on the client it is given.
	restyHC, tokenHC := &http.Client{}, &http.Client{}
	if cfg.HTTPClient != nil {
		c1, c2 := *cfg.HTTPClient, *cfg.HTTPClient
		restyHC, tokenHC = &c1, &c2
	}
	oc := &oauth2.Config{
		ClientID:     cfg.ClientID,
		ClientSecret: cfg.ClientSecret,
		Endpoint: oauth2.Endpoint{
			AuthURL:   cfg.AuthorizeURL,
			TokenURL:  cfg.TokenURL,
			AuthStyle: oauth2.AuthStyleInHeader, // client id and secret as HTTP Basic, as the identity server wants
		},
		RedirectURL: cfg.RedirectURL,
		Scopes:      cfg.scopes(),
	}
	c := &Client{
		cfg:   cfg,
		api:   api,
		http:  resty.NewWithClient(restyHC).SetLogger(quietLogger{}).SetDisableWarn(true),
		oauth: oc,
		now:   time.Now,
	}
	if cfg.RequestsPerSecond > 0 {
		c.limiter = newPacer(cfg.RequestsPerSecond, time.Now)
	}
	c.tokens = &tokenManager{
		oauth:    oc,
		username: cfg.Username,
		password: cfg.Password,
		hc:       tokenHC,
		now:      func() time.Time { return c.now() },
		sem:      make(chan struct{}, 1),
	}
	if cfg.TokenFile != "" {
		c.tokens.store = NewTokenStore(cfg.TokenFile)
	}
	return c, nil
}

// query is an ordered list of OData options. Keys go out as written ("$filter"); values are escaped with %20
// for spaces, which every OData server reads, where "+" is not universally understood.
type query [][2]string

func (q query) encode() string {
	parts := make([]string, 0, len(q))
	for _, kv := range q {
		parts = append(parts, kv[0]+"="+strings.ReplaceAll(url.QueryEscape(kv[1]), "+", "%20"))
	}
	return strings.Join(parts, "&")
}

// odataString quotes a string literal: a quote inside is doubled.
func odataString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// pathf builds an API path, escaping every id.
func pathf(format string, ids ...string) string {
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = url.PathEscape(id)
	}
	return fmt.Sprintf(format, args...)
}

func (c *Client) endpoint(path string, q query) *url.URL {
	u := *c.api
	u.RawPath = c.api.EscapedPath() + path  // path segments are escaped by pathf
	u.Path, _ = url.PathUnescape(u.RawPath) // cannot fail: every segment was produced by url.PathEscape
	u.RawQuery = q.encode()
	return &u
}

func requireIDs(method, path string, ids ...string) error {
	for _, id := range ids {
		if strings.TrimSpace(id) == "" {
			return &Error{Kind: KindValidation, Method: method, Path: path, Message: "an id argument is empty"}
		}
	}
	return nil
}

// call does one API request: rate limit, bearer token, and one retry with a refreshed token after a 401.
// body, when not nil, is sent as JSON. The response is returned only for 2xx statuses.
//
// Timeout bounds each request, not the wait for a slot of the client-side rate limit before it: only ctx
// bounds that. A burst of calls (a thousand grants due at one instant, at 20 requests a second) then queues
// for as long as the caller allows, instead of failing every call that would wait more than Timeout and
// leaving the slots of the next seconds unused while the callers back off.
func (c *Client) call(ctx context.Context, method string, u *url.URL, body any) (*resty.Response, error) {
	path := u.Path
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return nil, &Error{Kind: KindValidation, Method: method, Path: path, Message: "encoding the body failed",
				err: err}
		}
	}
	rejected := ""
	for attempt := 0; ; attempt++ {
		if c.limiter != nil {
			asked := time.Now()
			if err := c.limiter.wait(ctx); err != nil {
				e := transportError(method, path, err)
				if !errors.Is(err, context.Canceled) {
					e.Kind = KindTransient // the deadline is too close for the next slot; later it may fit
				}
				return nil, e
			}
			if c.cfg.RateWaited != nil {
				c.cfg.RateWaited(ctx, time.Since(asked))
			}
		}
		rctx, cancel := context.WithTimeout(ctx, c.cfg.timeout())
		tok, err := c.tokens.accessToken(rctx, rejected)
		if err != nil {
			cancel()
			return nil, err
		}
		req := c.http.R().SetContext(rctx).SetAuthToken(tok.AccessToken).SetHeader("Accept", "application/json")
		if payload != nil {
			req.SetHeader("Content-Type", "application/json").SetBody(payload)
		}
		resp, err := req.Execute(method, u.String())
		cancel() // resty has read the whole body by the time Execute returns
		if err != nil {
			e := transportError(method, path, err)
			e.SaltoUp = c.up()
			return nil, e
		}
		status := resp.StatusCode()
		if status == http.StatusUnauthorized && attempt == 0 {
			rejected = tok.AccessToken // revoked or expired early on the server: refresh once and repeat
			continue
		}
		if status < 200 || status > 299 {
			e := responseError(method, path, status, resp.Header(), resp.Body(), c.now())
			e.SaltoUp = c.up()
			return nil, e
		}
		c.lastOK.Store(time.Now().UnixNano())
		return resp, nil
	}
}

// up reports a success of any call within the last two seconds.
func (c *Client) up() bool {
	return time.Since(time.Unix(0, c.lastOK.Load())) < 2*time.Second
}

// do runs call and decodes a JSON response into out (when out is not nil).
func (c *Client) do(ctx context.Context, method string, u *url.URL, body, out any) error {
	resp, err := c.call(ctx, method, u, body)
	if err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(resp.Body(), out); err != nil {
		return &Error{Kind: KindOther, Status: resp.StatusCode(), Method: method, Path: u.Path,
			Message: "unexpected response body", err: err}
	}
	return nil
}

// TokenSource shares the client's tokens (cache, refresh, persistence) with other transports to the same
// tenant, such as the SignalR entry stream, which takes the same bearer token. ctx bounds each token request.
func (c *Client) TokenSource(ctx context.Context) oauth2.TokenSource {
	return clientTokenSource{ctx: ctx, c: c}
}

type clientTokenSource struct {
	ctx context.Context
	c   *Client
}

func (s clientTokenSource) Token() (*oauth2.Token, error) {
	ctx, cancel := context.WithTimeout(s.ctx, s.c.cfg.timeout())
	defer cancel()
	return s.c.tokens.accessToken(ctx, "")
}
