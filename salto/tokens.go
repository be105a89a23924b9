package salto

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/oauth2"
)

// TokenStore keeps the newest token in a JSON file readable only by its owner. The live identity server does
// not document refresh-token rotation, so every newly issued refresh token is written at once: losing it would
// mean an operator has to log in again.
type TokenStore struct {
	path string
}

// NewTokenStore returns a store for path; the file is created on the first Save.
func NewTokenStore(path string) *TokenStore { return &TokenStore{path: path} }

// Path is the file the store writes.
func (s *TokenStore) Path() string { return s.path }

type storedToken struct {
	AccessToken  string    `json:"access_token,omitempty"`
	TokenType    string    `json:"token_type,omitempty"`
	RefreshToken string    `json:"refresh_token"`
	Expiry       time.Time `json:"expiry,omitzero"`
	SavedAt      time.Time `json:"saved_at"`
}

// Load reads the stored token. A missing file gives an error matching fs.ErrNotExist.
func (s *TokenStore) Load() (*oauth2.Token, error) {
	b, err := os.ReadFile(s.path)
	if err != nil {
		return nil, err
	}
	var st storedToken
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("salto: token file %s is not valid JSON", s.path) // no content in the message
	}
	if st.RefreshToken == "" && st.AccessToken == "" {
		return nil, fmt.Errorf("salto: token file %s holds no token", s.path)
	}
	return &oauth2.Token{AccessToken: st.AccessToken, TokenType: st.TokenType, RefreshToken: st.RefreshToken,
		Expiry: st.Expiry}, nil
}

