package config

import (
	"time"

	"github.com/nexsalto/nexsalto/access"
)

// Sync configures what keeps every location in line with Nexudus beyond webhooks: the change poller (one for
// the account), the reconcile Schedule (one per location) and presence tracking (locations with presence doors).
type Sync struct {
	// PollInterval is the time from one read of Nexudus' changes to the next (default 30s). Passes, for which
	// Nexudus sends no webhook, are read at every poll: this is how long a new pass waits for its door.
	PollInterval time.Duration `yaml:"poll_interval"`
	// SafetyNetInterval is the time between two reads of the changes webhooks report too (bookings,
	// contracts, visitors, coworkers), the safety net for lost webhooks (default 1m; shorter than
	// poll_interval: at every poll).
	SafetyNetInterval time.Duration `yaml:"safety_net_interval"`
	// PollCallsPerMinute is the account's change poller's share of Nexudus calls (default 20); the shared
	// budget keeps it and everything else under the account's requests_per_minute.
	PollCallsPerMinute int `yaml:"poll_calls_per_minute"`
	// PollLookback is how far back a poller that starts without a cursor reads changes (default 1h).
	PollLookback time.Duration `yaml:"poll_lookback"`
	// PollPageSize is the page size of the poller's reads (default 100).
	PollPageSize int `yaml:"poll_page_size"`
	// ReconcileInterval is the reconcile Schedule's interval (default 15m).
	ReconcileInterval time.Duration `yaml:"reconcile_interval"`
	// ReconcileBatch is how many customers one reconcile batch handles (default 500).
	ReconcileBatch int `yaml:"reconcile_batch"`
	// ReconcilePolicyLimit is how many customers one reconciliation of a location applies the no-access
	// policy to (default 25); the others wait for the next run. Access itself is never held back: a missing
	// or extra membership is always repaired. The first reconciliation of a location whose customers kept
	// their Salto users would otherwise start thousands of suspensions at once (see README, chain day).
	ReconcilePolicyLimit int `yaml:"reconcile_policy_limit"`
	// PolicyRepairsPerSecond paces, in each worker, the repairs that only apply the no-access policy (default
	// 2, about what Salto's rate leaves for their three calls each): each starts a customer workflow, and a
	// burst of them would queue ahead of the grants' tasks.
	PolicyRepairsPerSecond float64 `yaml:"policy_repairs_per_second"`
	// PresenceInterval is the wait between two reads of Salto entries (default 30s).
	PresenceInterval time.Duration `yaml:"presence_interval"`
}

// Defaults of Sync; the poller's live in access, where the workflows fall back on them.
const (
	DefaultPollInterval         = access.DefaultPollInterval
	DefaultSafetyNetInterval    = access.DefaultSafetyNetInterval
	DefaultPollCallsPerMinute   = access.DefaultPollCallsPerMinute
	DefaultPollLookback         = access.DefaultPollLookback
	DefaultPollPageSize         = access.DefaultPollPageSize
	DefaultReconcileInterval    = 15 * time.Minute
	DefaultReconcileBatch       = 500
	DefaultReconcilePolicyLimit = 25
	// DefaultPolicyRepairsPerSecond: 25 customers × 50 locations every 15 min is 1.4/s.
	DefaultPolicyRepairsPerSecond = 2.0
	DefaultPresenceInterval       = 30 * time.Second
)

func (s *Sync) applyDefaults() {
	if s.PollInterval == 0 {
		s.PollInterval = DefaultPollInterval
	}
	if s.SafetyNetInterval == 0 {
		s.SafetyNetInterval = DefaultSafetyNetInterval
	}
	if s.PollCallsPerMinute == 0 {
		s.PollCallsPerMinute = DefaultPollCallsPerMinute
	}
	if s.PollLookback == 0 {
		s.PollLookback = DefaultPollLookback
	}
	if s.PollPageSize == 0 {
		s.PollPageSize = DefaultPollPageSize
	}
	if s.ReconcileInterval == 0 {
		s.ReconcileInterval = DefaultReconcileInterval
	}
	if s.ReconcileBatch == 0 {
		s.ReconcileBatch = DefaultReconcileBatch
	}
	if s.ReconcilePolicyLimit == 0 {
		s.ReconcilePolicyLimit = DefaultReconcilePolicyLimit
	}
	if s.PolicyRepairsPerSecond == 0 {
		s.PolicyRepairsPerSecond = DefaultPolicyRepairsPerSecond
	}
	if s.PresenceInterval == 0 {
		s.PresenceInterval = DefaultPresenceInterval
	}
}
