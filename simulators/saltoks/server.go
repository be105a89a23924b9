package saltoks

import (
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	// Site time zones are IANA names; embedding the database keeps local_date_time right on hosts without one.
	_ "time/tzdata"
)

// Defaults used when Options leaves a field zero.
const (
	DefaultClientID     = "nexsalto-simulator"
	DefaultClientSecret = "nexsalto-simulator-secret"
	DefaultTokenTTL     = 3600 * time.Second
	DefaultPageSize     = 100
	DefaultTimeZone     = "Europe/Amsterdam"
)

// Options configure a Server. The zero value is usable.
type Options struct {
	// TokenTTL is the access-token lifetime (default 3600 s, as on the live identity server).
	TokenTTL time.Duration
	// RotateRefreshTokens issues a new refresh token on every refresh and invalidates the old one.
	RotateRefreshTokens bool
	// ClientID and ClientSecret are the only client credentials accepted (defaults DefaultClientID/Secret).
	ClientID, ClientSecret string
	// Users maps user name to password for the password grant. Nil allows no password grant.
	Users map[string]string
	// RedirectURIs, when not empty, lists the redirect URIs /connect/authorize accepts; empty accepts any
	// absolute http(s) URI.
	RedirectURIs []string
	// Seats is the licence-seat limit of sites seeded without their own (0 = unlimited).
	Seats int
	// ConsistencyWindow delays group joins (404 2202) and PIN calls (403 2203) after a user is created.
	ConsistencyWindow time.Duration
	// PageSize is the page length of enveloped lists (default DefaultPageSize).
	PageSize int
	// RelativeNextLinks makes next_page_link a path plus query instead of an absolute URL.
	RelativeNextLinks bool
	// Clock is the simulator's notion of now: token expiry, consistency window, default entry times.
	// Default time.Now.
	Clock func() time.Time
	// Faults are the faults active from the start.
	Faults Faults
	// Guesses choose the answers where the live behaviour is unknown (zero: the defaults; see Guesses).
	Guesses Guesses
	// Seed makes injected faults reproducible when not zero.
	Seed uint64
}

// Server is the simulator. Create it with New; it is safe for concurrent use.
type Server struct {
	opts Options
	now  func() time.Time
	mux  *http.ServeMux

	mu            sync.Mutex
	sites         map[string]*site
	siteOrder     []string
	accessTokens  map[string]*accessToken
	refreshTokens map[string]*refreshToken
	codes         map[string]*authCode
	faults        Faults
	guesses       Guesses
	limiter       *rate.Limiter
	rng           *rand.Rand
	calls         map[string]int
	responses     map[int]int
}

// New returns a Server with no sites. Seed it with the Seed* methods or the admin API.
func New(opts Options) *Server {
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = DefaultTokenTTL
	}
	if opts.ClientID == "" {
		opts.ClientID = DefaultClientID
	}
	if opts.ClientSecret == "" {
		opts.ClientSecret = DefaultClientSecret
	}
	if opts.PageSize <= 0 {
		opts.PageSize = DefaultPageSize
	}
	now := opts.Clock
	if now == nil {
		now = time.Now
	}
	seed1, seed2 := opts.Seed, opts.Seed^0x9e3779b97f4a7c15
	if opts.Seed == 0 {
		seed1, seed2 = rand.Uint64(), rand.Uint64()
	}
	s := &Server{
		opts:          opts,
		now:           now,
		mux:           http.NewServeMux(),
		sites:         map[string]*site{},
		accessTokens:  map[string]*accessToken{},
		refreshTokens: map[string]*refreshToken{},
		codes:         map[string]*authCode{},
		rng:           rand.New(rand.NewPCG(seed1, seed2)),
		calls:         map[string]int{},
		responses:     map[int]int{},
	}
	// Options are trusted input from the test or devstack that builds the server; invalid rates are clamped.
	s.setFaultsLocked(opts.Faults.normalized())
	s.guesses = opts.Guesses.normalized()
	s.routes()
	return s
}

// Handler serves the identity endpoints, the API and the admin API.
func (s *Server) Handler() http.Handler { return s.mux }

