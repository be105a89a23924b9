package nexudussim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options configure a Server. Zero values take the defaults shown.
type Options struct {
	// Users maps username to password for the password grant and Basic auth
	// (default {"admin": "admin"}).
	Users map[string]string
	// TokenTTL is the access-token lifetime (default 604799s, Nexudus' own).
	TokenTTL time.Duration
	// RefreshTokenTTL is the refresh-token lifetime (default 15 days).
	RefreshTokenTTL time.Duration
	// WebhookSecret, when set, signs webhooks (X-Nexudus-Hook-Signature) as Nexudus
	// documents: HMAC of the ASCII-folded secret and body, non-ASCII characters as '?'.
	WebhookSecret string
	// WebhookSignsRawUTF8 signs the raw UTF-8 bytes with the raw secret instead: a guess
	// switch, for receivers that must also survive Nexudus signing what it sends.
	WebhookSignsRawUTF8 bool
	// PageSizeMax caps the "size" of list requests (default 1000).
	PageSizeMax int
	// Clock stamps CreatedOn/UpdatedOn and expires tokens (default time.Now). The
	// call budget and Retry-After use real time, because clients wait in real time.
	Clock func() time.Time
	// HTTPClient sends webhooks (default: 10s timeout).
	HTTPClient *http.Client
	// CallsPerMinute and WritesPerMinute are the initial call budgets (defaults 120 and
	// 60, Nexudus' guideline; negative: unlimited). Faults can change them at run time.
	CallsPerMinute, WritesPerMinute int
	// WritesPerDay is the initial daily write cap (default 2,500, the stricter of the two documented figures;
	// negative: none).
	WritesPerDay int
	// WebhookAttempts is how many times one delivery is tried (default 3).
	WebhookAttempts int
	// WebhookRetryDelay is the wait before the second attempt, doubled after each
	// further failure (default 200ms).
	WebhookRetryDelay time.Duration
	// WebhookDisableAfter consecutive failed deliveries turn a webhook off (default 5).
	WebhookDisableAfter int
	// RandSeed seeds fault injection (default 1, so runs repeat).
	RandSeed int64
}

func (o Options) withDefaults() Options {
	if len(o.Users) == 0 {
		o.Users = map[string]string{"admin": "admin"}
	}
	if o.TokenTTL <= 0 {
		o.TokenTTL = 604799 * time.Second
	}
	if o.RefreshTokenTTL <= 0 {
		o.RefreshTokenTTL = 15 * 24 * time.Hour
	}
	if o.PageSizeMax <= 0 {
		o.PageSizeMax = 1000
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	switch {
	case o.CallsPerMinute == 0:
		o.CallsPerMinute = 120
	case o.CallsPerMinute < 0:
		o.CallsPerMinute = 0
	}
	switch {
	case o.WritesPerMinute == 0:
		o.WritesPerMinute = 60
	case o.WritesPerMinute < 0:
		o.WritesPerMinute = 0
	}
	switch {
	case o.WritesPerDay == 0:
		o.WritesPerDay = 2500
	case o.WritesPerDay < 0:
		o.WritesPerDay = 0
	}
	if o.WebhookAttempts <= 0 {
		o.WebhookAttempts = 3
	}
	if o.WebhookRetryDelay <= 0 {
		o.WebhookRetryDelay = 200 * time.Millisecond
	}
	if o.WebhookDisableAfter <= 0 {
		o.WebhookDisableAfter = 5
	}
	if o.RandSeed == 0 {
		o.RandSeed = 1
	}
	return o
}

// Server is a stateful Nexudus simulator. All methods are safe for concurrent use.
type Server struct {
	opts  Options
	kinds map[string]*kind

	mu     sync.Mutex
	tables map[string]*table
	auth   authState
	faults Faults
	rng    *rand.Rand
	window budgetWindow
	stats  Stats
	hooks  hookState
	// movedDesks are the desks whose holder a contract write just changed (see afterContract).
	movedDesks []int

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New returns an empty simulator; seed it with Seed or POST /admin/seed. Call Close to
// stop webhook delivery.
func New(opts Options) *Server {
	opts = opts.withDefaults()
	s := &Server{
		opts:   opts,
		kinds:  newKinds(),
		tables: map[string]*table{},
		rng:    rand.New(rand.NewSource(opts.RandSeed)),
		faults: Faults{CallsPerMinute: opts.CallsPerMinute, WritesPerMinute: opts.WritesPerMinute,
			WritesPerDay: opts.WritesPerDay, RetryAfter: 1},
	}
	for name := range s.kinds {
		s.tables[name] = &table{rows: map[int]record{}}
	}
	s.auth.init()
	s.stats.reset()
	s.hooks.init()
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s
}

// Close stops webhook delivery; queued deliveries are abandoned.
func (s *Server) Close() {
	s.cancel()
	s.wg.Wait()
}

// Handler serves the Nexudus API under /api and the admin API under /admin.
func (s *Server) Handler() http.Handler {
	api := http.NewServeMux()
	for _, k := range s.kinds {
		s.route(api, k)
	}
	api.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]string{"Message": "No HTTP resource was found that matches the request URI."})
	})
	root := http.NewServeMux()
	root.HandleFunc("POST /api/token", s.handleToken)
	root.Handle("/api/", s.apiMiddleware(api))
	s.routeAdmin(root)
	return root
}