// Save replaces the file atomically: a temporary file in the same directory, created 0600, synced, then
// renamed over the old one, so a crash leaves either the old or the new token and never half of one.
func (s *TokenStore) Save(tok *oauth2.Token) (err error) {
	b, err := json.MarshalIndent(storedToken{AccessToken: tok.AccessToken, TokenType: tok.TokenType,
		RefreshToken: tok.RefreshToken, Expiry: tok.Expiry, SavedAt: time.Now().UTC()}, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(s.path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(s.path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = os.Remove(tmp)
		}
	}()
	if err = f.Chmod(0o600); err == nil {
		_, err = f.Write(append(b, '\n'))
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err = os.Rename(tmp, s.path); err != nil {
		return err
	}
	// Make the rename itself durable; not every platform can sync a directory, so failures are ignored.
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

// tokenManager hands out access tokens: one token request at a time, proactive refresh shortly before expiry,
// a forced refresh when the API rejected a token, and persistence of every new refresh token.
type tokenManager struct {
	oauth    *oauth2.Config
	store    *TokenStore // nil: memory only
	username string
	password string
	hc       *http.Client
	now      func() time.Time

	sem      chan struct{} // a mutex that respects context cancellation
	loaded   bool
	tok      *oauth2.Token
	lifetime time.Duration // of tok, when known
	saved    string        // the refresh token last written to the store
}

const defaultExpiryMargin = 10 * time.Second

func (m *tokenManager) lock(ctx context.Context) error {
	select {
	case m.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (m *tokenManager) unlock() { <-m.sem }

// fresh reports whether tok can still be sent. The margin is 10 s, or a tenth of the token's lifetime for
// short-lived tokens, so a token is never used in its last moments.
func (m *tokenManager) fresh(tok *oauth2.Token) bool {
	if tok == nil || tok.AccessToken == "" {
		return false
	}
	if tok.Expiry.IsZero() {
		return true
	}
	margin := defaultExpiryMargin
	if m.lifetime > 0 && m.lifetime/10 < margin {
		margin = m.lifetime / 10
	}
	return m.now().Add(margin).Before(tok.Expiry)
}

func (m *tokenManager) tokenPath() string {
	if u, err := parseAbsURL("TokenURL", m.oauth.Endpoint.TokenURL); err == nil {
		return u.Path
	}
	return ""
}

// accessToken returns a token to send. rejected, when not empty, is a token the API just answered 401 to: it is
// replaced even though it looks valid, unless a concurrent call has replaced it already.
func (m *tokenManager) accessToken(ctx context.Context, rejected string) (*oauth2.Token, error) {
	if err := m.lock(ctx); err != nil {
		return nil, transportError(http.MethodPost, m.tokenPath(), err)
	}
	defer m.unlock()
	if err := m.loadLocked(); err != nil {
		return nil, err
	}
	if m.tok == nil || m.tok.AccessToken == rejected || !m.fresh(m.tok) {
		tok, err := m.obtainLocked(ctx)
		if err != nil {
			return nil, err
		}
		m.adoptLocked(tok)
	}
	// Persist here rather than right after obtaining, so a failed write is retried on the next call.
	if err := m.persistLocked(); err != nil {
		return nil, err
	}
	// A copy without the refresh token: callers only ever send the access token.
	return &oauth2.Token{AccessToken: m.tok.AccessToken, TokenType: "Bearer", Expiry: m.tok.Expiry}, nil
}

func (m *tokenManager) loadLocked() error {
	if m.loaded || m.store == nil {
		m.loaded = true
		return nil
	}
	tok, err := m.store.Load()
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return &Error{Kind: KindAuth, Message: "reading the token file failed", err: err}
	default:
		m.tok, m.saved = tok, tok.RefreshToken
	}
	m.loaded = true
	return nil
}

func (m *tokenManager) oauthContext(ctx context.Context) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, m.hc)
}

func (m *tokenManager) refresh(ctx context.Context, refreshToken string) (*oauth2.Token, error) {
	return m.oauth.TokenSource(m.oauthContext(ctx), &oauth2.Token{RefreshToken: refreshToken}).Token()
}

func isInvalidGrant(err error) bool {
	var re *oauth2.RetrieveError
	return errors.As(err, &re) && re.ErrorCode == "invalid_grant"
}

// obtainLocked gets a new token: refresh token first, then (when configured) the password grant.
func (m *tokenManager) obtainLocked(ctx context.Context) (*oauth2.Token, error) {
	var lastErr error
	if m.tok != nil && m.tok.RefreshToken != "" {
		tok, err := m.refresh(ctx, m.tok.RefreshToken)
		if err == nil {
			return tok, nil
		}
		if !isInvalidGrant(err) {
			return nil, tokenError(m.tokenPath(), err)
		}
		lastErr = err
		// Another process sharing the token file may have rotated the refresh token since we read it.
		if m.store != nil {
			if st, lerr := m.store.Load(); lerr == nil && st.RefreshToken != "" &&
				st.RefreshToken != m.tok.RefreshToken {
				tok, err = m.refresh(ctx, st.RefreshToken)
				if err == nil {
					return tok, nil
				}
				if !isInvalidGrant(err) {
					return nil, tokenError(m.tokenPath(), err)
				}
				lastErr = err
			}
		}
	}
	if m.username != "" {
		tok, err := m.oauth.PasswordCredentialsToken(m.oauthContext(ctx), m.username, m.password)
		if err != nil {
			return nil, tokenError(m.tokenPath(), err)
		}
		return tok, nil
	}
	if lastErr != nil {
		e := tokenError(m.tokenPath(), lastErr)
		e.Message = "the stored refresh token was rejected; connect again"
		return nil, e
	}
	return nil, &Error{Kind: KindAuth, Message: ErrNotConnected.Error(), err: ErrNotConnected}
}

// adoptLocked makes tok current. The expiry is recomputed from expires_in on the manager's clock.
func (m *tokenManager) adoptLocked(tok *oauth2.Token) {
	m.lifetime = 0
	if tok.ExpiresIn > 0 {
		m.lifetime = time.Duration(tok.ExpiresIn) * time.Second
		tok.Expiry = m.now().Add(m.lifetime)
	}
	if tok.RefreshToken == "" && m.tok != nil {
		tok.RefreshToken = m.tok.RefreshToken // a refresh without rotation may omit it
	}
	m.tok = tok
}

// persistLocked writes the current token when its refresh token is one the store has not seen yet.
func (m *tokenManager) persistLocked() error {
	if m.store == nil || m.tok == nil || m.tok.RefreshToken == "" || m.tok.RefreshToken == m.saved {
		return nil
	}
	if err := m.store.Save(m.tok); err != nil {
		return &Error{Kind: KindOther, Message: "saving the new refresh token failed", err: err}
	}
	m.saved = m.tok.RefreshToken
	return nil
}

// exchange trades an authorization code for a token and persists it.
func (m *tokenManager) exchange(ctx context.Context, code, verifier string) error {
	if err := m.lock(ctx); err != nil {
		return transportError(http.MethodPost, m.tokenPath(), err)
	}
	defer m.unlock()
	tok, err := m.oauth.Exchange(m.oauthContext(ctx), code, oauth2.VerifierOption(verifier))
	if err != nil {
		return tokenError(m.tokenPath(), err)
	}
	m.loaded = true // the new token wins over whatever the file held
	m.tok = nil
	m.adoptLocked(tok)
	return m.persistLocked()
}
