package saltoks_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nexsalto/nexsalto/simulators/saltoks"
)

// fakeClock is a settable clock shared by a test and the simulator.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)} }

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

type env struct {
	t   *testing.T
	sim *saltoks.Server
	srv *httptest.Server
	tok string
}

func newEnv(t *testing.T, opts saltoks.Options) *env {
	t.Helper()
	if opts.Users == nil {
		opts.Users = map[string]string{"system": "pw"}
	}
	sim := saltoks.New(opts)
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	e := &env{t: t, sim: sim, srv: srv}
	e.tok = e.passwordToken("user_api.full_access offline_access")["access_token"].(string)
	return e
}

func (e *env) tokenRequest(form url.Values, basic bool) (int, map[string]any) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/connect/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basic {
		req.SetBasicAuth(saltoks.DefaultClientID, saltoks.DefaultClientSecret)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		e.t.Fatalf("token response: %v", err)
	}
	return resp.StatusCode, out
}

func (e *env) passwordToken(scope string) map[string]any {
	e.t.Helper()
	status, out := e.tokenRequest(url.Values{"grant_type": {"password"}, "username": {"system"},
		"password": {"pw"}, "scope": {scope}}, true)
	if status != 200 {
		e.t.Fatalf("password grant: %d %v", status, out)
	}
	return out
}

