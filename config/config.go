// Package config loads the worker's and starter's configuration: a YAML file for everything an operator may
// read aloud, environment variables for secrets, and the per-location mapping from Nexudus items to Salto KS
// access groups.
//
// A configuration error always names the field and the problem ("locations[0].salto_site: required"), so an
// operator can fix the file without reading code.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"time"

	"gopkg.in/yaml.v3"
)

// Environment variables that carry secrets. They override the file, which should not hold secrets at all.
const (
	EnvSaltoClientSecret    = "SALTO_CLIENT_SECRET"
	EnvSaltoPassword        = "SALTO_PASSWORD"
	EnvNexudusPassword      = "NEXUDUS_PASSWORD"
	EnvNexudusWebhookSecret = "NEXUDUS_WEBHOOK_SECRET"
	EnvNexudusWebhookToken  = "NEXUDUS_WEBHOOK_TOKEN"
	EnvTemporalAPIKey       = "TEMPORAL_API_KEY"
	EnvTemporalAddress      = "TEMPORAL_ADDRESS"
	EnvTemporalNamespace    = "TEMPORAL_NAMESPACE"
)

// NoAccessPolicy says what happens to a customer's Salto user once nothing entitles them to access.
type NoAccessPolicy string

const (
	PolicyKeep    NoAccessPolicy = "keep"
	PolicySuspend NoAccessPolicy = "suspend"
	PolicyDelete  NoAccessPolicy = "delete"
)

// Config is the whole configuration of a worker or starter.
type Config struct {
	Temporal  Temporal   `yaml:"temporal"`
	Salto     Salto      `yaml:"salto"`
	Nexudus   Nexudus    `yaml:"nexudus"`
	Webhooks  Webhooks   `yaml:"webhooks"`
	Sync      Sync       `yaml:"sync"`
	Codec     Codec      `yaml:"codec"`
	Metrics   Metrics    `yaml:"metrics"`
	Locations []Location `yaml:"locations"`
}

// Temporal says how to reach the Temporal service (a local server, a self-hosted cluster or Temporal Cloud).
type Temporal struct {
	Address   string `yaml:"address"`
	Namespace string `yaml:"namespace"`
	TaskQueue string `yaml:"task_queue"`
	// CustomerTaskQueue is where customer workflows (the Salto writers) run, with pollers of their own so that
	// their tasks never wait behind a backlog of entitlement tasks (default task_queue + "-customers").
	CustomerTaskQueue string `yaml:"customer_task_queue"`
	// BackgroundTaskQueue is where the Salto work no door waits for runs (the no-access policy's checks,
	// suspensions and deletions), served by BackgroundActivitySlots activities at once (default task_queue +
	// "-background", 4): thousands of such tasks then wait in Temporal, not in this process holding the
	// slots and the rate limit that grants and revokes need.
	BackgroundTaskQueue     string `yaml:"background_task_queue"`
	BackgroundActivitySlots int    `yaml:"background_activity_slots"`
	// MaxCachedWorkflows bounds the worker's sticky cache: the workflows it keeps in memory so that their next
	// task needs no replay (default 2000). Access workflows sleep for hours or days between tasks, so caching
	// every one of them saves little and costs about 45 kB each: 10,000 sleeping bookings took 500 MB with the
	// SDK's default of 10,000. A workflow not in the cache is replayed from its (short) history when it wakes.
	MaxCachedWorkflows int `yaml:"max_cached_workflows"`
	// APIKey authenticates to Temporal Cloud; from TEMPORAL_API_KEY only.
	APIKey string `yaml:"-"`
	TLS    TLS    `yaml:"tls"`
	// Encryption of every payload this process writes to Temporal (see Encryption).
	Encryption Encryption `yaml:"encryption"`
}

// TLS for the Temporal connection. Enabled with a CA, a client certificate (mTLS), or an API key.
type TLS struct {
	Enabled    bool   `yaml:"enabled"`
	CAFile     string `yaml:"ca_file"`
	CertFile   string `yaml:"cert_file"`
	KeyFile    string `yaml:"key_file"`
	ServerName string `yaml:"server_name"`
}

// Salto is the Salto KS Connect API account.
type Salto struct {
	APIURL            string   `yaml:"api_url"`
	TokenURL          string   `yaml:"token_url"`
	AuthorizeURL      string   `yaml:"authorize_url"`
	RedirectURL       string   `yaml:"redirect_url"`
	ClientID          string   `yaml:"client_id"`
	ClientSecret      string   `yaml:"-"`
	Scopes            []string `yaml:"scopes"`
	Username          string   `yaml:"username"`
	Password          string   `yaml:"-"`
	TokenFile         string   `yaml:"token_file"`
	RequestsPerSecond float64  `yaml:"requests_per_second"`
}

