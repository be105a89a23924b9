package saltoks

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Scopes known to the identity server.
const (
	ScopeAPI     = "user_api.full_access"
	ScopeOffline = "offline_access"
)

var knownScopes = []string{ScopeAPI, ScopeOffline, "openid", "profile"}

const authCodeTTL = 5 * time.Minute

type accessToken struct {
	subject string
	scopes  []string
	expires time.Time
}

type refreshToken struct {
	subject string
	scopes  []string
}

type authCode struct {
	redirectURI string
	challenge   string
	scopes      []string
	expires     time.Time
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return base64.RawURLEncoding.EncodeToString(b)
}

type oauthError struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description,omitempty"`
}

func writeOAuthError(w http.ResponseWriter, status int, code, desc string) {
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="identity"`)
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, oauthError{Error: code, ErrorDescription: desc})
}

// parseScopes splits a scope parameter and rejects unknown scopes.
func parseScopes(raw string) ([]string, bool) {
	scopes := strings.Fields(raw)
	if len(scopes) == 0 {
		return []string{ScopeAPI}, true
	}
	for _, sc := range scopes {
		if !slices.Contains(knownScopes, sc) {
			return nil, false
		}
	}
	return scopes, true
}

func (s *Server) clientAuthenticated(r *http.Request) bool {
	id, secret, ok := r.BasicAuth()
	if !ok {
		return false
	}
	// RFC 6749 §2.3.1: id and secret are form-urlencoded before Basic encoding.
	id, err1 := url.QueryUnescape(id)
	secret, err2 := url.QueryUnescape(secret)
	if err1 != nil || err2 != nil {
		return false
	}
	idOK := subtle.ConstantTimeCompare([]byte(id), []byte(s.opts.ClientID)) == 1
	secretOK := subtle.ConstantTimeCompare([]byte(secret), []byte(s.opts.ClientSecret)) == 1
	return idOK && secretOK
}

// handleAuthorize auto-approves: the simulator has no login page, so it redirects straight back with a code, as
// the live server does for an operator who ticked "Remember My Decision".
func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("client_id") != s.opts.ClientID {
		http.Error(w, "unknown client_id", http.StatusBadRequest)
		return
	}
	redirect, err := url.Parse(q.Get("redirect_uri"))
	if err != nil || !redirect.IsAbs() || (redirect.Scheme != "http" && redirect.Scheme != "https") ||
		redirect.Fragment != "" {
		http.Error(w, "redirect_uri must be an absolute http(s) URI", http.StatusBadRequest)
		return
	}
	if len(s.opts.RedirectURIs) > 0 && !slices.Contains(s.opts.RedirectURIs, redirect.String()) {
		http.Error(w, "redirect_uri is not registered for this client", http.StatusBadRequest)
		return
	}
	// From here on errors go back to the client through the redirect, as RFC 6749 §4.1.2.1 asks.
	back := func(params url.Values) {
		rq := redirect.Query()
		for k, vs := range params {
			rq[k] = vs
		}
		if st := q.Get("state"); st != "" {
			rq.Set("state", st)
		}
		u := *redirect
		u.RawQuery = rq.Encode()
		http.Redirect(w, r, u.String(), http.StatusFound)
	}
	fail := func(code, desc string) {
		back(url.Values{"error": {code}, "error_description": {desc}})
	}
	if q.Get("response_type") != "code" {
		fail("unsupported_response_type", "only response_type=code is supported")
		return
	}
	challenge := q.Get("code_challenge")
	if challenge == "" || q.Get("code_challenge_method") != "S256" {
		fail("invalid_request", "PKCE with code_challenge_method=S256 is required")
		return
	}
	scopes, ok := parseScopes(q.Get("scope"))
	if !ok {
		fail("invalid_scope", "unknown scope")
		return
	}
	code := randomToken()
	s.mu.Lock()
	s.codes[code] = &authCode{
		redirectURI: q.Get("redirect_uri"),
		challenge:   challenge,
		scopes:      scopes,
		expires:     s.now().Add(authCodeTTL),
	}
	s.mu.Unlock()
	back(url.Values{"code": {code}})
}

type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope"`
}

