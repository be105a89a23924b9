package salto

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultScopes are requested when Config.Scopes is empty: the API scope, and offline_access so the identity
// server issues a refresh token.
var DefaultScopes = []string{"user_api.full_access", "offline_access"}

// DefaultTimeout bounds one API call, token refresh included, when Config.Timeout is zero.
const DefaultTimeout = 30 * time.Second

// Config configures a Client. Hosts are configuration, never code: the shared API notes list the accept and
// production hosts.
type Config struct {
	APIURL       string // Connect API base, e.g. https://clp-accept-user.my-clay.com
	TokenURL     string // {identity}/connect/token
	AuthorizeURL string // {identity}/connect/authorize; needed only for the authorization-code flow
	ClientID     string
	ClientSecret string
	Scopes       []string // default DefaultScopes

	// Username and Password select the password grant for a KS "system user". Optional: without them the
	// client needs a refresh token stored in TokenFile by Connect.
	Username string
	Password string

	RedirectURL string // authorization-code flow callback, e.g. http://127.0.0.1:8765/callback
	TokenFile   string // where the refresh token lives; empty keeps tokens in memory only

	RequestsPerSecond float64       // client-side rate limit; 0 = unlimited
	Timeout           time.Duration // per API request, not counting the wait for the rate limit; 0 = DefaultTimeout
	HTTPClient        *http.Client  // optional; never modified
	// RateWaited, when set, is told how long each request waited for the rate limit (for a metric).
	RateWaited func(ctx context.Context, waited time.Duration)
}

const redacted = "[redacted]"

func redact(s string) string {
	if s == "" {
		return ""
	}
	return redacted
}

// String prints the configuration with the client secret and the password redacted, so a Config can be logged.
func (c Config) String() string {
	return fmt.Sprintf("salto.Config{APIURL:%q TokenURL:%q AuthorizeURL:%q ClientID:%q ClientSecret:%q "+
		"Scopes:%q Username:%q Password:%q RedirectURL:%q TokenFile:%q RequestsPerSecond:%g Timeout:%s}",
		c.APIURL, c.TokenURL, c.AuthorizeURL, c.ClientID, redact(c.ClientSecret), c.Scopes, c.Username,
		redact(c.Password), c.RedirectURL, c.TokenFile, c.RequestsPerSecond, c.Timeout)
}

// GoString keeps %#v from printing the secrets.
func (c Config) GoString() string { return c.String() }

// LogValue keeps slog from printing the secrets.
func (c Config) LogValue() slog.Value { return slog.StringValue(c.String()) }

func (c Config) scopes() []string {
	if len(c.Scopes) == 0 {
		return DefaultScopes
	}
	return c.Scopes
}

func (c Config) timeout() time.Duration {
	if c.Timeout <= 0 {
		return DefaultTimeout
	}
	return c.Timeout
}

func parseAbsURL(name, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("salto: %s must be an absolute http(s) URL", name)
	}
	return u, nil
}

func (c Config) validate() (*url.URL, error) {
	api, err := parseAbsURL("APIURL", c.APIURL)
	if err != nil {
		return nil, err
	}
	api.Path = strings.TrimRight(api.Path, "/")
	if _, err := parseAbsURL("TokenURL", c.TokenURL); err != nil {
		return nil, err
	}
	if c.AuthorizeURL != "" {
		if _, err := parseAbsURL("AuthorizeURL", c.AuthorizeURL); err != nil {
			return nil, err
		}
	}
	if c.ClientID == "" {
		return nil, errors.New("salto: ClientID is required")
	}
	if c.Username != "" && c.Password == "" {
		return nil, errors.New("salto: Password is required with Username")
	}
	if c.RequestsPerSecond < 0 {
		return nil, errors.New("salto: RequestsPerSecond must not be negative")
	}
	return api, nil
}