func (s *Server) route(mux *http.ServeMux, k *kind) {
	mux.HandleFunc("GET "+k.path, func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		p, err := s.list(k, r.URL.Query())
		s.mu.Unlock()
		if err != nil {
			writeFailure(w, err)
			return
		}
		writeJSON(w, http.StatusOK, p)
	})
	mux.HandleFunc("GET "+k.path+"/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, ok := pathID(w, r, k)
		if !ok {
			return
		}
		s.mu.Lock()
		rec, found := s.get(k, id)
		var b []byte
		if found {
			b, _ = json.Marshal(rec)
		}
		s.mu.Unlock()
		if !found {
			writeJSON(w, http.StatusNotFound, map[string]string{"Message": fmt.Sprintf("%s %d was not found.", k.name, id)})
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_, _ = w.Write(b)
	})
	mux.HandleFunc("POST "+k.path, func(w http.ResponseWriter, r *http.Request) {
		body, ok := readBody(w, r)
		if !ok {
			return
		}
		s.mu.Lock()
		rec, err := s.createFromJSON(k, body, srcAPI)
		s.mu.Unlock()
		writeResult(w, k, "created", rec, err)
	})
	update := func(w http.ResponseWriter, r *http.Request) {
		body, ok := readBody(w, r)
		if !ok {
			return
		}
		id := 0
		if r.PathValue("id") != "" {
			if id, ok = pathID(w, r, k); !ok {
				return
			}
		} else {
			var probe struct{ Id int }
			_ = json.Unmarshal(body, &probe)
			id = probe.Id
		}
		s.mu.Lock()
		rec, err := s.updateFromJSON(k, id, body, srcAPI)
		s.mu.Unlock()
		writeResult(w, k, "updated", rec, err)
	}
	mux.HandleFunc("PUT "+k.path, update)
	mux.HandleFunc("PUT "+k.path+"/{id}", update)
	mux.HandleFunc("DELETE "+k.path+"/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, ok := pathID(w, r, k)
		if !ok {
			return
		}
		s.mu.Lock()
		rec, err := s.remove(k, id)
		s.mu.Unlock()
		writeResult(w, k, "deleted", rec, err)
	})
}

// createFromJSON decodes and stores a new record; the lock must be held.
func (s *Server) createFromJSON(k *kind, body []byte, src source) (record, error) {
	rec := k.new()
	if errs := decodeInto(rec, body); len(errs) > 0 {
		return nil, &writeError{status: 400, msg: fmt.Sprintf("The %s could not be created.", strings.ToLower(k.name)), errs: errs}
	}
	return s.save(k, nil, rec, src)
}

// updateFromJSON merges body into a copy of the stored record and stores it; the lock
// must be held.
func (s *Server) updateFromJSON(k *kind, id int, body []byte, src source) (record, error) {
	if id <= 0 {
		return nil, &writeError{status: 400, msg: "Id is required.", errs: []FieldError{fe("Id", "Id is required.", id)}}
	}
	old, ok := s.get(k, id)
	if !ok {
		return nil, &writeError{status: 404, msg: fmt.Sprintf("%s %d was not found.", k.name, id)}
	}
	cur := clone(old)
	if errs := decodeInto(cur, body); len(errs) > 0 {
		return nil, &writeError{status: 400, msg: fmt.Sprintf("The %s could not be updated.", strings.ToLower(k.name)), errs: errs}
	}
	return s.save(k, old, cur, src)
}

