package service

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.temporal.io/sdk/client"

	"github.com/nexsalto/nexsalto/config"
	"github.com/nexsalto/nexsalto/nexudus"
)

// Webhook token headers. The header is the preferred way to send the token: a URL ends up in proxy and access
// logs. X-Webhook-Token is the name this receiver accepted first.
const (
	TokenHeader       = "X-Nexudus-Webhook-Token"
	legacyTokenHeader = "X-Webhook-Token"
)

const defaultSignalTimeout = 10 * time.Second

// Webhooks receives Nexudus webhooks, one URL per action ({Prefix}/BookingUpdate), and turns each valid one
// into a Temporal signal. It answers 2xx only once Temporal has durably accepted the signal, 4xx with the
// reason for a webhook that can never be accepted, and 503 while Temporal is unreachable, so that Nexudus
// delivers it again. A delivery it has already accepted is answered "duplicate" and signals nothing.
type Webhooks struct {
	Temporal  client.Client
	TaskQueue string
	// Prefix of the webhook paths, e.g. /webhooks/nexudus.
	Prefix string
	// Secret verifies X-Nexudus-Hook-Signature when set.
	Secret []byte
	// Token, when set, must be in the X-Nexudus-Webhook-Token header (preferred) or the URL (?token=). A
	// webhook only a token protects is never taken for a read: its entity is read from Nexudus, as the docs say.
	Token string
	// Mapping reduces a signed webhook's body to the entitlement (rules.Observe); nil: always read Nexudus.
	Mapping *config.Config
	// MaxBody limits the body; larger gets 413.
	MaxBody int64
	// Locations are the configured Nexudus business ids: a coworker change is sent to the customer workflow
	// of each.
	Locations []int64
	Logger    *slog.Logger
	// SignalTimeout bounds one call to Temporal. Default 10 s.
	SignalTimeout time.Duration
	// ReplayWindow is how long an accepted delivery is remembered (default 10 min; negative: not at all), and
	// ReplayCacheSize how many at most (default 50,000).
	ReplayWindow    time.Duration
	ReplayCacheSize int

	replayOnce sync.Once
	replays    *expirable.LRU[string, struct{}]
}

// Outcome is the JSON body of every answer.
type Outcome struct {
	Status    string   `json:"status"` // accepted, ignored, duplicate, error
	Action    string   `json:"action,omitempty"`
	Workflows []string `json:"workflows,omitempty"`
	Error     string   `json:"error,omitempty"`
}

func (h *Webhooks) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	token := takeToken(r)
	name, ok := strings.CutPrefix(r.URL.Path, strings.TrimSuffix(h.Prefix, "/")+"/")
	if !ok || name == "" || strings.Contains(name, "/") {
		h.reply(w, http.StatusNotFound, Outcome{Status: "error",
			Error: fmt.Sprintf("no webhook here: use POST %s/{Action}, e.g. %s/BookingUpdate", h.Prefix, h.Prefix)})
		return
	}
	action, ok := nexudus.ActionByName(name)
	if !ok {
		h.reply(w, http.StatusNotFound, Outcome{Status: "error", Error: fmt.Sprintf("unknown Nexudus webhook action %q", name)})
		return
	}
	out := Outcome{Action: action.String()}
	fail := func(status int, msg string) {
		out.Status, out.Error = "error", msg
		h.reply(w, status, out)
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		fail(http.StatusMethodNotAllowed, "webhooks are delivered with POST")
		return
	}
	if h.Token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(h.Token)) != 1 {
		fail(http.StatusUnauthorized, "missing or wrong webhook token")
		return
	}
	// The signature is checked as the body is read, and a missing or malformed one before any of it is.
	var verifier *nexudus.Verifier
	var sink io.Writer // the verifier, if any (never a nil *Verifier in an interface)
	var sig []byte
	if len(h.Secret) > 0 {
		var err error
		if sig, err = nexudus.ParseSignature(r.Header.Get(nexudus.SignatureHeader)); err != nil {
			h.signatureRejected(action, err, r.ContentLength) // the body is not read: its declared length
			fail(http.StatusUnauthorized, err.Error())
			return
		}
		verifier = nexudus.NewVerifier(h.Secret)
		sink = verifier
	}
	body, status, err := h.readBody(w, r, sink)
	if err != nil {
		fail(status, err.Error())
		return
	}
	if verifier != nil {
		if err := verifier.Verify(r.Header.Get(nexudus.SignatureHeader)); err != nil {
			h.signatureRejected(action, err, int64(len(body)))
			fail(http.StatusUnauthorized, err.Error())
			return
		}
	}
	// Keyed by the action too: a BookingDelete may carry the very body (and signature) of the last update.
	key := replayKey(action, sig, body)
	if h.seen(key) {
		h.log().Info("webhook", "Action", action.String(), "Status", "duplicate")
		out.Status = "duplicate"
		h.reply(w, http.StatusOK, out)
		return
	}
	rec, err := nexudus.ParseWebhook(action, body)
	if err != nil {
		fail(http.StatusBadRequest, err.Error())
		return
	}
	// The span's context reaches the workflow through the Temporal tracing interceptor: one trace from the
	// webhook to the Salto call. Lines logged with it carry its trace id (TraceLogHandler).
	ctx, span := otel.Tracer("github.com/nexsalto/nexsalto/service").Start(r.Context(), "webhook "+action.String(),
		trace.WithAttributes(attribute.Int("nexudus.id", rec.Id)))
	defer span.End()
	ctx, cancel := context.WithTimeout(ctx, h.signalTimeout())
	defer cancel()
	out.Workflows, err = h.deliver(ctx, rec, len(h.Secret) > 0)
	if err != nil {
		// Not remembered: Nexudus' retry of this delivery must be processed.
		h.log().WarnContext(ctx, "webhook not delivered to Temporal", "Action", action.String(), "Id", rec.Id,
			"Error", err)
		span.SetStatus(codes.Error, err.Error())
		w.Header().Set("Retry-After", "5")
		fail(http.StatusServiceUnavailable, "temporal unavailable, retry later")
		return
	}
	h.remember(key)
	out.Status = "accepted"
	if len(out.Workflows) == 0 {
		out.Status = "ignored"
	}
	h.log().InfoContext(ctx, "webhook", "Action", action.String(), "Id", rec.Id, "Status", out.Status,
		"Workflows", out.Workflows)
	h.reply(w, http.StatusOK, out)
}