// do sends an API or admin request and returns status, headers and raw body.
func (e *env) do(method, path string, body any) (int, http.Header, []byte) {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	u := path
	if !strings.HasPrefix(path, "http") {
		u = e.srv.URL + path
	}
	req, _ := http.NewRequest(method, u, rd)
	if e.tok != "" {
		req.Header.Set("Authorization", "Bearer "+e.tok)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func (e *env) expectError(method, path string, body any, status int, code string) {
	e.t.Helper()
	got, _, b := e.do(method, path, body)
	var eb struct{ ErrorCode, Message string }
	_ = json.Unmarshal(b, &eb)
	if got != status || eb.ErrorCode != code {
		e.t.Fatalf("%s %s: got %d %q (%s), want %d %q", method, path, got, eb.ErrorCode, b, status, code)
	}
}

func (e *env) decode(method, path string, body any, wantStatus int, out any) {
	e.t.Helper()
	status, _, b := e.do(method, path, body)
	if status != wantStatus {
		e.t.Fatalf("%s %s: status %d, want %d: %s", method, path, status, wantStatus, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			e.t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
}

func (e *env) site(seed saltoks.SiteSeed) saltoks.AdminSite {
	e.t.Helper()
	s, err := e.sim.SeedSite(seed)
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

func (e *env) user(site string, seed saltoks.UserSeed) saltoks.SiteUser {
	e.t.Helper()
	u, err := e.sim.SeedUser(site, seed)
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

func TestSitesAreABareArrayAndNeedTheUUID(t *testing.T) {
	e := newEnv(t, saltoks.Options{})
	s := e.site(saltoks.SiteSeed{SiteUID: "ams-1", CustomerReference: "loc-1", TimeZone: "Europe/Amsterdam"})
	status, _, b := e.do("GET", "/v1.2/sites", nil)
	if status != 200 || !bytes.HasPrefix(bytes.TrimSpace(b), []byte("[")) {
		t.Fatalf("sites: %d %s", status, b)
	}
	var got saltoks.Site
	e.decode("GET", "/v1.2/sites/"+s.ID, nil, 200, &got)
	if got.TimeZone != "Europe/Amsterdam" || got.SiteUID != "ams-1" {
		t.Fatalf("site: %+v", got)
	}
	e.expectError("GET", "/v1.2/sites/ams-1", nil, 400, saltoks.CodeBadParameter)
	e.expectError("GET", "/v1.2/sites/ams-1/users", nil, 400, saltoks.CodeBadParameter)
	e.expectError("GET", "/v1.2/sites/00000000-0000-0000-0000-000000000001", nil, 404, saltoks.CodeSiteNotFound)
	e.expectError("GET", "/v1.2/sites/"+s.ID+"/entries", nil, 404, "1100") // entries exist in v1.1 only
}

func TestUsersBareUntilTheyNeedPaging(t *testing.T) {
	e := newEnv(t, saltoks.Options{PageSize: 2})
	s := e.site(saltoks.SiteSeed{})
	e.user(s.ID, saltoks.UserSeed{FirstName: "A", Email: "a@example.com"})
	e.user(s.ID, saltoks.UserSeed{FirstName: "B", Email: "b@example.com"})
	_, _, b := e.do("GET", "/v1.2/sites/"+s.ID+"/users", nil)
	if !bytes.HasPrefix(b, []byte("[")) {
		t.Fatalf("two users in a page of two must be a bare array: %s", b)
	}
	e.user(s.ID, saltoks.UserSeed{FirstName: "C", Email: "c@example.com"})

	var page struct {
		Items        []saltoks.SiteUser `json:"items"`
		NextPageLink *string            `json:"next_page_link"`
		Count        *int               `json:"count"`
	}
	e.decode("GET", "/v1.2/sites/"+s.ID+"/users?$inlinecount=allpages", nil, 200, &page)
	if len(page.Items) != 2 || page.NextPageLink == nil || page.Count == nil || *page.Count != 3 {
		t.Fatalf("first page: %+v", page)
	}
	if !strings.HasPrefix(*page.NextPageLink, e.srv.URL+"/v1.2/sites/"+s.ID+"/users?") ||
		!strings.Contains(*page.NextPageLink, "$skip=2") {
		t.Fatalf("next link: %s", *page.NextPageLink)
	}
	link := *page.NextPageLink
	page.NextPageLink, page.Count = nil, nil
	e.decode("GET", link, nil, 200, &page)
	if len(page.Items) != 1 || page.Items[0].User.FirstName != "C" || page.NextPageLink != nil || *page.Count != 3 {
		t.Fatalf("second page: %+v", page)
	}
	// Without $inlinecount the count is null.
	var plain map[string]any
	e.decode("GET", "/v1.2/sites/"+s.ID+"/users", nil, 200, &plain)
	if plain["count"] != nil {
		t.Fatalf("count without $inlinecount: %v", plain["count"])
	}
}

func TestUserFields(t *testing.T) {
	e := newEnv(t, saltoks.Options{})
	s := e.site(saltoks.SiteSeed{})
	var u map[string]any
	e.decode("POST", "/v1.2/sites/"+s.ID+"/users", map[string]any{"first_name": "Ann", "last_name": "Lee",
		"alias": "ann", "email": "ann@example.com", "role_ids": []string{}, "blocked": false, "use_pin": true},
		201, &u)
	inner := u["user"].(map[string]any)
	if u["id"] == inner["id"] || inner["email"] != "ann@example.com" || u["subscription_state"] != "subscribed" ||
		u["use_pin"] != true {
		t.Fatalf("site user: %v", u)
	}
	roles := u["roles"].([]any)
	if len(roles) != 1 || roles[0].(map[string]any)["name"] != "site_user" {
		t.Fatalf("roles: %v", roles)
	}
	// An empty e-mail is refused; no e-mail makes a tag-only user.
	e.expectError("POST", "/v1.2/sites/"+s.ID+"/users", map[string]any{"first_name": "X", "email": ""}, 400,
		saltoks.CodeValidation)
	e.decode("POST", "/v1.2/sites/"+s.ID+"/users", map[string]any{"alias": "tag 7", "tag_id": "04AB"}, 201, &u)
	if u["user"].(map[string]any)["email"] != nil || u["tag_id"] != "04AB" {
		t.Fatalf("tag-only user: %v", u)
	}
	e.expectError("POST", "/v1.2/sites/"+s.ID+"/users", map[string]any{"first_name": "X", "role_ids": []string{"nope"}},
		400, saltoks.CodeValidation)
	e.expectError("GET", "/v1.2/sites/"+s.ID+"/users/"+inner["id"].(string), nil, 404, saltoks.CodeUserNotFound)
}

func TestODataFiltersAndOrdering(t *testing.T) {
	e := newEnv(t, saltoks.Options{PageSize: 2})
	s := e.site(saltoks.SiteSeed{})
	e.user(s.ID, saltoks.UserSeed{FirstName: "O", Email: "o'neil@example.com"})
	e.user(s.ID, saltoks.UserSeed{FirstName: "P", Email: "p@example.com"})
	var users []saltoks.SiteUser
	e.decode("GET", "/v1.2/sites/"+s.ID+"/users?$filter="+url.QueryEscape("user/email eq 'O''Neil@example.com'"),
		nil, 200, &users)
	if len(users) != 1 || users[0].User.FirstName != "O" {
		t.Fatalf("filter by e-mail: %+v", users)
	}
	e.expectError("GET", "/v1.2/sites/"+s.ID+"/users?$filter="+url.QueryEscape("alias eq 'x'"), nil, 400,
		saltoks.CodeBadParameter)
	e.expectError("GET", "/v1.2/sites/"+s.ID+"/users?$filter="+url.QueryEscape("user/email eq 'x"), nil, 400,
		saltoks.CodeBadParameter)
	e.expectError("GET", "/v1.2/sites/"+s.ID+"/users?$orderby=alias", nil, 400, saltoks.CodeBadOrderBy)

	lock, _ := e.sim.SeedLock(s.ID, saltoks.LockSeed{Name: "Front door"})
	base := time.Date(2026, 1, 1, 8, 0, 0, 0, time.UTC)
	for i := range 5 {
		if _, err := e.sim.SeedEntry(s.ID, saltoks.EntrySeed{UTCDateTime: base.Add(time.Duration(i) * time.Hour),
			LockID: lock.ID}); err != nil {
			t.Fatal(err)
		}
	}
	type entryPage struct {
		Items        []saltoks.Entry `json:"items"`
		NextPageLink *string         `json:"next_page_link"`
	}
	var p entryPage
	e.decode("GET", "/v1.1/sites/"+s.ID+"/entries", nil, 200, &p)
	if !p.Items[0].UTCDateTime.Equal(base.Add(4 * time.Hour)) {
		t.Fatalf("default order must be newest first: %v", p.Items[0].UTCDateTime)
	}
	filter := url.QueryEscape("utc_date_time ge DateTime'2026-01-01T09:00:00Z'")
	e.decode("GET", "/v1.1/sites/"+s.ID+"/entries?$filter="+filter+"&$orderby="+url.QueryEscape("utc_date_time asc")+
		"&$top=3", nil, 200, &p)
	if len(p.Items) != 2 || !p.Items[0].UTCDateTime.Equal(base.Add(time.Hour)) || p.NextPageLink == nil {
		t.Fatalf("asc, ge, top 3, page 2: %+v", p)
	}
	if !strings.Contains(*p.NextPageLink, "$top=1") || !strings.Contains(*p.NextPageLink, "$skip=2") ||
		!strings.Contains(*p.NextPageLink, "utc_date_time%20asc") {
		t.Fatalf("next link must carry the remaining $top and the options: %s", *p.NextPageLink)
	}
	next := *p.NextPageLink
	p = entryPage{}
	e.decode("GET", next, nil, 200, &p)
	if len(p.Items) != 1 || !p.Items[0].UTCDateTime.Equal(base.Add(3*time.Hour)) || p.NextPageLink != nil {
		t.Fatalf("last page: %+v", p)
	}
	if p.Items[0].LockName != "Front door" || p.Items[0].LocalDateTime != "2026-01-01T12:00:00" {
		t.Fatalf("entry fields (Europe/Amsterdam local time): %+v", p.Items[0])
	}
	e.expectError("GET", "/v1.1/sites/"+s.ID+"/entries?$orderby="+url.QueryEscape("lock_id desc"), nil, 400,
		saltoks.CodeBadOrderBy)
	e.expectError("GET", "/v1.1/sites/"+s.ID+"/entries?$filter="+url.QueryEscape("utc_date_time ge 'x'"), nil, 400,
		saltoks.CodeBadParameter)
	e.expectError("GET", "/v1.1/sites/"+s.ID+"/entries?$top=-1", nil, 400, saltoks.CodeBadParameter)
}

func TestTokenEndpoint(t *testing.T) {
	e := newEnv(t, saltoks.Options{RotateRefreshTokens: true})
	status, out := e.tokenRequest(url.Values{"grant_type": {"password"}, "username": {"system"},
		"password": {"pw"}}, false)
	if status != 401 || out["error"] != "invalid_client" {
		t.Fatalf("without Basic: %d %v", status, out)
	}
	status, out = e.tokenRequest(url.Values{"grant_type": {"password"}, "username": {"system"},
		"password": {"wrong"}}, true)
	if status != 400 || out["error"] != "invalid_grant" {
		t.Fatalf("wrong password: %d %v", status, out)
	}
	if tok := e.passwordToken("user_api.full_access"); tok["refresh_token"] != nil || tok["expires_in"] != 3600.0 {
		t.Fatalf("no offline_access, so no refresh token; 3600 s: %v", tok)
	}
	first := e.passwordToken("user_api.full_access offline_access")["refresh_token"].(string)
	status, out = e.tokenRequest(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first}}, true)
	if status != 200 || out["refresh_token"] == first || out["refresh_token"] == nil {
		t.Fatalf("rotation: %d %v", status, out)
	}
	status, out = e.tokenRequest(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first}}, true)
	if status != 400 || out["error"] != "invalid_grant" {
		t.Fatalf("a rotated-out refresh token must be dead: %d %v", status, out)
	}
	status, out = e.tokenRequest(url.Values{"grant_type": {"client_credentials"}}, true)
	if status != 400 || out["error"] != "unsupported_grant_type" {
		t.Fatalf("client_credentials: %d %v", status, out)
	}
}

func TestAuthorizeWithPKCE(t *testing.T) {
	e := newEnv(t, saltoks.Options{})
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	verifier := strings.Repeat("v", 50)
	sum := sha256.Sum256([]byte(verifier))
	challenge := base64.RawURLEncoding.EncodeToString(sum[:])
	authorize := func(extra url.Values) *url.URL {
		q := url.Values{"response_type": {"code"}, "client_id": {saltoks.DefaultClientID},
			"redirect_uri": {"http://127.0.0.1:9/cb"}, "state": {"st8"},
			"scope": {"user_api.full_access openid profile offline_access"}}
		for k, v := range extra {
			q[k] = v
		}
		resp, err := noFollow.Get(e.srv.URL + "/connect/authorize?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound {
			t.Fatalf("authorize: %d", resp.StatusCode)
		}
		loc, _ := url.Parse(resp.Header.Get("Location"))
		if loc.Query().Get("state") != "st8" || loc.Host != "127.0.0.1:9" {
			t.Fatalf("redirect: %s", loc)
		}
		return loc
	}
	if loc := authorize(nil); loc.Query().Get("error") != "invalid_request" {
		t.Fatalf("authorize without PKCE must fail: %s", loc)
	}
	pkce := url.Values{"code_challenge": {challenge}, "code_challenge_method": {"S256"}}
	code := authorize(pkce).Query().Get("code")
	exchange := func(code, verifier string) (int, map[string]any) {
		return e.tokenRequest(url.Values{"grant_type": {"authorization_code"}, "code": {code},
			"redirect_uri": {"http://127.0.0.1:9/cb"}, "code_verifier": {verifier}}, true)
	}
	if status, out := exchange(code, strings.Repeat("w", 50)); status != 400 || out["error"] != "invalid_grant" {
		t.Fatalf("wrong verifier: %d %v", status, out)
	}
	if status, _ := exchange(code, verifier); status != 400 {
		t.Fatal("a code is single use, even after a failed exchange")
	}
	code = authorize(pkce).Query().Get("code")
	status, out := exchange(code, verifier)
	if status != 200 || out["refresh_token"] == nil {
		t.Fatalf("exchange: %d %v", status, out)
	}
}

func TestAPINeedsAValidToken(t *testing.T) {
	clock := newFakeClock()
	e := newEnv(t, saltoks.Options{Clock: clock.Now, TokenTTL: time.Minute})
	e.site(saltoks.SiteSeed{})
	if status, _, _ := e.do("GET", "/v1.2/sites", nil); status != 200 {
		t.Fatalf("fresh token: %d", status)
	}
	clock.Advance(time.Minute)
	status, h, _ := e.do("GET", "/v1.2/sites", nil)
	if status != 401 || !strings.Contains(h.Get("WWW-Authenticate"), "invalid_token") {
		t.Fatalf("expired token: %d", status)
	}
	e.tok = ""
	if status, _, _ := e.do("GET", "/v1.2/sites", nil); status != 401 {
		t.Fatalf("no token: %d", status)
	}
	e.tok = e.passwordToken("openid")["access_token"].(string)
	e.expectError("GET", "/v1.2/sites", nil, 403, saltoks.CodeNoPermission)
	e.tok = e.passwordToken("user_api.full_access")["access_token"].(string)
	e.sim.RevokeAccessTokens()
	if status, _, _ := e.do("GET", "/v1.2/sites", nil); status != 401 {
		t.Fatalf("revoked token: %d", status)
	}
}