// Nexudus is the Nexudus API account and the webhook secrets.
type Nexudus struct {
	BaseURL           string `yaml:"base_url"`
	Username          string `yaml:"username"`
	Password          string `yaml:"-"`
	Auth              string `yaml:"auth"`
	TokenFile         string `yaml:"token_file"`
	RequestsPerMinute int    `yaml:"requests_per_minute"`
	// WritesPerMinute and WritesPerDay are the account's write limits (Nexudus documents 60/min and 2,500 or
	// 5,000 a day; the stricter figure by default).
	WritesPerMinute int `yaml:"writes_per_minute"`
	WritesPerDay    int `yaml:"writes_per_day"`
	// Budget is "shared" (default): every worker of the account reserves its calls from one budget workflow;
	// or "local": each process keeps requests_per_minute for itself (one worker, or tests of a single one).
	Budget        string `yaml:"budget"`
	WebhookSecret string `yaml:"-"`
	WebhookToken  string `yaml:"-"`
}

// Webhooks is the receiver the worker runs for Nexudus. Its limits are generous: Nexudus sends bursts, and
// disables a webhook after repeated non-2xx answers.
type Webhooks struct {
	Listen       string `yaml:"listen"`
	PathPrefix   string `yaml:"path_prefix"`
	MaxBodyBytes int64  `yaml:"max_body_bytes"`
	// ReadTimeout bounds reading one request, headers and body (default 10s): a client that trickles its
	// body is cut off. IdleTimeout closes an idle keep-alive connection (default 1m).
	ReadTimeout time.Duration `yaml:"read_timeout"`
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// MaxConcurrent requests are served at once (default 256); more are answered 503 with Retry-After.
	MaxConcurrent int `yaml:"max_concurrent"`
	// RatePerSecond and RateBurst limit the requests of one source address (default 50/s, burst 100); over
	// it, 429 with Retry-After. Negative: no limit (behind a proxy every request has the proxy's address).
	RatePerSecond float64 `yaml:"rate_per_second"`
	RateBurst     int     `yaml:"rate_burst"`
	// ReplayWindow: a delivery seen again within it is answered "duplicate" (default 10m; negative: off),
	// remembering at most ReplayCacheSize deliveries (default 50000).
	ReplayWindow    time.Duration `yaml:"replay_window"`
	ReplayCacheSize int           `yaml:"replay_cache_size"`
}

// ApplyDefaults fills the unset limits.
func (w *Webhooks) ApplyDefaults() {
	orDefault(&w.ReadTimeout, DefaultWebhookReadTimeout)
	orDefault(&w.IdleTimeout, time.Minute)
	orDefault(&w.MaxConcurrent, 256)
	orDefault(&w.RatePerSecond, 50)
	orDefault(&w.RateBurst, 100)
	orDefault(&w.ReplayWindow, 10*time.Minute)
	orDefault(&w.ReplayCacheSize, 50000)
}

func orDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// Location maps one Nexudus location (business) to one Salto KS site.
type Location struct {
	BusinessID int64  `yaml:"business_id"`
	Name       string `yaml:"name"`
	SaltoSite  string `yaml:"salto_site"`
	// TimeZone is the location's IANA zone, used for "end of the visitor's day".
	TimeZone string `yaml:"time_zone"`
	// GrantLead and RevokeLag: access this long before a booking, contract or visitor's day starts, and until
	// this long after it ends; the *_timing settings override them per kind (rules.Timing applies them).
	GrantLead      time.Duration  `yaml:"grant_lead"`
	RevokeLag      time.Duration  `yaml:"revoke_lag"`
	BookingTiming  Timing         `yaml:"booking_timing"`
	ContractTiming Timing         `yaml:"contract_timing"`
	VisitorTiming  Timing         `yaml:"visitor_timing"`
	NoAccessPolicy NoAccessPolicy `yaml:"no_access_policy"`
	// MobileAccess creates Salto users with their email (Salto invites them to the app); off: tag-only users.
	MobileAccess bool `yaml:"mobile_access"`
	VisitorPINs  bool `yaml:"visitor_pins"`
	// VisitorGroups receive every registered visitor for their expected day.
	VisitorGroups []string `yaml:"visitor_groups"`
	// Resources, Passes (TimePass product ids) and Desks (FloorPlanDesk ids) map to Salto access-group ids.
	Resources map[int64][]string `yaml:"resources"`
	Passes    map[int64][]string `yaml:"passes"`
	Desks     map[int64][]string `yaml:"desks"`
	// PresenceDoors are Salto lock ids whose entries check customers in and out of Nexudus: an entry checks
	// in, an exit (exit_requested) checks out.
	PresenceDoors []string `yaml:"presence_doors"`
	// PresenceExitDoors are Salto lock ids where every entry is an exit (a door that only lets people out).
	PresenceExitDoors []string `yaml:"presence_exit_doors"`
}

