package service

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.temporal.io/sdk/client"

	"github.com/nexsalto/nexsalto/config"
	"github.com/nexsalto/nexsalto/nexudus"
)

// Webhooks receives Nexudus webhooks, one URL per action ({Prefix}/BookingUpdate), and turns each valid one
// into a Temporal signal. It answers 2xx only once Temporal has durably accepted the signal, 4xx with the
// reason for a webhook that can never be accepted, and 503 while Temporal is unreachable, so that Nexudus
// delivers it again.
type Webhooks struct {
	Temporal  client.Client
	TaskQueue string
	// Prefix of the webhook paths, e.g. /webhooks/nexudus.
	Prefix string
	// Secret verifies X-Nexudus-Hook-Signature when set.
	Secret []byte
	// Token, when set, must be in the URL (?token=) or the X-Webhook-Token header. A webhook only a token
	// protects is never taken for a read: its entity is read from Nexudus, as the docs say.
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
}

// Outcome is the JSON body of every answer.
type Outcome struct {
	Status    string   `json:"status"` // accepted, ignored, error
	Action    string   `json:"action,omitempty"`
	Workflows []string `json:"workflows,omitempty"`
	Error     string   `json:"error,omitempty"`
}

func (h *Webhooks) ServeHTTP(w http.ResponseWriter, r *http.Request) {
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
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		out.Status, out.Error = "error", "webhooks are delivered with POST"
		h.reply(w, http.StatusMethodNotAllowed, out)
		return
	}
	if h.Token != "" {
		got := r.URL.Query().Get("token")
		if got == "" {
			got = r.Header.Get("X-Webhook-Token")
		}
		if subtle.ConstantTimeCompare([]byte(got), []byte(h.Token)) != 1 {
			out.Status, out.Error = "error", "missing or wrong webhook token"
			h.reply(w, http.StatusUnauthorized, out)
			return
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.maxBody()))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			out.Status, out.Error = "error", fmt.Sprintf("body larger than %d bytes", h.maxBody())
			h.reply(w, http.StatusRequestEntityTooLarge, out)
			return
		}
		out.Status, out.Error = "error", "reading body: "+err.Error()
		h.reply(w, http.StatusBadRequest, out)
		return
	}
	if len(h.Secret) > 0 {
		if err := nexudus.VerifySignature(h.Secret, body, r.Header.Get("X-Nexudus-Hook-Signature")); err != nil {
			// The operator must see this before Nexudus disables the webhook. Never the secret or the body (it
			// may hold an access PIN).
			h.log().Warn("webhook signature rejected", "Action", action.String(), "Error", err.Error(), "BodyBytes", len(body),
				"Hint", "check NEXUDUS_WEBHOOK_SECRET matches the secret of the webhook in Nexudus; Nexudus disables a webhook after repeated failures")
			out.Status, out.Error = "error", err.Error()
			h.reply(w, http.StatusUnauthorized, out)
			return
		}
	}
	rec, err := nexudus.ParseWebhook(action, body)
	if err != nil {
		out.Status, out.Error = "error", err.Error()
		h.reply(w, http.StatusBadRequest, out)
		return
	}
	// The span's context reaches the workflow through the Temporal tracing interceptor: one trace from the
	// webhook to the Salto call.
	ctx, span := otel.Tracer("github.com/nexsalto/nexsalto/service").Start(r.Context(), "webhook "+action.String(),
		trace.WithAttributes(attribute.Int("nexudus.id", rec.Id)))
	defer span.End()
	ctx, cancel := context.WithTimeout(ctx, h.signalTimeout())
	defer cancel()
	out.Workflows, err = h.deliver(ctx, rec, len(h.Secret) > 0)
	if err != nil {
		h.log().Warn("webhook not delivered to Temporal", "Action", action.String(), "Id", rec.Id, "Error", err)
		span.SetStatus(codes.Error, err.Error())
		w.Header().Set("Retry-After", "5")
		out.Status, out.Error = "error", "temporal unavailable, retry later"
		h.reply(w, http.StatusServiceUnavailable, out)
		return
	}
	out.Status = "accepted"
	if len(out.Workflows) == 0 {
		out.Status = "ignored"
	}
	h.log().Info("webhook", "Action", action.String(), "Id", rec.Id, "Status", out.Status, "Workflows", out.Workflows)
	h.reply(w, http.StatusOK, out)
}

func (h *Webhooks) reply(w http.ResponseWriter, status int, out Outcome) {
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
	return 10 * time.Second
}

func (h *Webhooks) log() *slog.Logger {
	if h.Logger != nil {
		return h.Logger
	}
	return slog.Default()
}

// WebhookURL is the URL to register in Nexudus for an action.
func WebhookURL(base, prefix string, a nexudus.Action, token string) string {
	u := strings.TrimSuffix(base, "/") + strings.TrimSuffix(prefix, "/") + "/" + a.String()
	if token != "" {
		u += "?token=" + token
	}
	return u
}
