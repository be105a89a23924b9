package config

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

const valid = `
temporal:
  address: temporal.example:7233
salto:
  api_url: https://salto.example
  token_url: https://identity.example/connect/token
  client_id: acme
  username: system@acme.example
nexudus:
  base_url: https://nexudus.example
  username: admin@acme.example
locations:
  - business_id: 42
    salto_site: 0b1c1d7e-0000-4000-8000-000000000001
    time_zone: Europe/Madrid
    no_access_policy: delete
    visitor_pins: true
    visitor_groups: [g-visitors]
    resources: {7: [g-room]}
    passes: {3: [g-day, g-room]}
    desks: {40: [g-office]}
`

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

var secrets = map[string]string{
	EnvSaltoPassword:        "s3cret-salto",
	EnvNexudusPassword:      "s3cret-nexudus",
	EnvNexudusWebhookSecret: "s3cret-hook",
	// A file must say how payloads are protected (see TestEncryptionMustBeSaid).
	EnvEncryptionKeys: "k1:c2VjcmV0LWtleS1tYXRlcmlhbC0zMi1ieXRlcy0hIQ==",
}

func TestParseValid(t *testing.T) {
	c, err := Parse([]byte(valid), env(secrets))
	if err != nil {
		t.Fatal(err)
	}
	l, ok := c.Location(42)
	if !ok {
		t.Fatal("location 42 not found")
	}
	if l.GrantLead != 15*time.Minute || l.RevokeLag != 15*time.Minute {
		t.Errorf("lead/lag defaults: %s/%s", l.GrantLead, l.RevokeLag)
	}
	if l.NoAccessPolicy != PolicyDelete {
		t.Errorf("policy = %q", l.NoAccessPolicy)
	}
	if got := strings.Join(l.OwnedGroups(), ","); got != "g-day,g-office,g-room,g-visitors" {
		t.Errorf("owned groups = %s", got)
	}
	if c.Temporal.Namespace != "default" || c.Temporal.TaskQueue != "access" || c.Temporal.CustomerTaskQueue != "access-customers" ||
		c.Temporal.BackgroundTaskQueue != "access-background" || c.Temporal.BackgroundActivitySlots != 4 {
		t.Errorf("temporal defaults: %+v", c.Temporal)
	}
	if c.Salto.Password != "s3cret-salto" || c.Nexudus.WebhookSecret != "s3cret-hook" {
		t.Error("secrets from the environment were not applied")
	}
	if l.Zone().String() != "Europe/Madrid" {
		t.Errorf("zone = %s", l.Zone())
	}
	want := Sync{PollInterval: 30 * time.Second, SafetyNetInterval: time.Minute, PollCallsPerMinute: 20, PollLookback: time.Hour, PollPageSize: 100,
		ReconcileInterval: 15 * time.Minute, ReconcileBatch: 500, ReconcilePolicyLimit: 25, PolicyRepairsPerSecond: 2,
		PresenceInterval: 30 * time.Second}
	if c.Sync != want {
		t.Errorf("sync defaults %+v", c.Sync)
	}
}

func TestSyncSettings(t *testing.T) {
	raw := valid + `sync:
  poll_interval: 15s
  safety_net_interval: 2m
  poll_calls_per_minute: 40
  reconcile_interval: 5m
`
	raw = strings.Replace(raw, "visitor_pins: true", "visitor_pins: true\n    presence_doors: [lock-in]\n    presence_exit_doors: [lock-out]", 1)
	c, err := Parse([]byte(raw), env(secrets))
	if err != nil {
		t.Fatal(err)
	}
	if c.Sync.PollInterval != 15*time.Second || c.Sync.SafetyNetInterval != 2*time.Minute || c.Sync.PollCallsPerMinute != 40 || c.Sync.ReconcileInterval != 5*time.Minute ||
		c.Sync.PresenceInterval != 30*time.Second {
		t.Errorf("sync %+v", c.Sync)
	}
	if l := c.Locations[0]; len(l.PresenceDoors) != 1 || l.PresenceExitDoors[0] != "lock-out" {
		t.Errorf("doors %v %v", l.PresenceDoors, l.PresenceExitDoors)
	}
}

