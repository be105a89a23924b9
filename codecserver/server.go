// Package codecserver serves a payload codec over HTTP as the Temporal Web UI and CLI expect it: POST
// …/encode and …/decode with a JSON body {"payloads": [...]} (Payloads in protobuf JSON), answered in the
// same shape. People who hold the token then see decrypted inputs, results and failures in the UI; the
// Temporal service itself never holds a key.
//
// Every call must carry the token, in one of two ways:
//   - the header Authorization: Bearer <token> (the Temporal CLI's --codec-auth, scripts, a proxy);
//   - the path: an endpoint of https://codec.example.com/<token> makes the UI call /<token>/decode. Web UIs
//     without an identity provider of ours cannot send a header of our choosing, and the protocol lets an
//     endpoint sit at any path (only the last segment, encode or decode, is read).
//
// Browsers call it cross-origin: the configured origins get CORS answers, preflight included, with the
// headers the UI sends (Authorization, Authorization-Extras, Content-Type, X-Namespace) and credentials
// allowed (the UI's "include cross-origin credentials"). Nothing a call carries is logged.
package codecserver

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/encoding/protojson"
)

// DefaultMaxBodyBytes bounds a request: the UI sends the payloads of one event or one page at a time, each at
// most Temporal's 2 MB payload limit.
const DefaultMaxBodyBytes = 8 << 20

// MinTokenLength refuses tokens short enough to guess.
const MinTokenLength = 16

// AllowedHeaders are the request headers a browser may send: what the Temporal Web UI's codec client sets.
const AllowedHeaders = "Authorization, Authorization-Extras, Content-Type, X-Namespace"

// Options configure a codec server handler.
type Options struct {
	Codec converter.PayloadCodec
	// Token every call must carry (constant-time compared).
	Token string
	// Origins are the Web UIs allowed to call from a browser, exactly as browsers send Origin
	// (scheme://host[:port]).
	Origins []string
	// MaxBodyBytes bounds a request body (default DefaultMaxBodyBytes).
	MaxBodyBytes int64
	// Logger receives refusals and codec errors, without tokens or payloads (default: discarded).
	Logger *slog.Logger
}

type handler struct {
	codec   converter.PayloadCodec
	token   [sha256.Size]byte
	origins []string
	max     int64
	logger  *slog.Logger
}

// New returns the handler of /encode and /decode.
func New(o Options) (http.Handler, error) {
	if o.Codec == nil {
		return nil, errors.New("codec server: no codec")
	}
	if len(o.Token) < MinTokenLength {
		return nil, fmt.Errorf("codec server: the token must have at least %d characters", MinTokenLength)
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &handler{codec: o.Codec, token: sha256.Sum256([]byte(o.Token)), origins: slices.Clone(o.Origins),
		max: o.MaxBodyBytes, logger: o.Logger}, nil
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Add("Vary", "Origin")
	hdr.Set("Cache-Control", "no-store") // decrypted customer data stays out of every cache
	origin := r.Header.Get("Origin")
	allowed := origin != "" && slices.Contains(h.origins, origin)
	if allowed {
		hdr.Set("Access-Control-Allow-Origin", origin)
		hdr.Set("Access-Control-Allow-Credentials", "true")
	}
	if origin != "" && !allowed {
		// A page of another site: the browser would hide the answer anyway, so do not do the work.
		h.logger.Warn("codec server: origin not allowed", "Origin", origin)
		http.Error(w, "origin not allowed", http.StatusForbidden)
		return
	}
	if r.Method == http.MethodOptions {
		hdr.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
		hdr.Set("Access-Control-Allow-Headers", AllowedHeaders)
		hdr.Set("Access-Control-Max-Age", "600")
		// Chrome asks before a public page (cloud.temporal.io) calls a codec server on this machine or network.
		if r.Header.Get("Access-Control-Request-Private-Network") == "true" {
			hdr.Set("Access-Control-Allow-Private-Network", "true")
		}
		w.WriteHeader(http.StatusNoContent)
		return
	}
	prefix, op, ok := cutOperation(r.URL.Path)
	if !ok {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost {
		hdr.Set("Allow", "POST, OPTIONS")
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	if !h.authorized(r, prefix) {
		h.logger.Warn("codec server: call without a valid token", "Remote", r.RemoteAddr, "Operation", op)
		hdr.Set("WWW-Authenticate", `Bearer realm="nexsalto codec"`)
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.max))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "could not read the body", http.StatusBadRequest)
		return
	}
	var in commonpb.Payloads
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(body, &in); err != nil {
		http.Error(w, `want {"payloads": [...]} in protobuf JSON`, http.StatusBadRequest)
		return
	}
	var out []*commonpb.Payload
	if op == "encode" {
		out, err = h.codec.Encode(in.GetPayloads())
	} else {
		out, err = h.codec.Decode(in.GetPayloads())
	}
	if err != nil {
		// The codec's errors name key ids at most, never data.
		h.logger.Warn("codec server: "+op+" failed", "Error", err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	raw, err := protojson.Marshal(&commonpb.Payloads{Payloads: out})
	if err != nil {
		http.Error(w, "could not encode the answer", http.StatusInternalServerError)
		return
	}
	hdr.Set("Content-Type", "application/json")
	_, _ = w.Write(raw)
}

// cutOperation splits ".../<token>/decode" into the part before the operation and the operation.
func cutOperation(path string) (prefix, op string, ok bool) {
	for _, op := range []string{"encode", "decode"} {
		if p, found := strings.CutSuffix(path, "/"+op); found {
			return p, op, true
		}
	}
	return "", "", false
}

// authorized accepts the token as a bearer token or as the last path segment before the operation. Both are
// compared in constant time, as digests, so neither the token nor its length leaks through timing.
func (h *handler) authorized(r *http.Request, prefix string) bool {
	match := func(candidate string) bool {
		sum := sha256.Sum256([]byte(candidate))
		return subtle.ConstantTimeCompare(sum[:], h.token[:]) == 1
	}
	header := r.Header.Get("Authorization")
	// The Web UI, when told to pass its access token, sends the user's own token here: not ours, and then
	// the path must carry ours.
	if scheme, value, ok := strings.Cut(header, " "); ok && strings.EqualFold(scheme, "Bearer") && match(strings.TrimSpace(value)) {
		return true
	}
	segment := prefix[strings.LastIndex(prefix, "/")+1:]
	return segment != "" && match(segment)
}

// NewServer wraps the handler in an http.Server with timeouts for a listener of its own.
func NewServer(h http.Handler, logger *slog.Logger) *http.Server {
	if logger == nil {
		logger = slog.Default()
	}
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}