func (s *Server) routes() {
	m := s.mux
	m.HandleFunc("GET /connect/authorize", s.counted("GET /connect/authorize", s.handleAuthorize))
	m.HandleFunc("POST /connect/token", s.counted("POST /connect/token", s.handleToken))

	s.api("GET /v1.2/sites", s.listSites)
	s.api("GET /v1.2/sites/{site}", s.getSite)
	s.api("GET /v1.2/sites/{site}/users", s.listUsers)
	s.api("POST /v1.2/sites/{site}/users", s.createUser)
	s.api("GET /v1.2/sites/{site}/users/{user}", s.getUser)
	s.api("PATCH /v1.2/sites/{site}/users/{user}", s.patchUser)
	s.api("DELETE /v1.2/sites/{site}/users/{user}", s.deleteUser)
	s.api("PATCH /v1.2/sites/{site}/users/{user}/subscription", s.setSubscription)
	s.api("PUT /v1.2/sites/{site}/users/{user}/pin", s.generatePIN)
	s.api("POST /v1.2/sites/{site}/guests", s.createGuest)
	s.api("GET /v1.2/sites/{site}/access_groups", s.listAccessGroups)
	s.api("POST /v1.2/sites/{site}/access_groups", s.createAccessGroup)
	s.api("GET /v1.2/sites/{site}/access_groups/{group}/users", s.listGroupMembers)
	s.api("POST /v1.2/sites/{site}/access_groups/{group}/users", s.addGroupMember)
	s.api("DELETE /v1.2/sites/{site}/access_groups/{group}/users/{user}", s.removeGroupMember)
	s.api("GET /v1.2/sites/{site}/locks", s.listLocks)
	s.api("GET /v1.1/sites/{site}/access_groups/{group}/time_schedules", s.listTimeSchedules)
	s.api("GET /v1.1/sites/{site}/entries", s.listEntries)
	// Unknown API paths answer in the API's error shape instead of the mux's plain-text 404.
	s.api("/v1.1/", s.notFound)
	s.api("/v1.2/", s.notFound)

	s.adminRoutes()
	s.guessRoutes()
}

// reply is what an API handler computes under the lock; the middleware writes it after the lock is released.
type reply struct {
	status int
	body   any // nil: no body
	header http.Header
}

func okReply(body any) reply      { return reply{status: http.StatusOK, body: body} }
func createdReply(body any) reply { return reply{status: http.StatusCreated, body: body} }

// apiError is the live API's error body.
type apiError struct {
	ErrorCode string `json:"ErrorCode"`
	Message   string `json:"Message"`
}

func errReply(status int, code, msg string) reply {
	return reply{status: status, body: apiError{ErrorCode: code, Message: msg}}
}

// Error codes. The first five were seen on the live API; the others are this simulator's choices.
const (
	CodeBadParameter     = "1100"
	CodeValidation       = "1101"
	CodeBadOrderBy       = "1102"
	CodeSiteNotFound     = "2201"
	CodeUserNotFound     = "2202"
	CodeNoPermission     = "2203"
	CodeGroupNotFound    = "2204"
	CodeLockNotFound     = "2205"
	CodeAlreadyMember    = "2206"
	CodeNoFreeSeat       = "2301"
	CodeRateLimited      = "4290"
	CodeInjectedFailure  = "5000"
	codeUnknownEndpoint  = "1100"
	defaultRetryAfterSec = 1
)

func (s *Server) notFound(*http.Request) reply {
	return errReply(http.StatusNotFound, codeUnknownEndpoint, "No such endpoint")
}

// statusRecorder remembers the status for the response counters.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// counted wraps identity handlers so they show up in the stats too.
func (s *Server) counted(pattern string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		s.count(pattern)
		h(rec, r)
		s.countResponse(rec.status)
	}
}

// api registers an API handler behind stats, fault injection and bearer authentication, in that order: a real
// gateway throttles and fails before it looks at credentials.
func (s *Server) api(pattern string, h func(*http.Request) reply) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		s.count(pattern)
		rep, done := s.injectFault(r)
		if !done {
			rep, done = s.authenticate(r)
		}
		if !done {
			rep = h(r)
			if s.loseAnswer(r) {
				s.countResponse(0) // Stats: status 0 is an answer lost
				dropConnection(w)
				return
			}
		}
		s.countResponse(rep.status)
		writeReply(w, rep)
	})
}

// dropConnection closes the client's connection without an answer.
func dropConnection(w http.ResponseWriter) {
	if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
		_ = conn.Close()
		return
	}
	panic(http.ErrAbortHandler) // HTTP/2: abort the stream instead
}

func writeReply(w http.ResponseWriter, rep reply) {
	for k, vs := range rep.header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	if rep.body == nil {
		w.WriteHeader(rep.status)
		return
	}
	writeJSON(w, rep.status, rep.body)
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	b, err := json.Marshal(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func (s *Server) count(pattern string) {
	s.mu.Lock()
	s.calls[pattern]++
	s.mu.Unlock()
}

func (s *Server) countResponse(status int) {
	s.mu.Lock()
	s.responses[status]++
	s.mu.Unlock()
}