func TestStringRedactsSecrets(t *testing.T) {
	c, err := Parse([]byte(valid), env(secrets))
	if err != nil {
		t.Fatal(err)
	}
	s := c.String()
	for _, v := range secrets {
		if strings.Contains(s, v) {
			t.Errorf("String() leaks %q", v)
		}
	}
	if !strings.Contains(s, "[redacted]") {
		t.Error("String() shows no redaction marker")
	}
}

func TestErrorsNameTheField(t *testing.T) {
	cases := []struct {
		name, yaml string
		env        map[string]string
		want       []string
	}{
		{"empty file", ``, nil, []string{"salto.api_url: required", "nexudus.base_url: required", "locations: at least one"}},
		{"unknown key", valid + "\nextra: 1\n", secrets, []string{"field extra not found"}},
		{"bad policy", strings.Replace(valid, "no_access_policy: delete", "no_access_policy: block", 1), secrets,
			[]string{`locations[0].no_access_policy: "block" is not keep, suspend or delete`}},
		{"bad zone", strings.Replace(valid, "Europe/Madrid", "Mars/Olympus", 1), secrets,
			[]string{`locations[0].time_zone: "Mars/Olympus" is not an IANA time zone`}},
		{"no webhook auth", valid, map[string]string{EnvSaltoPassword: "x", EnvNexudusPassword: "y"},
			[]string{"nexudus.webhook_secret: set NEXUDUS_WEBHOOK_SECRET"}},
		{"password grant without password", valid, map[string]string{EnvNexudusPassword: "y", EnvNexudusWebhookToken: "t"},
			[]string{"salto.username: set, but SALTO_PASSWORD is empty"}},
		{"empty mapping", strings.Replace(valid, "desks: {40: [g-office]}", "desks: {40: []}", 1), secrets,
			[]string{"locations[0].desks[40]: maps to no access group"}},
		{"bad duration", strings.Replace(valid, "time_zone: Europe/Madrid", "time_zone: UTC\n    grant_lead: soon", 1), secrets,
			[]string{"soon"}},
		{"timing out of range", strings.Replace(valid, "time_zone: Europe/Madrid",
			"time_zone: UTC\n    visitor_timing: {revoke_lag: 25h}\n    contract_timing: {grant_lead: -1m}", 1), secrets,
			[]string{"locations[0].contract_timing.grant_lead: -1m0s is outside 0..24h",
				"locations[0].visitor_timing.revoke_lag: 25h0m0s is outside 0..24h"}},
		{"poll budget over the Nexudus budget", valid + "sync:\n  poll_calls_per_minute: 200\n", secrets,
			[]string{"sync.poll_calls_per_minute: 200 is more than nexudus.requests_per_minute (120)"}},
		{"sync intervals", valid + "sync:\n  poll_interval: 10ms\n  reconcile_interval: 1ms\n  presence_interval: 1ms\n  reconcile_batch: 9000\n", secrets,
			[]string{"sync.poll_interval: 10ms is shorter than 1s", "sync.reconcile_interval: 1ms is shorter than 1s",
				"sync.presence_interval: 1ms is shorter than 1s", "sync.reconcile_batch: 9000 is outside 1..5000"}},
		{"policy pace and background queue", strings.Replace(valid, "temporal:\n", "temporal:\n  task_queue: q\n  background_task_queue: q\n  background_activity_slots: -1\n", 1) +
			"sync:\n  reconcile_policy_limit: -3\n  policy_repairs_per_second: -1\n", secrets,
			[]string{"temporal.background_activity_slots: -1: at least 1", `temporal.background_task_queue: "q": a queue of its own`,
				"sync.reconcile_policy_limit: -3: at least 1", "sync.policy_repairs_per_second: -1: more than 0"}},
		{"exit doors without doors", strings.Replace(valid, "visitor_pins: true", "visitor_pins: true\n    presence_exit_doors: [lock-out]", 1), secrets,
			[]string{"locations[0].presence_doors: required when presence_exit_doors is set"}},
		{"empty door", strings.Replace(valid, "visitor_pins: true", "visitor_pins: true\n    presence_doors: [lock-in, '']", 1), secrets,
			[]string{"locations[0].presence_doors[1]: empty lock id"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml), env(tc.env))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestAllProblemsReportedAtOnce(t *testing.T) {
	_, err := Parse([]byte(``), env(nil))
	var es Errors
	if !errors.As(err, &es) {
		t.Fatalf("error type %T", err)
	}
	if len(es) < 5 {
		t.Errorf("only %d problems reported: %v", len(es), err)
	}
}

// The example shipped for operators must stay valid as the configuration grows.
func TestExampleConfigIsValid(t *testing.T) {
	raw, err := os.ReadFile("../deploy/config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Parse(raw, env(secrets)); err != nil {
		t.Fatal(err)
	}
}

// Tools that never receive webhooks (the starter) do not need the webhook secret.
func TestParseClientNeedsNoWebhookSecret(t *testing.T) {
	noHook := map[string]string{EnvSaltoPassword: "x", EnvNexudusPassword: "y", EnvEncryptionKeys: secrets[EnvEncryptionKeys]}
	if _, err := Parse([]byte(valid), env(noHook)); err == nil {
		t.Fatal("the worker's Parse accepted a configuration without webhook authentication")
	}
	if _, err := ParseClient([]byte(valid), env(noHook)); err != nil {
		t.Fatal(err)
	}
}

// Per-kind timing: set means set, even to zero (so contracts can follow Nexudus' own integration exactly);
// unset leaves the location's grant_lead and revoke_lag (rules.Timing decides which applies).
func TestTimingPerKind(t *testing.T) {
	raw := strings.Replace(valid, "time_zone: Europe/Madrid",
		"time_zone: UTC\n    contract_timing: {grant_lead: 0s, revoke_lag: 0s}\n    visitor_timing: {revoke_lag: 1h}", 1)
	c, err := Parse([]byte(raw), func(k string) string {
		return map[string]string{EnvSaltoPassword: "x", EnvNexudusPassword: "y", EnvNexudusWebhookToken: "t",
			EnvEncryptionKeys: secrets[EnvEncryptionKeys]}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	l := c.Locations[0]
	if ct := l.ContractTiming; ct.GrantLead == nil || *ct.GrantLead != 0 || ct.RevokeLag == nil || *ct.RevokeLag != 0 {
		t.Errorf("contract timing %+v", ct)
	}
	if vt := l.VisitorTiming; vt.GrantLead != nil || vt.RevokeLag == nil || *vt.RevokeLag != time.Hour {
		t.Errorf("visitor timing %+v", vt)
	}
	if bt := l.BookingTiming; bt.GrantLead != nil || bt.RevokeLag != nil {
		t.Errorf("booking timing %+v", bt)
	}
}

// Passwords, tokens and access PINs travel to Salto and Nexudus: plain http:// is refused, naming the field,
// unless it goes to this machine (the simulators in the dev stack and tests).
func TestVendorURLsMustBeHTTPS(t *testing.T) {
	withURL := func(from, to string) string { return strings.Replace(valid, from, to, 1) }
	refused := []struct{ yaml, want string }{
		{withURL("https://nexudus.example", "http://nexudus.example"),
			`nexudus.base_url: "http://nexudus.example" is plain http:// to nexudus.example: use https://`},
		{withURL("https://salto.example", "http://salto.example:8080"), "salto.api_url: "},
		{withURL("https://identity.example/connect/token", "http://identity.example/connect/token"), "salto.token_url: "},
		{withURL("client_id: acme", "client_id: acme\n  authorize_url: http://10.0.0.5/connect/authorize"), "salto.authorize_url: "},
		{withURL("https://nexudus.example", "http://127.0.0.1.example.com"), "nexudus.base_url: "},
		{withURL("https://nexudus.example", "http://0.0.0.0:8092"), "nexudus.base_url: "},
		{withURL("https://nexudus.example", "ftp://nexudus.example"), "nexudus.base_url: \"ftp://nexudus.example\": the scheme must be https"},
		{withURL("https://nexudus.example", "nexudus.example"), "nexudus.base_url: \"nexudus.example\" is not an absolute URL"},
	}
	for _, c := range refused {
		_, err := Parse([]byte(c.yaml), env(secrets))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v, want an error with %q", err, c.want)
		}
	}
	for _, local := range []string{"http://127.0.0.1:8092", "http://127.8.9.10", "http://[::1]:8092", "http://localhost:8092",
		"http://LOCALHOST", "https://nexudus.example:8443"} {
		if _, err := Parse([]byte(withURL("https://nexudus.example", local)), env(secrets)); err != nil {
			t.Errorf("%s refused: %v", local, err)
		}
	}
	if _, err := Parse([]byte(withURL("https://salto.example", "http://127.0.0.1:8091")), env(secrets)); err != nil {
		t.Errorf("http://127.0.0.1 for Salto refused: %v", err)
	}
}

// The webhook receiver's limits have defaults that stop a slow client within 15 s and leave room for Nexudus'
// bursts; each can be set, and nonsense is refused.
func TestWebhookLimits(t *testing.T) {
	c, err := Parse([]byte(valid), env(secrets))
	if err != nil {
		t.Fatal(err)
	}
	w := c.Webhooks
	if w.ReadTimeout <= 0 || w.ReadTimeout > 15*time.Second || w.IdleTimeout <= 0 {
		t.Errorf("timeouts %s/%s: want a read timeout within 15s", w.ReadTimeout, w.IdleTimeout)
	}
	if w.MaxConcurrent != 256 || w.RatePerSecond != 50 || w.RateBurst != 100 || w.ReplayWindow != 10*time.Minute || w.ReplayCacheSize < 1000 {
		t.Errorf("defaults %+v", w)
	}
	c, err = Parse([]byte(valid+"webhooks:\n  read_timeout: 3s\n  max_concurrent: 8\n  rate_per_second: -1\n  replay_window: -1s\n"), env(secrets))
	if err != nil {
		t.Fatal(err)
	}
	if w := c.Webhooks; w.ReadTimeout != 3*time.Second || w.MaxConcurrent != 8 || w.RatePerSecond != -1 || w.ReplayWindow != -time.Second {
		t.Errorf("settings not taken: %+v", w)
	}
	_, err = Parse([]byte(valid+"webhooks:\n  max_concurrent: -2\n  rate_burst: -1\n  read_timeout: -1s\n  replay_cache_size: -5\n"), env(secrets))
	for _, want := range []string{"webhooks.max_concurrent: -2: at least 1", "webhooks.rate_burst: -1", "webhooks.read_timeout: must not be negative",
		"webhooks.replay_cache_size: -5"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want %q", err, want)
		}
	}
}

func TestIsLoopbackHost(t *testing.T) {
	for host, want := range map[string]bool{"127.0.0.1": true, "127.255.0.1": true, "::1": true, "[::1]": true, "localhost": true,
		"localhost.": true, "::ffff:127.0.0.1": true, "10.0.0.1": false, "0.0.0.0": false, "::": false, "localhost.example": false,
		"temporal": false, "": false} {
		if got := IsLoopbackHost(host); got != want {
			t.Errorf("IsLoopbackHost(%q) = %v", host, got)
		}
	}
}
