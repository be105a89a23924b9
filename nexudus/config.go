package nexudus

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// Authentication modes for Config.Auth.
const (
	AuthBearer = "bearer"
	AuthBasic  = "basic"
)

// Defaults applied by New.
const (
	DefaultBaseURL           = "https://spaces.nexudus.com"
	DefaultMaxThrottleWait   = 30 * time.Second
	DefaultRequestsPerMinute = 120 // Nexudus' published guideline
	DefaultTimeout           = 30 * time.Second
)

// Config configures a Client. Printing it (fmt, %#v, slog) never shows the password.
type Config struct {
	// BaseURL is the Nexudus host, without /api (default DefaultBaseURL).
	BaseURL string
	// Username and Password of a Nexudus admin user.
	Username, Password string
	// Auth is AuthBearer (default: a token from /api/token, refreshed as needed) or
	// AuthBasic (HTTP Basic on every call).
	Auth string
	// TokenFile, if set, persists the bearer and refresh tokens (mode 0600, replaced
	// atomically) so restarts do not log in again.
	TokenFile string
	// MaxThrottleWait bounds the total time one call may spend waiting on Retry-After
	// after 409 answers (default 30s; negative: never wait).
	MaxThrottleWait time.Duration
	// RequestsPerMinute is the client-side call budget (default 120; negative: none).
	RequestsPerMinute int
	// Budget, when set, paces every call instead (a budget shared by all the clients of the account).
	Budget Budget
	// RateWaited, when set, is told how long each request waited for the budget (for a metric).
	RateWaited func(ctx context.Context, waited time.Duration)
	// Timeout bounds one HTTP attempt (default 30s).
	Timeout time.Duration
	// HTTPClient is used for every call, token requests included (default: a new
	// http.Client). It is not modified.
	HTTPClient *http.Client
}

func (c Config) withDefaults() (Config, error) {
	if c.BaseURL == "" {
		c.BaseURL = DefaultBaseURL
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	if !strings.HasPrefix(c.BaseURL, "http://") && !strings.HasPrefix(c.BaseURL, "https://") {
		return c, fmt.Errorf("nexudus: BaseURL %q must start with http:// or https://", c.BaseURL)
	}
	c.Auth = strings.ToLower(strings.TrimSpace(c.Auth))
	switch c.Auth {
	case "":
		c.Auth = AuthBearer
	case AuthBearer, AuthBasic:
	default:
		return c, fmt.Errorf("nexudus: Auth %q is neither %q nor %q", c.Auth, AuthBearer, AuthBasic)
	}
	if c.Username == "" || c.Password == "" {
		return c, fmt.Errorf("nexudus: Username and Password are required")
	}
	if c.MaxThrottleWait == 0 {
		c.MaxThrottleWait = DefaultMaxThrottleWait
	}
	if c.RequestsPerMinute == 0 {
		c.RequestsPerMinute = DefaultRequestsPerMinute
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{}
	}
	return c, nil
}

func redact(s string) string {
	if s == "" {
		return `""`
	}
	return redacted
}

// String prints the configuration with the password redacted.
func (c Config) String() string {
	return fmt.Sprintf("nexudus.Config{BaseURL:%q Username:%q Password:%s Auth:%q TokenFile:%q MaxThrottleWait:%s RequestsPerMinute:%d Timeout:%s}",
		c.BaseURL, c.Username, redact(c.Password), c.Auth, c.TokenFile, c.MaxThrottleWait, c.RequestsPerMinute, c.Timeout)
}

// GoString keeps %#v redacted.
func (c Config) GoString() string { return c.String() }

// LogValue keeps slog redacted.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("base_url", c.BaseURL),
		slog.String("username", c.Username),
		slog.String("password", redact(c.Password)),
		slog.String("auth", c.Auth),
		slog.String("token_file", c.TokenFile),
		slog.Duration("max_throttle_wait", c.MaxThrottleWait),
		slog.Int("requests_per_minute", c.RequestsPerMinute),
		slog.Duration("timeout", c.Timeout),
	)
}