func pathID(w http.ResponseWriter, r *http.Request, k *kind) (int, bool) {
	id, err := strconv.Atoi(r.PathValue("id"))
	if err != nil || id <= 0 {
		writeJSON(w, http.StatusBadRequest, map[string]string{"Message": fmt.Sprintf("%q is not a valid %s id.", r.PathValue("id"), k.name)})
		return 0, false
	}
	return id, true
}

const maxBody = 1 << 20

func readLimited(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	return io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
}

func readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	b, err := readLimited(w, r, maxBody)
	if err != nil {
		writeJSON(w, http.StatusRequestEntityTooLarge, writeResponse{Status: 413, Message: "The request body is too large."})
		return nil, false
	}
	return b, true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeFailure(w http.ResponseWriter, err error) {
	var we *writeError
	if errors.As(err, &we) {
		writeJSON(w, we.status, writeResponse{Status: we.status, Message: we.msg, Errors: we.errs})
		return
	}
	writeJSON(w, http.StatusInternalServerError, writeResponse{Status: 500, Message: err.Error()})
}

func writeResult(w http.ResponseWriter, k *kind, verb string, rec record, err error) {
	if err != nil {
		writeFailure(w, err)
		return
	}
	writeJSON(w, http.StatusOK, writeResponse{
		Status:        200,
		Message:       fmt.Sprintf("%s was successfully %s.", k.name, verb),
		Value:         &writeValue{Id: rec.base().Id},
		WasSuccessful: true,
	})
}

var numericSegment = regexp.MustCompile(`/\d+(/|$)`)

// statsKey is "METHOD /path" with ids replaced by {id}, so calls aggregate per endpoint.
func statsKey(r *http.Request) string {
	p := numericSegment.ReplaceAllString(strings.TrimRight(r.URL.Path, "/"), "/{id}$1")
	return r.Method + " " + p
}

func isWrite(method string) bool {
	return method == http.MethodPost || method == http.MethodPut || method == http.MethodDelete || method == http.MethodPatch
}

// apiMiddleware applies, in order: call counting, latency, authentication, injected
// throttling, the call budget and injected errors.
func (s *Server) apiMiddleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := statsKey(r)
		s.mu.Lock()
		s.stats.Calls[key]++
		s.stats.Total++
		latency := s.faults.Latency
		s.mu.Unlock()

		if latency > 0 {
			t := time.NewTimer(latency)
			select {
			case <-r.Context().Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
		if !s.authenticate(r) {
			s.mu.Lock()
			s.stats.Unauthorized++
			s.mu.Unlock()
			w.Header().Set("WWW-Authenticate", `Bearer, Basic realm="Nexudus"`)
			writeJSON(w, http.StatusUnauthorized, map[string]string{"Message": "Authorization has been denied for this request."})
			return
		}

		s.mu.Lock()
		var retry int
		var reason string
		injectErr := false
		switch {
		case s.faults.ThrottleNext > 0:
			s.faults.ThrottleNext--
			retry, reason = max(s.faults.RetryAfter, 1), "injected throttling"
		case s.faults.ThrottleRate > 0 && s.rng.Float64() < s.faults.ThrottleRate:
			retry, reason = max(s.faults.RetryAfter, 1), "injected throttling"
		default:
			if retry, reason = s.admit(isWrite(r.Method)); retry == 0 {
				switch {
				case s.faults.ErrorNext > 0:
					s.faults.ErrorNext--
					injectErr = true
				case s.faults.ErrorRate > 0 && s.rng.Float64() < s.faults.ErrorRate:
					injectErr = true
				}
			}
		}
		if injectErr {
			s.stats.InjectedErrors++
		}
		if retry > 0 {
			s.stats.Throttled++
		}
		s.mu.Unlock()

		switch {
		case retry > 0:
			w.Header().Set("Retry-After", strconv.Itoa(retry))
			writeJSON(w, http.StatusConflict, writeResponse{Status: 409,
				Message: fmt.Sprintf("Too many requests (%s). Retry after %d seconds.", reason, retry)})
		case injectErr:
			writeJSON(w, http.StatusInternalServerError, map[string]string{
				"Message": "An error has occurred.", "ExceptionMessage": "Injected fault."})
		default:
			next.ServeHTTP(w, r)
		}
	})
}