// Timing overrides a location's grant_lead and revoke_lag for one kind; unset (nil) keeps the location's.
type Timing struct {
	GrantLead *time.Duration `yaml:"grant_lead"`
	RevokeLag *time.Duration `yaml:"revoke_lag"`
}

// Load reads a YAML file, applies the secret environment variables and defaults, and validates.
func Load(path string) (*Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(raw, os.Getenv)
}

// Parse is Load without the file system; getenv supplies the secrets (os.Getenv in production).
func Parse(raw []byte, getenv func(string) string) (*Config, error) { return parse(raw, getenv, true) }

// ParseClient is Parse for tools that never receive webhooks (the starter): no webhook secret is required.
func ParseClient(raw []byte, getenv func(string) string) (*Config, error) {
	return parse(raw, getenv, false)
}

func parse(raw []byte, getenv func(string) string, webhooks bool) (*Config, error) {
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true) // a misspelt key is an error, not a silently ignored setting
	// io.EOF: an empty file is an empty configuration, which Validate then explains.
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("config: %w", err)
	}
	c.applyEnv(getenv)
	c.ApplyDefaults()
	if err := c.validate(webhooks, true); err != nil {
		return nil, err
	}
	return &c, nil
}

func (c *Config) applyEnv(getenv func(string) string) {
	set := func(dst *string, key string) {
		if v := getenv(key); v != "" {
			*dst = v
		}
	}
	set(&c.Salto.ClientSecret, EnvSaltoClientSecret)
	set(&c.Salto.Password, EnvSaltoPassword)
	set(&c.Nexudus.Password, EnvNexudusPassword)
	set(&c.Nexudus.WebhookSecret, EnvNexudusWebhookSecret)
	set(&c.Nexudus.WebhookToken, EnvNexudusWebhookToken)
	set(&c.Temporal.APIKey, EnvTemporalAPIKey)
	c.applyEncryptionEnv(getenv)
	// Not secrets, but deployments (containers) set them per environment.
	set(&c.Temporal.Address, EnvTemporalAddress)
	set(&c.Temporal.Namespace, EnvTemporalNamespace)
}

// Nexudus budget modes (nexudus.budget).
const (
	BudgetShared = "shared"
	BudgetLocal  = "local"
)

// Defaults follow `temporal server start-dev` and Nexudus' own integration (15 minutes lead and lag).
const (
	DefaultTemporalAddress    = "127.0.0.1:7233"
	DefaultNamespace          = "default"
	DefaultTaskQueue          = "access"
	DefaultLead               = 15 * time.Minute
	DefaultLag                = 15 * time.Minute
	DefaultWebhookListen      = "127.0.0.1:8090"
	DefaultWebhookPrefix      = "/webhooks/nexudus"
	DefaultMaxBodyBytes       = 1 << 20
	DefaultWebhookReadTimeout = 10 * time.Second // a body trickled in is cut off within 15 s

	// DefaultMaxCachedWorkflows keeps a worker near 100 MB however many workflows sleep (see MaxCachedWorkflows).
	DefaultMaxCachedWorkflows = 2000

	// DefaultBackgroundActivitySlots keep a few background Salto calls queued in the rate limit, enough to use
	// what doors leave of it (see BackgroundTaskQueue).
	DefaultBackgroundActivitySlots = 4
)

