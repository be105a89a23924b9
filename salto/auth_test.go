package salto_test

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/nexsalto/nexsalto/salto"
	"github.com/nexsalto/nexsalto/simulators/saltoks"
)

var errorsAs = errors.As

func TestPasswordGrantStoresTheToken(t *testing.T) {
	h := newHarness(t, saltoks.Options{})
	cfg := h.config()
	c := h.client(cfg)
	ctx := ctxT(t)

	sites, err := c.ListSites(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(sites) != 1 || sites[0].ID != h.site.ID || sites[0].SiteUID != "ams-1" {
		t.Fatalf("sites: %+v", sites)
	}
	site, err := c.GetSite(ctx, h.site.ID)
	if err != nil || site.TimeZone != "Europe/Amsterdam" || !site.PinEnabled {
		t.Fatalf("site: %+v %v", site, err)
	}
	if n := h.tokenCalls(); n != 1 {
		t.Fatalf("token calls: %d, want 1 (the token is reused)", n)
	}
	st, err := os.Stat(cfg.TokenFile)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("token file mode %v, want 0600", st.Mode().Perm())
	}
	if m := h.readTokenFile(cfg.TokenFile); m["refresh_token"] == "" || m["refresh_token"] == nil {
		t.Fatalf("token file lacks the refresh token: %v", m)
	}
}

func TestTokenExpiryRefreshesBeforeTheServerRefuses(t *testing.T) {
	clock := newFakeClock()
	h := newHarness(t, saltoks.Options{Clock: clock.Now, TokenTTL: time.Minute})
	c := h.client(h.config())
	salto.SetClock(c, clock.Now)
	ctx := ctxT(t)

	mustList := func() {
		t.Helper()
		if _, err := c.ListSites(ctx); err != nil {
			t.Fatal(err)
		}
	}
	mustList()
	clock.Advance(30 * time.Second)
	mustList()
	if n := h.tokenCalls(); n != 1 {
		t.Fatalf("token calls after 30 s: %d", n)
	}
	clock.Advance(31 * time.Second) // past the 60 s lifetime
	mustList()
	if n := h.tokenCalls(); n != 2 {
		t.Fatalf("token calls after expiry: %d, want 2", n)
	}
	if n := h.sim.Stats().Responses[401]; n != 0 {
		t.Fatalf("the client must refresh before sending an expired token; got %d 401s", n)
	}
}

func TestShortRealTTL(t *testing.T) {
	h := newHarness(t, saltoks.Options{TokenTTL: time.Second})
	c := h.client(h.config())
	ctx := ctxT(t)
	if _, err := c.ListSites(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond)
	if _, err := c.ListSites(ctx); err != nil {
		t.Fatal(err)
	}
	if n := h.tokenCalls(); n != 2 {
		t.Fatalf("token calls: %d, want 2", n)
	}
	if n := h.sim.Stats().Responses[401]; n != 0 {
		t.Fatalf("401s: %d", n)
	}
}

func TestRotatedRefreshTokenIsPersisted(t *testing.T) {
	clock := newFakeClock()
	h := newHarness(t, saltoks.Options{Clock: clock.Now, RotateRefreshTokens: true, TokenTTL: time.Minute})
	cfg := h.config()
	c := h.client(cfg)
	salto.SetClock(c, clock.Now)
	ctx := ctxT(t)

	if _, err := c.ListSites(ctx); err != nil {
		t.Fatal(err)
	}
	rt1 := h.readTokenFile(cfg.TokenFile)["refresh_token"].(string)
	clock.Advance(2 * time.Minute)
	if _, err := c.ListSites(ctx); err != nil {
		t.Fatal(err)
	}
	rt2 := h.readTokenFile(cfg.TokenFile)["refresh_token"].(string)
	if rt2 == rt1 {
		t.Fatal("the rotated refresh token was not written")
	}
	if st, _ := os.Stat(cfg.TokenFile); st.Mode().Perm() != 0o600 {
		t.Fatalf("mode after rewrite: %v", st.Mode().Perm())
	}
	entries, _ := os.ReadDir(filepath.Dir(cfg.TokenFile))
	if len(entries) != 1 {
		t.Fatalf("temporary files left behind: %v", entries)
	}
	if status := h.refreshRaw(rt1); status != http.StatusBadRequest {
		t.Fatalf("the old refresh token must be dead after rotation: %d", status)
	}

	// Two processes without a system user share the file: B rotates the token, A's in-memory token dies, and A
	// recovers by reading the file again instead of asking an operator to log in.
	cfgNoUser := cfg
	cfgNoUser.Username, cfgNoUser.Password = "", ""
	a, b := h.client(cfgNoUser), h.client(cfgNoUser)
	salto.SetClock(a, clock.Now)
	salto.SetClock(b, clock.Now)
	if _, err := a.ListSites(ctx); err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * time.Minute)
	if _, err := b.ListSites(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := a.ListSites(ctx); err != nil {
		t.Fatalf("A must pick up B's rotated token from the file: %v", err)
	}
}

