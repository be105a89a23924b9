package config

import (
	"fmt"
	"net"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// FieldError names the offending field in YAML terms.
type FieldError struct {
	Field   string
	Problem string
}

func (e *FieldError) Error() string { return "config: " + e.Field + ": " + e.Problem }

// Errors collects every problem, so one run shows the operator all of them.
type Errors []*FieldError

func (es Errors) Error() string {
	msgs := make([]string, len(es))
	for i, e := range es {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

// Validate checks the configuration and reports every problem with its field.
// A configuration built in code may leave temporal.encryption unset; a file may not (see Encryption).
func (c *Config) Validate() error { return c.validate(true, false) }

func (c *Config) validate(webhooks, fromFile bool) error {
	var errs Errors
	bad := func(field, format string, args ...any) {
		errs = append(errs, &FieldError{Field: field, Problem: fmt.Sprintf(format, args...)})
	}
	if c.Temporal.TLS.CertFile != "" && c.Temporal.TLS.KeyFile == "" {
		bad("temporal.tls.key_file", "required with cert_file")
	}
	if c.Temporal.BackgroundActivitySlots < 1 {
		bad("temporal.background_activity_slots", "%d: at least 1", c.Temporal.BackgroundActivitySlots)
	}
	if q := c.Temporal.BackgroundTaskQueue; q == c.Temporal.TaskQueue || q == c.Temporal.CustomerTaskQueue {
		bad("temporal.background_task_queue", "%q: a queue of its own (its few slots would hold back the "+
			"workflows of that queue)", q)
	}
	if c.Temporal.MaxCachedWorkflows < 1 {
		bad("temporal.max_cached_workflows", "%d: at least 1", c.Temporal.MaxCachedWorkflows)
	}
	if c.Salto.APIURL == "" {
		bad("salto.api_url", "required")
	}
	if c.Salto.TokenURL == "" {
		bad("salto.token_url", "required")
	}
	if c.Salto.ClientID == "" {
		bad("salto.client_id", "required")
	}
	if c.Salto.Username != "" && c.Salto.Password == "" {
		bad("salto.username", "set, but %s is empty (the password grant needs both)", EnvSaltoPassword)
	}
	if c.Salto.Username == "" && c.Salto.TokenFile == "" {
		bad("salto.token_file", "required when salto.username is empty (run `starter connect salto` to fill it)")
	}
	if c.Salto.RequestsPerSecond < 0 {
		bad("salto.requests_per_second", "must not be negative")
	}
	if c.Nexudus.BaseURL == "" {
		bad("nexudus.base_url", "required")
	}
	// Passwords, tokens and access PINs travel on these: plain HTTP only to this machine (simulators, tests).
	for field, u := range map[string]string{"salto.api_url": c.Salto.APIURL, "salto.token_url": c.Salto.TokenURL,
		"salto.authorize_url": c.Salto.AuthorizeURL, "nexudus.base_url": c.Nexudus.BaseURL} {
		if problem := checkVendorURL(u); problem != "" {
			bad(field, "%s", problem)
		}
	}
	if c.Nexudus.Username == "" {
		bad("nexudus.username", "required")
	}
	if c.Nexudus.Password == "" {
		bad("nexudus.password", "empty: set %s", EnvNexudusPassword)
	}
	if c.Nexudus.Auth != "bearer" && c.Nexudus.Auth != "basic" {
		bad("nexudus.auth", "%q is neither bearer nor basic", c.Nexudus.Auth)
	}
	if webhooks && c.Nexudus.WebhookSecret == "" && c.Nexudus.WebhookToken == "" {
		bad("nexudus.webhook_secret", "set %s (HMAC signatures) or %s (a secret URL token): webhooks must be authenticated",
			EnvNexudusWebhookSecret, EnvNexudusWebhookToken)
	}
	if !strings.HasPrefix(c.Webhooks.PathPrefix, "/") {
		bad("webhooks.path_prefix", "%q must start with /", c.Webhooks.PathPrefix)
	}
	if c.Webhooks.MaxBodyBytes < 1024 {
		bad("webhooks.max_body_bytes", "%d is too small (at least 1024)", c.Webhooks.MaxBodyBytes)
	}
	c.Webhooks.validate(bad)
	c.Metrics.validate(c.Webhooks.Listen, bad)
	c.validateEncryption(bad, fromFile)
	if c.Sync.PollInterval < time.Second {
		bad("sync.poll_interval", "%s is shorter than 1s", c.Sync.PollInterval)
	}
	if b := c.Nexudus.Budget; b != BudgetShared && b != BudgetLocal {
		bad("nexudus.budget", "%q is not shared or local", b)
	}
	if c.Nexudus.WritesPerMinute < 0 || c.Nexudus.WritesPerDay < 0 {
		bad("nexudus.writes_per_minute", "write limits must not be negative")
	}
	switch rpm := c.Nexudus.RequestsPerMinute; {
	case c.Sync.PollCallsPerMinute < 1:
		bad("sync.poll_calls_per_minute", "%d: at least 1", c.Sync.PollCallsPerMinute)
	case rpm > 0 && c.Sync.PollCallsPerMinute > rpm:
		bad("sync.poll_calls_per_minute", "%d is more than nexudus.requests_per_minute (%d)", c.Sync.PollCallsPerMinute, rpm)
	}
	if c.Sync.PollLookback < 0 {
		bad("sync.poll_lookback", "must not be negative")
	}
	if c.Sync.PollPageSize < 1 || c.Sync.PollPageSize > 1000 {
		bad("sync.poll_page_size", "%d is outside 1..1000", c.Sync.PollPageSize)
	}
	if c.Sync.ReconcileInterval < time.Second {
		bad("sync.reconcile_interval", "%s is shorter than 1s", c.Sync.ReconcileInterval)
	}
	if c.Sync.ReconcileBatch < 1 || c.Sync.ReconcileBatch > 5000 {
		bad("sync.reconcile_batch", "%d is outside 1..5000", c.Sync.ReconcileBatch)
	}
	if c.Sync.ReconcilePolicyLimit < 1 {
		bad("sync.reconcile_policy_limit", "%d: at least 1", c.Sync.ReconcilePolicyLimit)
	}
	if c.Sync.PolicyRepairsPerSecond <= 0 {
		bad("sync.policy_repairs_per_second", "%g: more than 0", c.Sync.PolicyRepairsPerSecond)
	}
	if c.Sync.PresenceInterval < time.Second {
		bad("sync.presence_interval", "%s is shorter than 1s", c.Sync.PresenceInterval)
	}
	if len(c.Locations) == 0 {
		bad("locations", "at least one location is required")
	}
	seen := map[int64]int{}
	for i, l := range c.Locations {
		f := "locations[" + strconv.Itoa(i) + "]"
		if l.BusinessID <= 0 {
			bad(f+".business_id", "required (the Nexudus business id)")
		} else if j, dup := seen[l.BusinessID]; dup {
			bad(f+".business_id", "%d is also locations[%d]", l.BusinessID, j)
		}
		seen[l.BusinessID] = i
		if l.SaltoSite == "" {
			bad(f+".salto_site", "required (the Salto site UUID, not its site_uid)")
		}
		if _, err := time.LoadLocation(l.TimeZone); err != nil {
			bad(f+".time_zone", "%q is not an IANA time zone", l.TimeZone)
		}
		inRange := func(field string, d *time.Duration) {
			if d != nil && (*d < 0 || *d > 24*time.Hour) {
				bad(f+"."+field, "%s is outside 0..24h", *d)
			}
		}
		inRange("grant_lead", &l.GrantLead)
		inRange("revoke_lag", &l.RevokeLag)
		for name, t := range map[string]Timing{"booking_timing": l.BookingTiming, "contract_timing": l.ContractTiming,
			"visitor_timing": l.VisitorTiming} {
			inRange(name+".grant_lead", t.GrantLead)
			inRange(name+".revoke_lag", t.RevokeLag)
		}
		switch l.NoAccessPolicy {
		case PolicyKeep, PolicySuspend, PolicyDelete:
		default:
			bad(f+".no_access_policy", "%q is not keep, suspend or delete", l.NoAccessPolicy)
		}
		for name, doors := range map[string][]string{"presence_doors": l.PresenceDoors, "presence_exit_doors": l.PresenceExitDoors} {
			for j, d := range doors {
				if strings.TrimSpace(d) == "" {
					bad(fmt.Sprintf("%s.%s[%d]", f, name, j), "empty lock id")
				}
			}
		}
		if len(l.PresenceExitDoors) > 0 && len(l.PresenceDoors) == 0 {
			bad(f+".presence_doors", "required when presence_exit_doors is set")
		}
		if l.VisitorPINs && len(l.VisitorGroups) == 0 {
			bad(f+".visitor_groups", "required when visitor_pins is on")
		}
		for name, m := range map[string]map[int64][]string{"resources": l.Resources, "passes": l.Passes, "desks": l.Desks} {
			for _, id := range sortedKeys(m) {
				if len(m[id]) == 0 {
					bad(fmt.Sprintf("%s.%s[%d]", f, name, id), "maps to no access group")
				}
				for _, g := range m[id] {
					if strings.TrimSpace(g) == "" {
						bad(fmt.Sprintf("%s.%s[%d]", f, name, id), "has an empty access-group id")
					}
				}
			}
		}
	}
	if len(errs) == 0 {
		return nil
	}
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Field < errs[j].Field })
	return errs
}

func sortedKeys(m map[int64][]string) []int64 {
	keys := make([]int64, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	return keys
}

func (w *Webhooks) validate(bad func(field, format string, args ...any)) {
	for name, d := range map[string]time.Duration{"read_timeout": w.ReadTimeout, "idle_timeout": w.IdleTimeout} {
		if d < 0 {
			bad("webhooks."+name, "must not be negative")
		}
	}
	if w.MaxConcurrent < 1 {
		bad("webhooks.max_concurrent", "%d: at least 1", w.MaxConcurrent)
	}
	if w.RatePerSecond > 0 && w.RateBurst < 1 {
		bad("webhooks.rate_burst", "%d: at least 1 while rate_per_second is set", w.RateBurst)
	}
	if w.ReplayWindow > 0 && w.ReplayCacheSize < 1 {
		bad("webhooks.replay_cache_size", "%d: at least 1 while replay_window is set", w.ReplayCacheSize)
	}
}

// checkVendorURL says what is wrong with a Salto or Nexudus URL: anything but https, except http to a loopback
// host. "" is fine (whether the URL is required is checked on its own).
func checkVendorURL(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Sprintf("%q is not an absolute URL", raw)
	}
	switch {
	case u.Scheme == "https":
		return ""
	case u.Scheme == "http" && IsLoopbackHost(u.Hostname()):
		return ""
	case u.Scheme == "http":
		return fmt.Sprintf("%q is plain http:// to %s: use https:// (http:// only to a loopback host: 127.0.0.1, ::1, localhost)",
			raw, u.Hostname())
	default:
		return fmt.Sprintf("%q: the scheme must be https", raw)
	}
}

// IsLoopbackHost reports whether host (a name or an address, without port) is this machine: localhost, 127.0.0.0/8
// or ::1.
func IsLoopbackHost(host string) bool {
	host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
