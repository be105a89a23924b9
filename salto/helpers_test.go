package salto_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nexsalto/nexsalto/salto"
	"github.com/nexsalto/nexsalto/simulators/saltoks"
)

const (
	sysUser = "system@example.com"
	sysPass = "s3cret-system-password"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Now()} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// harness is a simulator behind a real HTTP server, with one seeded site.
type harness struct {
	t    *testing.T
	sim  *saltoks.Server
	srv  *httptest.Server
	site saltoks.AdminSite
	dir  string
}

func newHarness(t *testing.T, opts saltoks.Options) *harness {
	t.Helper()
	if opts.Users == nil {
		opts.Users = map[string]string{sysUser: sysPass}
	}
	sim := saltoks.New(opts)
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	site, err := sim.SeedSite(saltoks.SiteSeed{SiteUID: "ams-1", CustomerReference: "location-1",
		TimeZone: "Europe/Amsterdam", PinEnabled: true})
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, sim: sim, srv: srv, site: site, dir: t.TempDir()}
}

// config uses the password grant and a token file in a fresh directory.
func (h *harness) config() salto.Config {
	return salto.Config{
		APIURL:       h.srv.URL,
		TokenURL:     h.srv.URL + "/connect/token",
		AuthorizeURL: h.srv.URL + "/connect/authorize",
		ClientID:     saltoks.DefaultClientID,
		ClientSecret: saltoks.DefaultClientSecret,
		Username:     sysUser,
		Password:     sysPass,
		TokenFile:    filepath.Join(h.dir, "salto-token.json"),
		Timeout:      5 * time.Second,
	}
}

func (h *harness) client(cfg salto.Config) *salto.Client {
	h.t.Helper()
	c, err := salto.New(cfg)
	if err != nil {
		h.t.Fatal(err)
	}
	return c
}

func (h *harness) seedUser(email string) saltoks.SiteUser {
	h.t.Helper()
	u, err := h.sim.SeedUser(h.site.ID, saltoks.UserSeed{FirstName: "F", LastName: "L", Alias: email, Email: email})
	if err != nil {
		h.t.Fatal(err)
	}
	return u
}

func (h *harness) seedGroup(name, ref string) saltoks.AccessGroup {
	h.t.Helper()
	g, err := h.sim.SeedAccessGroup(h.site.ID, saltoks.GroupSeed{Name: name, CustomerReference: ref})
	if err != nil {
		h.t.Fatal(err)
	}
	return g
}

// admin calls the simulator's admin API over HTTP.
func (h *harness) admin(method, path string, body any, out any) {
	h.t.Helper()
	var rd *strings.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = strings.NewReader(string(b))
	} else {
		rd = strings.NewReader("")
	}
	req, _ := http.NewRequest(method, h.srv.URL+path, rd)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		h.t.Fatalf("admin %s %s: %d", method, path, resp.StatusCode)
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			h.t.Fatal(err)
		}
	}
}

func (h *harness) tokenCalls() int { return h.sim.Calls("POST /connect/token") }

func (h *harness) readTokenFile(path string) map[string]any {
	h.t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		h.t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		h.t.Fatal(err)
	}
	return m
}

// refreshRaw uses a refresh token directly against the identity endpoint and returns the HTTP status.
func (h *harness) refreshRaw(rt string) int {
	h.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, h.srv.URL+"/connect/token",
		strings.NewReader(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(saltoks.DefaultClientID, saltoks.DefaultClientSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func wantKind(t *testing.T, err error, kind salto.ErrorKind, code string) *salto.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("want a %s error, got nil", kind)
	}
	var e *salto.Error
	if !errorsAs(err, &e) {
		t.Fatalf("want *salto.Error, got %T: %v", err, err)
	}
	if e.Kind != kind || (code != "" && e.Code != code) {
		t.Fatalf("want kind %s code %q, got kind %s code %q: %v", kind, code, e.Kind, e.Code, err)
	}
	return e
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}