func TestA401RefreshesOnceAndRetries(t *testing.T) {
	h := newHarness(t, saltoks.Options{})
	c := h.client(h.config())
	ctx := ctxT(t)
	if _, err := c.ListSites(ctx); err != nil {
		t.Fatal(err)
	}
	h.sim.ResetStats()
	h.sim.RevokeAccessTokens() // the client's token still looks valid to it

	if _, err := c.ListSites(ctx); err != nil {
		t.Fatalf("one refresh and one retry must hide the revocation: %v", err)
	}
	st := h.sim.Stats()
	if st.Calls["GET /v1.2/sites"] != 2 || st.Calls["POST /connect/token"] != 1 || st.Responses[401] != 1 {
		t.Fatalf("stats: %+v", st)
	}

	// Concurrent callers that all hit the revoked token share one refresh.
	h.sim.RevokeAccessTokens()
	h.sim.ResetStats()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := c.ListSites(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := h.tokenCalls(); n != 1 {
		t.Fatalf("concurrent 401s caused %d refreshes, want 1", n)
	}

	// A server that keeps answering 401 gets exactly one retry, then an Auth error.
	if err := h.sim.SetFaults(saltoks.Faults{UnauthorizedRate: 1}); err != nil {
		t.Fatal(err)
	}
	h.sim.ResetStats()
	_, err := c.ListSites(ctx)
	e := wantKind(t, err, salto.KindAuth, "")
	if e.Status != 401 || e.Method != "GET" || e.Path != "/v1.2/sites" {
		t.Fatalf("error: %+v", e)
	}
	if st := h.sim.Stats(); st.Calls["GET /v1.2/sites"] != 2 || st.Calls["POST /connect/token"] != 1 {
		t.Fatalf("stats: %+v", st)
	}
}

func TestAuthErrors(t *testing.T) {
	h := newHarness(t, saltoks.Options{})
	ctx := ctxT(t)

	cfg := h.config()
	cfg.Password = "wrong"
	_, err := h.client(cfg).ListSites(ctx)
	e := wantKind(t, err, salto.KindAuth, "invalid_grant")
	if strings.Contains(err.Error(), "wrong") {
		t.Fatalf("the password leaked into the error: %v", err)
	}
	if e.Path != "/connect/token" || salto.IsRetryable(err) {
		t.Fatalf("error: %+v", e)
	}

	cfg = h.config()
	cfg.ClientSecret = "not-the-secret"
	_, err = h.client(cfg).ListSites(ctx)
	wantKind(t, err, salto.KindAuth, "invalid_client")
	if strings.Contains(err.Error(), "not-the-secret") {
		t.Fatalf("the secret leaked into the error: %v", err)
	}

	cfg = h.config()
	cfg.Username, cfg.Password = "", ""
	_, err = h.client(cfg).ListSites(ctx)
	wantKind(t, err, salto.KindAuth, "")
	if !errors.Is(err, salto.ErrNotConnected) {
		t.Fatalf("want ErrNotConnected, got %v", err)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestConnectWithPKCE(t *testing.T) {
	h := newHarness(t, saltoks.Options{})
	addr := freeAddr(t)
	cfg := h.config()
	cfg.Username, cfg.Password = "", ""
	cfg.RedirectURL = "http://" + addr + "/salto/callback"
	cfg.Scopes = []string{"user_api.full_access", "openid", "profile", "offline_access"}
	ctx := ctxT(t)

	type page struct {
		status int
		body   string
		err    error
	}
	browser := make(chan page, 1)
	var forged int
	show := func(u string) {
		parsed, err := url.Parse(u)
		if err != nil || parsed.Query().Get("code_challenge_method") != "S256" ||
			parsed.Query().Get("code_challenge") == "" || parsed.Query().Get("state") == "" {
			t.Errorf("authorize URL without PKCE or state: %s", u)
		}
		go func() {
			// A forged callback (wrong state) is refused and the real one still works afterwards.
			resp, err := http.Get(cfg.RedirectURL + "?code=forged&state=forged")
			if err == nil {
				forged = resp.StatusCode
				resp.Body.Close()
			}
			// The operator's browser: follows the identity server's redirect back to the callback.
			resp, err = http.Get(u)
			if err != nil {
				browser <- page{err: err}
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			browser <- page{status: resp.StatusCode, body: string(b)}
		}()
	}
	if err := salto.Connect(ctx, cfg, addr, show); err != nil {
		t.Fatal(err)
	}
	p := <-browser
	if p.err != nil || p.status != 200 || !strings.Contains(p.body, "Connected to Salto KS") {
		t.Fatalf("browser saw %d %q %v", p.status, p.body, p.err)
	}
	if forged != http.StatusBadRequest {
		t.Fatalf("forged callback answered %d", forged)
	}
	if st, err := os.Stat(cfg.TokenFile); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v %v", st, err)
	}
	// A later process with only the token file works.
	if _, err := h.client(cfg).ListSites(ctx); err != nil {
		t.Fatal(err)
	}
	if n := h.sim.Calls("GET /connect/authorize"); n != 1 {
		t.Fatalf("authorize calls: %d", n)
	}
}

func TestExchangeChecksTheVerifier(t *testing.T) {
	h := newHarness(t, saltoks.Options{})
	cfg := h.config()
	cfg.Username, cfg.Password = "", ""
	cfg.RedirectURL = "http://127.0.0.1:9/cb"
	c := h.client(cfg)
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	resp, err := noFollow.Get(c.AuthCodeURL("st", oauth2.GenerateVerifier()))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	err = c.Exchange(ctxT(t), loc.Query().Get("code"), oauth2.GenerateVerifier())
	wantKind(t, err, salto.KindAuth, "invalid_grant")
	if _, err := os.Stat(cfg.TokenFile); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("nothing may be stored after a failed exchange: %v", err)
	}
}

func TestConnectStopsWithTheContext(t *testing.T) {
	h := newHarness(t, saltoks.Options{})
	addr := freeAddr(t)
	cfg := h.config()
	cfg.RedirectURL = "http://" + addr + "/cb"
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := salto.Connect(ctx, cfg, addr, func(string) {})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want the context's error, got %v", err)
	}
	// The listener is closed again.
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("callback port still busy: %v", err)
	}
	ln.Close()
}

func TestTokenStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "token.json")
	s := salto.NewTokenStore(path)
	if _, err := s.Load(); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
	exp := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, rt := range []string{"rt-1", "rt-2"} {
		if err := s.Save(&oauth2.Token{AccessToken: "at", RefreshToken: rt, Expiry: exp}); err != nil {
			t.Fatal(err)
		}
		got, err := s.Load()
		if err != nil || got.RefreshToken != rt || !got.Expiry.Equal(exp) {
			t.Fatalf("round trip: %+v %v", got, err)
		}
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", st.Mode().Perm())
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Fatalf("leftovers: %v", entries)
	}
	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(); err == nil || strings.Contains(err.Error(), "not json") {
		t.Fatalf("a corrupt file must fail without echoing its content: %v", err)
	}
}

func TestTokenSourceSharesTheClientsToken(t *testing.T) {
	h := newHarness(t, saltoks.Options{})
	c := h.client(h.config())
	ctx := ctxT(t)
	if _, err := c.ListSites(ctx); err != nil {
		t.Fatal(err)
	}
	tok, err := c.TokenSource(ctx).Token()
	if err != nil || tok.AccessToken == "" || tok.RefreshToken != "" || tok.Type() != "Bearer" {
		t.Fatalf("token: %v", err)
	}
	// Another transport (here a plain oauth2 HTTP client) can call the API with it.
	resp, err := oauth2.NewClient(ctx, c.TokenSource(ctx)).Get(h.srv.URL + "/v1.2/sites")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || h.tokenCalls() != 1 {
		t.Fatalf("status %d, token calls %d", resp.StatusCode, h.tokenCalls())
	}
}