// ApplyDefaults fills every unset field that has a sensible default.
func (c *Config) ApplyDefaults() {
	if c.Temporal.Address == "" {
		c.Temporal.Address = DefaultTemporalAddress
	}
	if c.Temporal.Namespace == "" {
		c.Temporal.Namespace = DefaultNamespace
	}
	if c.Temporal.TaskQueue == "" {
		c.Temporal.TaskQueue = DefaultTaskQueue
	}
	if c.Temporal.CustomerTaskQueue == "" {
		c.Temporal.CustomerTaskQueue = c.Temporal.TaskQueue + "-customers"
	}
	if c.Temporal.BackgroundTaskQueue == "" {
		c.Temporal.BackgroundTaskQueue = c.Temporal.TaskQueue + "-background"
	}
	if c.Temporal.BackgroundActivitySlots == 0 {
		c.Temporal.BackgroundActivitySlots = DefaultBackgroundActivitySlots
	}
	if c.Temporal.MaxCachedWorkflows == 0 {
		c.Temporal.MaxCachedWorkflows = DefaultMaxCachedWorkflows
	}
	if len(c.Salto.Scopes) == 0 {
		c.Salto.Scopes = []string{"user_api.full_access", "offline_access"}
	}
	if c.Salto.RequestsPerSecond == 0 {
		c.Salto.RequestsPerSecond = 10
	}
	if c.Nexudus.Auth == "" {
		c.Nexudus.Auth = "bearer"
	}
	if c.Nexudus.RequestsPerMinute == 0 {
		c.Nexudus.RequestsPerMinute = 120
	}
	if c.Nexudus.WritesPerMinute == 0 {
		c.Nexudus.WritesPerMinute = 60
	}
	if c.Nexudus.WritesPerDay == 0 {
		c.Nexudus.WritesPerDay = 2500
	}
	if c.Nexudus.Budget == "" {
		c.Nexudus.Budget = BudgetShared
	}
	if c.Webhooks.Listen == "" {
		c.Webhooks.Listen = DefaultWebhookListen
	}
	if c.Webhooks.PathPrefix == "" {
		c.Webhooks.PathPrefix = DefaultWebhookPrefix
	}
	if c.Webhooks.MaxBodyBytes == 0 {
		c.Webhooks.MaxBodyBytes = DefaultMaxBodyBytes
	}
	c.Webhooks.ApplyDefaults()
	c.Sync.applyDefaults()
	c.Metrics.applyDefaults()
	for i := range c.Locations {
		l := &c.Locations[i]
		if l.GrantLead == 0 {
			l.GrantLead = DefaultLead
		}
		if l.RevokeLag == 0 {
			l.RevokeLag = DefaultLag
		}
		if l.NoAccessPolicy == "" {
			l.NoAccessPolicy = PolicySuspend
		}
		if l.TimeZone == "" {
			l.TimeZone = "UTC"
		}
	}
}

// Location returns the location for a Nexudus business id.
func (c *Config) Location(businessID int64) (*Location, bool) {
	for i := range c.Locations {
		if c.Locations[i].BusinessID == businessID {
			return &c.Locations[i], true
		}
	}
	return nil, false
}

// LocationIDs are the business ids of the configured locations, in configuration order.
func (c *Config) LocationIDs() []int64 {
	ids := make([]int64, len(c.Locations))
	for i, l := range c.Locations {
		ids[i] = l.BusinessID
	}
	return ids
}

// OwnedGroups lists every access group the mapping names: the only groups the integration may ever change.
func (l *Location) OwnedGroups() []string {
	set := map[string]bool{}
	for _, m := range []map[int64][]string{l.Resources, l.Passes, l.Desks} {
		for _, gs := range m {
			for _, g := range gs {
				set[g] = true
			}
		}
	}
	for _, g := range l.VisitorGroups {
		set[g] = true
	}
	out := make([]string, 0, len(set))
	for g := range set {
		out = append(out, g)
	}
	sort.Strings(out)
	return out
}

// Zone is the location's time zone (validated at load).
func (l *Location) Zone() *time.Location {
	z, err := time.LoadLocation(l.TimeZone)
	if err != nil {
		return time.UTC
	}
	return z
}

// String never prints secrets, so a Config can be logged when debugging.
func (c Config) String() string {
	red := func(s string) string {
		if s == "" {
			return ""
		}
		return "[redacted]"
	}
	c.Salto.ClientSecret = red(c.Salto.ClientSecret)
	c.Salto.Password = red(c.Salto.Password)
	c.Nexudus.Password = red(c.Nexudus.Password)
	c.Nexudus.WebhookSecret = red(c.Nexudus.WebhookSecret)
	c.Nexudus.WebhookToken = red(c.Nexudus.WebhookToken)
	c.Temporal.APIKey = red(c.Temporal.APIKey)
	c.Temporal.Encryption.Keys = red(c.Temporal.Encryption.Keys)
	c.Codec.Token = red(c.Codec.Token)
	type plain Config // no String method: avoids recursion
	return fmt.Sprintf("%+v", plain(c))
}
