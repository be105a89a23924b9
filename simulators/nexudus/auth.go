package nexudussim

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"math"
	"net/http"
	"strings"
	"time"
)

type grant struct {
	user    string
	expires time.Time
}

type authState struct {
	access  map[string]grant
	refresh map[string]grant
}

func (a *authState) init() {
	a.access = map[string]grant{}
	a.refresh = map[string]grant{}
}

func newToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return hex.EncodeToString(b)
}

// checkPassword compares in constant time; an unknown user costs the same as a wrong
// password.
func (s *Server) checkPassword(user, pass string) bool {
	want, ok := s.opts.Users[user]
	eq := subtle.ConstantTimeCompare([]byte(want), []byte(pass)) == 1
	return ok && eq
}

// handleToken implements POST /api/token: the password grant and the refresh-token
// grant (which rotates the refresh token). Errors are OAuth-shaped.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "The request body must be form-encoded.")
		return
	}
	gt := r.PostForm.Get("grant_type")
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.Calls[statsKey(r)]++
	s.stats.Total++
	now := s.opts.Clock()
	var user string
	switch gt {
	case "password":
		u := r.PostForm.Get("username")
		if !s.checkPassword(u, r.PostForm.Get("password")) {
			s.stats.TokenRequests["password:refused"]++
			oauthError(w, http.StatusBadRequest, "invalid_grant", "The user name or password is incorrect.")
			return
		}
		user = u
	case "refresh_token":
		rt := r.PostForm.Get("refresh_token")
		g, ok := s.auth.refresh[rt]
		if !ok || !now.Before(g.expires) {
			delete(s.auth.refresh, rt)
			s.stats.TokenRequests["refresh_token:refused"]++
			oauthError(w, http.StatusBadRequest, "invalid_grant", "The refresh token is invalid or expired.")
			return
		}
		delete(s.auth.refresh, rt)
		user = g.user
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "grant_type must be password or refresh_token.")
		return
	}
	s.stats.TokenRequests[gt]++
	access, refresh := newToken(), newToken()
	s.auth.access[access] = grant{user: user, expires: now.Add(s.opts.TokenTTL)}
	s.auth.refresh[refresh] = grant{user: user, expires: now.Add(s.opts.RefreshTokenTTL)}
	s.pruneTokens(now)
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token":  access,
		"token_type":    "bearer",
		"expires_in":    int(math.Ceil(s.opts.TokenTTL.Seconds())),
		"refresh_token": refresh,
	})
}

// pruneTokens drops expired tokens so long runs do not grow without bound.
func (s *Server) pruneTokens(now time.Time) {
	for k, g := range s.auth.access {
		if !now.Before(g.expires) {
			delete(s.auth.access, k)
		}
	}
	for k, g := range s.auth.refresh {
		if !now.Before(g.expires) {
			delete(s.auth.refresh, k)
		}
	}
}

func oauthError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

// authenticate accepts a live bearer token or Basic credentials.
func (s *Server) authenticate(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		tok := strings.TrimSpace(h[7:])
		s.mu.Lock()
		defer s.mu.Unlock()
		g, ok := s.auth.access[tok]
		return ok && s.opts.Clock().Before(g.expires)
	}
	if u, p, ok := r.BasicAuth(); ok {
		return s.checkPassword(u, p)
	}
	return false
}

// ExpireAccessTokens makes every issued access token invalid at once, as if it had
// expired early; clients must react to the 401.
func (s *Server) ExpireAccessTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.auth.access = map[string]grant{}
}

// RevokeRefreshTokens makes every refresh token invalid; clients must fall back to the
// password grant.
func (s *Server) RevokeRefreshTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.auth.refresh = map[string]grant{}
}
