package service

import (
	"context"
	"encoding/json"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"
	"go.temporal.io/sdk/client"
	"golang.org/x/time/rate"

	"github.com/nexsalto/nexsalto/config"
	"github.com/nexsalto/nexsalto/metrics"
)

// Bounds of the per-source limiters: an address unseen for sourceTTL starts again with a full burst.
const (
	maxSources = 10000
	sourceTTL  = 10 * time.Minute
)

// NewWebhookServer is the HTTP server of the webhook listener, which faces the internet: it reads a request
// (headers and body) within c.ReadTimeout, serves at most c.MaxConcurrent at once (503 beyond) and at most
// c.RatePerSecond from one source address (429 beyond). Unset limits take config's defaults.
func NewWebhookServer(c config.Webhooks, h http.Handler, logger *slog.Logger) *http.Server {
	c.ApplyDefaults()
	if logger == nil {
		logger = slog.Default()
	}
	return &http.Server{
		Handler:           newGuard(c, h, logger),
		ReadHeaderTimeout: min(5*time.Second, c.ReadTimeout),
		ReadTimeout:       c.ReadTimeout,
		// Counted from the end of the headers: the body, the call to Temporal (Webhooks.SignalTimeout) and
		// the answer must fit.
		WriteTimeout: c.ReadTimeout + defaultSignalTimeout + 5*time.Second,
		IdleTimeout:  c.IdleTimeout,
		// net/http's own messages (TLS handshakes, panics) as warnings; they carry no request URL.
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}

// guard sheds load before a request reaches the receiver: per source address first (so that one sender
// cannot take every slot), then the cap on requests in flight.
type guard struct {
	next   http.Handler
	slots  chan struct{} // one per request in flight
	limit  rate.Limit    // per source; 0: none
	burst  int
	retry  string // Retry-After of a 429, in seconds
	prefix string // of the webhook paths, for the metrics of refusals
	logger *slog.Logger

	mu      sync.Mutex
	sources *expirable.LRU[string, *rate.Limiter]
	// Refusals are logged at most once in a while, with how many there were: a flood must not flood the log.
	logEvery      *rate.Limiter
	limited, shed atomic.Int64
}

func newGuard(c config.Webhooks, next http.Handler, logger *slog.Logger) *guard {
	g := &guard{next: next, slots: make(chan struct{}, c.MaxConcurrent), prefix: c.PathPrefix, logger: logger,
		logEvery: rate.NewLimiter(rate.Every(10*time.Second), 1)}
	if c.RatePerSecond > 0 {
		g.limit, g.burst = rate.Limit(c.RatePerSecond), max(c.RateBurst, 1)
		g.retry = strconv.Itoa(int(math.Ceil(1 / c.RatePerSecond)))
		g.sources = expirable.NewLRU[string, *rate.Limiter](maxSources, nil, sourceTTL)
	}
	return g
}

func (g *guard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// A ?token= moves to the header before anything sees the request: from here on no URL holds it.
	if tok := takeToken(r); tok != "" {
		r.Header.Set(TokenHeader, tok)
	}
	if g.sources != nil {
		src := sourceOf(r.RemoteAddr)
		if !g.limiter(src).Allow() {
			g.limited.Add(1)
			g.count(r, metrics.OutcomeRateLimited)
			g.refuse(w, http.StatusTooManyRequests, g.retry, "too many requests from this address, retry later", src)
			return
		}
	}
	select {
	case g.slots <- struct{}{}:
		defer func() { <-g.slots }()
	default:
		g.shed.Add(1)
		g.count(r, metrics.OutcomeOverloaded)
		g.refuse(w, http.StatusServiceUnavailable, "1", "too many requests in flight, retry later", sourceOf(r.RemoteAddr))
		return
	}
	g.next.ServeHTTP(w, r)
}

// count counts a refused webhook; the health checks and /metrics on the same listener are not webhooks.
func (g *guard) count(r *http.Request, outcome string) {
	if a := webhookAction(g.prefix, r.URL.Path); a != "" {
		metrics.Webhooks.WithLabelValues(a, outcome).Inc()
	}
}

func (g *guard) limiter(src string) *rate.Limiter {
	g.mu.Lock()
	defer g.mu.Unlock()
	l, ok := g.sources.Get(src)
	if !ok {
		l = rate.NewLimiter(g.limit, g.burst)
		g.sources.Add(src, l)
	}
	return l
}

func (g *guard) refuse(w http.ResponseWriter, status int, retryAfter, msg, src string) {
	if g.logEvery.Allow() {
		// The path only: the query may hold the webhook token.
		g.logger.Warn("webhook listener refusing requests", "Status", status, "Source", src,
			"RateLimitedSoFar", g.limited.Load(), "OverCapacitySoFar", g.shed.Load(),
			"Hint", "Nexudus disables a webhook after repeated non-2xx answers: raise webhooks.rate_per_second or "+
				"webhooks.max_concurrent if these are Nexudus' deliveries")
	}
	w.Header().Set("Retry-After", retryAfter)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(Outcome{Status: "error", Error: msg})
}

// sourceOf is the rate-limited unit of a peer address: the IPv4 address, or the IPv6 /64 (one host usually
// holds a whole /64, and could otherwise rotate through it).
func sourceOf(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}

// liveHandler answers /healthz: 200 "ok" while the process serves HTTP, whatever its dependencies. A
// liveness probe restarts what fails it, and restarting the worker does not bring Temporal back; whether
// the worker can do its work is /readyz's question.
func liveHandler(rw http.ResponseWriter, _ *http.Request) {
	rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
	rw.Header().Set("Cache-Control", "no-store")
	_, _ = rw.Write([]byte("ok\n"))
}

// readyHandler answers /readyz: 200 "ok" while Temporal answers and the worker's pollers run, 503
// "unavailable" while Temporal does not answer (what /healthz answered before it became a liveness check),
// 503 "not ready" while the pollers do not run (not started yet, stopped, or stopped by a fatal error). The
// reason goes to the log, once per change, never to whoever asks: Temporal's error text names internal hosts.
func readyHandler(tc client.Client, polling func() bool, logger *slog.Logger) http.HandlerFunc {
	if logger == nil {
		logger = slog.Default()
	}
	var last atomic.Value // the answer of the previous check, to log changes only
	last.Store("ok")
	return func(rw http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
		rw.Header().Set("Cache-Control", "no-store")
		answer, status := "ok", http.StatusOK
		_, err := tc.CheckHealth(ctx, &client.CheckHealthRequest{})
		switch {
		case err != nil:
			answer, status = "unavailable", http.StatusServiceUnavailable
		case !polling():
			answer, status = "not ready", http.StatusServiceUnavailable
		}
		if prev := last.Swap(answer); prev != answer {
			switch {
			case err != nil:
				logger.Warn("readiness: Temporal unavailable", "Error", err)
			case status != http.StatusOK:
				logger.Warn("readiness: the worker's pollers are not running")
			default:
				logger.Info("readiness: ready again")
			}
		}
		rw.WriteHeader(status)
		_, _ = rw.Write([]byte(answer + "\n"))
	}
}