// takeToken returns the webhook token of r, from the header or else the URL, and removes it from the URL so
// that nothing after this point can log it.
func takeToken(r *http.Request) string {
	got := r.Header.Get(TokenHeader)
	if got == "" {
		got = r.Header.Get(legacyTokenHeader)
	}
	if q := r.URL.Query(); q.Has("token") {
		if got == "" {
			got = q.Get("token")
		}
		q.Del("token")
		r.URL.RawQuery = q.Encode()
		r.RequestURI = r.URL.RequestURI()
	}
	return got
}

// readBody reads the body within the size limit, through v when set; the status goes with the error.
func (h *Webhooks) readBody(w http.ResponseWriter, r *http.Request, v io.Writer) ([]byte, int, error) {
	var src io.Reader = http.MaxBytesReader(w, r.Body, h.maxBody())
	if v != nil {
		src = io.TeeReader(src, v)
	}
	body, err := io.ReadAll(src)
	var tooBig *http.MaxBytesError
	var netErr net.Error
	switch {
	case err == nil:
		return body, 0, nil
	case errors.As(err, &tooBig):
		return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("body larger than %d bytes", h.maxBody())
	case errors.As(err, &netErr) && netErr.Timeout():
		return nil, http.StatusRequestTimeout, errors.New("body not received in time")
	default:
		return nil, http.StatusBadRequest, fmt.Errorf("reading body: %w", err)
	}
}

func (h *Webhooks) signatureRejected(action nexudus.Action, err error, bodyBytes int64) {
	// The operator must see this before Nexudus disables the webhook. Never the secret or the body (it may
	// hold an access PIN).
	h.log().Warn("webhook signature rejected", "Action", action.String(), "Error", err.Error(), "BodyBytes", bodyBytes,
		"Hint", "check NEXUDUS_WEBHOOK_SECRET matches the secret of the webhook in Nexudus; Nexudus disables a webhook after repeated failures")
}

// replayKey names a delivery: its signature (the HMAC stands for the body; hex case and spaces do not count),
// or the hash of an unsigned body.
func replayKey(a nexudus.Action, sig, body []byte) string {
	if sig != nil {
		return strconv.Itoa(int(a)) + "s" + string(sig)
	}
	sum := sha256.Sum256(body)
	return strconv.Itoa(int(a)) + "b" + string(sum[:])
}

func (h *Webhooks) replayCache() *expirable.LRU[string, struct{}] {
	h.replayOnce.Do(func() {
		window, size := h.ReplayWindow, h.ReplayCacheSize
		if window < 0 {
			return
		}
		if window == 0 {
			window = 10 * time.Minute
		}
		if size <= 0 {
			size = 50000
		}
		h.replays = expirable.NewLRU[string, struct{}](size, nil, window)
	})
	return h.replays
}

func (h *Webhooks) seen(key string) bool {
	c := h.replayCache()
	if c == nil {
		return false
	}
	_, ok := c.Get(key) // Get, unlike Contains, leaves out what has expired
	return ok
}

// remember is called once a delivery is accepted (2xx), never before: a delivery answered 5xx comes again.
func (h *Webhooks) remember(key string) {
	if c := h.replayCache(); c != nil {
		c.Add(key, struct{}{})
	}
}

func (h *Webhooks) reply(w http.ResponseWriter, status int, out Outcome) {
	countWebhook(out.Action, status, out.Status)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(out)
}

func (h *Webhooks) maxBody() int64 {
	if h.MaxBody > 0 {
		return h.MaxBody
	}
	return 1 << 20
}

func (h *Webhooks) signalTimeout() time.Duration {
	if h.SignalTimeout > 0 {
		return h.SignalTimeout
	}
	return defaultSignalTimeout
}

func (h *Webhooks) log() *slog.Logger {
	if h.Logger != nil {
		return h.Logger
	}
	return slog.Default()
}

// WebhookURL is the URL to register in Nexudus for an action. Nexudus' admin panel takes only a URL, so a token
// goes in its query; a sender that can set headers should use TokenHeader instead.
func WebhookURL(base, prefix string, a nexudus.Action, token string) string {
	u := strings.TrimSuffix(base, "/") + strings.TrimSuffix(prefix, "/") + "/" + a.String()
	if token != "" {
		u += "?token=" + url.QueryEscape(token)
	}
	return u
}
