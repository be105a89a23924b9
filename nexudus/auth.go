package nexudus

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/oauth2"
)

// TokenPath is Nexudus' token endpoint.
const TokenPath = "/api/token"

// refreshTokenLifetime is how long Nexudus honours a refresh token; past it the client
// goes straight to the password grant instead of collecting a certain rejection.
const refreshTokenLifetime = 15 * 24 * time.Hour

// savedToken is the token state, also the TokenFile format. BaseURL and Username bind
// a stored token to the account it was issued for.
type savedToken struct {
	BaseURL       string    `json:"base_url"`
	Username      string    `json:"username"`
	AccessToken   string    `json:"access_token"`
	RefreshToken  string    `json:"refresh_token,omitempty"`
	Issued        time.Time `json:"issued"`
	Expiry        time.Time `json:"expiry,omitzero"`
	RefreshExpiry time.Time `json:"refresh_expiry,omitzero"`
}

// fresh reports whether the access token can still be sent. It is renewed a tenth of
// its lifetime (at most a minute) before expiry so that calls in flight do not hit a
// 401; a token without an expiry stays in use until Nexudus rejects it.
func (t *savedToken) fresh(now time.Time) bool {
	if t == nil || t.AccessToken == "" {
		return false
	}
	if t.Expiry.IsZero() {
		return true
	}
	skew := min(t.Expiry.Sub(t.Issued)/10, time.Minute)
	return now.Add(max(skew, 0)).Before(t.Expiry)
}

// tokenSource obtains and renews bearer tokens: the password grant first, then the
// refresh-token grant, falling back to the password grant when the refresh token is
// refused. One mutex serialises renewals so concurrent calls share one token request.
type tokenSource struct {
	mu       sync.Mutex
	oauth    oauth2.Config
	baseURL  string
	username string
	password string
	hc       *http.Client
	timeout  time.Duration
	file     string
	now      func() time.Time
	tok      *savedToken
	fileErr  error
}

func newTokenSource(cfg Config, now func() time.Time) *tokenSource {
	s := &tokenSource{
		oauth: oauth2.Config{Endpoint: oauth2.Endpoint{
			TokenURL: cfg.BaseURL + TokenPath,
			// Nexudus has no client id: credentials go in the form, and this stops
			// oauth2 from probing with an empty Basic header first.
			AuthStyle: oauth2.AuthStyleInParams,
		}},
		baseURL:  cfg.BaseURL,
		username: cfg.Username,
		password: cfg.Password,
		hc:       cfg.HTTPClient,
		timeout:  cfg.Timeout,
		file:     cfg.TokenFile,
		now:      now,
	}
	s.load()
	return s
}

// token returns an access token that is not about to expire.
func (s *tokenSource) token(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tok.fresh(s.now()) {
		return s.tok.AccessToken, nil
	}
	return s.renew(ctx)
}

// invalidate marks access as rejected (a 401), so the next token call renews it.
// Another goroutine may already have replaced it; then nothing happens.
func (s *tokenSource) invalidate(access string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tok != nil && s.tok.AccessToken == access {
		s.tok.AccessToken = ""
	}
}

func (s *tokenSource) renew(ctx context.Context) (string, error) {
	now := s.now()
	if s.tok != nil && s.tok.RefreshToken != "" && now.Before(s.tok.RefreshExpiry) {
		tok, err := s.fetch(ctx, "refresh_token", func(c context.Context) (*oauth2.Token, error) {
			// An expired token with only the refresh token set makes oauth2 refresh.
			return s.oauth.TokenSource(c, &oauth2.Token{RefreshToken: s.tok.RefreshToken}).Token()
		})
		if err == nil {
			return s.store(tok, false), nil
		}
		if !grantRefused(err) {
			// Network failure, 5xx or throttling: the password grant would fare no
			// better, and the refresh token may still be good.
			return "", err
		}
	}
	tok, err := s.fetch(ctx, "password", func(c context.Context) (*oauth2.Token, error) {
		return s.oauth.PasswordCredentialsToken(c, s.username, s.password)
	})
	if err != nil {
		return "", err
	}
	return s.store(tok, true), nil
}

