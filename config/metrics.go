package config

import (
	"net"
	"strconv"
	"time"
)

// DefaultMetricsRefresh is how often the figures read from Temporal (open workflows by state, customers in
// trouble, the shared Nexudus budget) are refreshed.
const DefaultMetricsRefresh = 30 * time.Second

// Metrics is the Prometheus endpoint, /metrics, with the health checks /healthz and /readyz beside it.
type Metrics struct {
	// Listen is a listener of its own for /metrics, /healthz and /readyz, e.g. 127.0.0.1:9464, so that they
	// need not face the internet with the webhooks; empty: they are served on webhooks.listen.
	Listen string `yaml:"listen"`
	// RefreshInterval is how often the figures read from Temporal are refreshed (default 30s); a scrape
	// refreshes them when they are older, at most that often.
	RefreshInterval time.Duration `yaml:"refresh_interval"`
}

func (m *Metrics) applyDefaults() { orDefault(&m.RefreshInterval, DefaultMetricsRefresh) }

func (m *Metrics) validate(webhookListen string, bad func(field, format string, args ...any)) {
	if m.Listen != "" {
		host, port, err := net.SplitHostPort(m.Listen)
		if n, perr := strconv.Atoi(port); err != nil || perr != nil || n < 0 || n > 65535 {
			bad("metrics.listen", "%q is not host:port", m.Listen)
		} else if m.Listen == webhookListen && n != 0 {
			bad("metrics.listen", "%q is webhooks.listen: leave metrics.listen empty to serve on it", m.Listen)
		} else if host == "" {
			bad("metrics.listen", "%q names no host: give 127.0.0.1 (this machine) or an address of a private network", m.Listen)
		}
	}
	if m.RefreshInterval < time.Second {
		bad("metrics.refresh_interval", "%s is shorter than 1s", m.RefreshInterval)
	}
}