func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	if !s.clientAuthenticated(r) {
		writeOAuthError(w, http.StatusUnauthorized, "invalid_client", "client authentication failed")
		return
	}
	if err := r.ParseForm(); err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "malformed form body")
		return
	}
	f := r.PostForm
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	switch f.Get("grant_type") {
	case "password":
		want, known := s.opts.Users[f.Get("username")]
		if f.Get("username") == "" || !known ||
			subtle.ConstantTimeCompare([]byte(want), []byte(f.Get("password"))) != 1 {
			writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "invalid username or password")
			return
		}
		scopes, ok := parseScopes(f.Get("scope"))
		if !ok {
			writeOAuthError(w, http.StatusBadRequest, "invalid_scope", "unknown scope")
			return
		}
		s.issueLocked(w, now, f.Get("username"), scopes, "")
	case "authorization_code":
		code, ok := s.codes[f.Get("code")]
		if ok {
			delete(s.codes, f.Get("code")) // single use, even when the exchange below fails
		}
		if !ok || now.After(code.expires) {
			writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "unknown or expired code")
			return
		}
		if f.Get("redirect_uri") != code.redirectURI {
			writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "redirect_uri does not match")
			return
		}
		verifier := f.Get("code_verifier")
		sum := sha256.Sum256([]byte(verifier))
		got := base64.RawURLEncoding.EncodeToString(sum[:])
		if len(verifier) < 43 || len(verifier) > 128 ||
			subtle.ConstantTimeCompare([]byte(got), []byte(code.challenge)) != 1 {
			writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "PKCE verification failed")
			return
		}
		s.issueLocked(w, now, "operator", code.scopes, "")
	case "refresh_token":
		old := f.Get("refresh_token")
		rt, ok := s.refreshTokens[old]
		if !ok {
			writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "unknown refresh token")
			return
		}
		if s.opts.RotateRefreshTokens {
			delete(s.refreshTokens, old)
			old = ""
		}
		s.issueLocked(w, now, rt.subject, rt.scopes, old)
	default:
		writeOAuthError(w, http.StatusBadRequest, "unsupported_grant_type", "unsupported grant_type")
	}
}

// issueLocked writes a token response. keepRefresh, when set, is the refresh token to hand back unchanged.
func (s *Server) issueLocked(w http.ResponseWriter, now time.Time, subject string, scopes []string,
	keepRefresh string) {
	s.sweepLocked(now)
	at := randomToken()
	s.accessTokens[at] = &accessToken{subject: subject, scopes: scopes, expires: now.Add(s.opts.TokenTTL)}
	resp := tokenResponse{
		AccessToken: at,
		TokenType:   "Bearer",
		ExpiresIn:   int64(s.opts.TokenTTL / time.Second),
		Scope:       strings.Join(scopes, " "),
	}
	if slices.Contains(scopes, ScopeOffline) {
		resp.RefreshToken = keepRefresh
		if resp.RefreshToken == "" {
			resp.RefreshToken = randomToken()
			s.refreshTokens[resp.RefreshToken] = &refreshToken{subject: subject, scopes: scopes}
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, resp)
}

// sweepLocked drops expired access tokens and codes so long benchmark runs do not grow without bound.
func (s *Server) sweepLocked(now time.Time) {
	if len(s.accessTokens) < 1024 && len(s.codes) < 1024 {
		return
	}
	for k, t := range s.accessTokens {
		if now.After(t.expires) {
			delete(s.accessTokens, k)
		}
	}
	for k, c := range s.codes {
		if now.After(c.expires) {
			delete(s.codes, k)
		}
	}
}

// authenticate checks the bearer token of an API call.
func (s *Server) authenticate(r *http.Request) (reply, bool) {
	h := r.Header.Get("Authorization")
	scheme, tok, found := strings.Cut(h, " ")
	if !found || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return unauthorized(), true
	}
	s.mu.Lock()
	at, ok := s.accessTokens[tok]
	now := s.now()
	s.mu.Unlock()
	if !ok || !now.Before(at.expires) {
		return unauthorized(), true
	}
	if !slices.Contains(at.scopes, ScopeAPI) {
		return errReply(http.StatusForbidden, CodeNoPermission, "The token lacks scope "+ScopeAPI), true
	}
	return reply{}, false
}

func unauthorized() reply {
	return reply{
		status: http.StatusUnauthorized,
		header: http.Header{"Www-Authenticate": {`Bearer error="invalid_token"`}},
	}
}

// RevokeAccessTokens invalidates every access token; refresh tokens stay valid. Clients then see a 401.
func (s *Server) RevokeAccessTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accessTokens = map[string]*accessToken{}
}