func (s *tokenSource) fetch(ctx context.Context, grant string, get func(context.Context) (*oauth2.Token, error)) (*oauth2.Token, error) {
	actx, cancel := context.WithTimeout(context.WithValue(ctx, oauth2.HTTPClient, s.hc), s.timeout)
	defer cancel()
	tok, err := get(actx)
	if err == nil {
		if tok.AccessToken == "" {
			return nil, &Error{Method: http.MethodPost, Path: TokenPath, Status: http.StatusOK, Message: grant + " grant returned no access_token"}
		}
		return tok, nil
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		if actx.Err() != nil {
			err = errAttemptTimeout
		}
		// oauth2's transport errors name the URL only, never the form.
		return nil, &Error{Method: http.MethodPost, Path: TokenPath, Err: err}
	}
	status := http.StatusOK
	if re.Response != nil {
		status = re.Response.StatusCode
	}
	e := newHTTPError(http.MethodPost, TokenPath, status, re.Body)
	if re.ErrorCode != "" {
		e.Message = re.ErrorCode
		if re.ErrorDescription != "" {
			e.Message += ": " + re.ErrorDescription
		}
	}
	e.Message = grant + " grant refused: " + e.Message
	if status == http.StatusConflict || status == http.StatusTooManyRequests {
		e.Throttled = true
		e.RetryAfter = parseRetryAfter(re.Response.Header.Get("Retry-After"), s.now(), time.Second)
	}
	return nil, e
}

// grantRefused reports that the token endpoint answered and said no (invalid_grant and
// friends), as opposed to failing.
func grantRefused(err error) bool {
	var e *Error
	if !errors.As(err, &e) || e.Throttled || e.Status == 0 {
		return false
	}
	return e.Status < 500
}

func (s *tokenSource) store(tok *oauth2.Token, newLogin bool) string {
	now := s.now()
	st := &savedToken{
		BaseURL:      s.baseURL,
		Username:     s.username,
		AccessToken:  tok.AccessToken,
		RefreshToken: tok.RefreshToken,
		Issued:       now,
		Expiry:       tok.Expiry,
	}
	if tok.ExpiresIn > 0 {
		st.Expiry = now.Add(time.Duration(tok.ExpiresIn) * time.Second)
	}
	switch {
	case tok.RefreshToken == "":
	case newLogin || s.tok == nil || tok.RefreshToken != s.tok.RefreshToken:
		st.RefreshExpiry = now.Add(refreshTokenLifetime)
	default:
		st.RefreshExpiry = s.tok.RefreshExpiry
	}
	s.tok = st
	s.save()
	return st.AccessToken
}

// load reads TokenFile; a missing, unreadable or foreign file is ignored (the client
// logs in again and overwrites it).
func (s *tokenSource) load() {
	if s.file == "" {
		return
	}
	b, err := os.ReadFile(s.file)
	if err != nil {
		return
	}
	var st savedToken
	if json.Unmarshal(b, &st) != nil || st.BaseURL != s.baseURL || st.Username != s.username {
		return
	}
	s.tok = &st
}

// save writes TokenFile atomically with mode 0600. A failure does not fail the call
// that obtained the token; it is kept for Client.TokenFileError.
func (s *tokenSource) save() {
	if s.file == "" {
		return
	}
	b, err := json.Marshal(s.tok)
	if err == nil {
		err = writeFileAtomic(s.file, b, 0o600)
	}
	s.fileErr = err
}

func (s *tokenSource) lastFileError() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fileErr
}

// writeFileAtomic writes a temporary file beside path and renames it over path, so a
// crash never leaves a truncated file and readers see the old or the new content.
func writeFileAtomic(path string, data []byte, perm os.FileMode) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = os.Remove(tmp)
		}
	}()
	if err = f.Chmod(perm); err != nil {
		_ = f.Close()
		return err
	}
	if _, err = f.Write(data); err != nil {
		_ = f.Close()
		return err
	}
	if err = f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
