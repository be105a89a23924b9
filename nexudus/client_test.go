package nexudus_test

import (
	"context"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nexsalto/nexsalto/nexudus"
	nexudussim "github.com/nexsalto/nexsalto/simulators/nexudus"
)

const (
	testUser = "ops@example.com"
	testPass = "correct horse battery staple"
)

// clock is a settable simulator clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type env struct {
	sim   *nexudussim.Server
	url   string
	clock *clock
	ds    nexudussim.Dataset
}

// newEnv starts a simulator behind a real HTTP server, seeded with one Madrid
// location, a meeting room, two customers, two desks and a contract.
func newEnv(t *testing.T, opts nexudussim.Options) *env {
	t.Helper()
	ck := &clock{now: time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)}
	if opts.Users == nil {
		opts.Users = map[string]string{testUser: testPass}
	}
	if opts.Clock == nil {
		opts.Clock = ck.Now
	}
	if opts.CallsPerMinute == 0 {
		opts.CallsPerMinute = -1
	}
	if opts.WritesPerMinute == 0 {
		opts.WritesPerMinute = -1
	}
	sim := nexudussim.New(opts)
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(func() { srv.Close(); sim.Close() })
	ds, err := sim.Seed(nexudussim.Dataset{
		Businesses: []nexudussim.Business{{Name: "Madrid Centro", TimeZone: "Europe/Madrid"}},
		TimePasses: []nexudussim.TimePass{{Name: "Day pass"}},
		Resources:  []nexudussim.Resource{{Name: "Meeting room Goya", BusinessId: 1, ResourceTypeId: 2}},
		Coworkers: []nexudussim.Coworker{
			{FullName: "Ada Lovelace", Email: "ada@example.com", Active: true, AccessCardId: "04A1B2C3", AccessPincode: "918273", InvoicingBusinessId: 1},
			{FullName: "Charles Babbage", Email: "charles@example.com", Active: true, InvoicingBusinessId: 1},
		},
		FloorPlanDesks: []nexudussim.FloorPlanDesk{
			{Name: "Desk 1", ItemType: 2, FloorPlanBusinessId: 1},
			{Name: "Office 2", ItemType: 1, FloorPlanBusinessId: 1},
		},
		CoworkerContracts: []nexudussim.CoworkerContract{{CoworkerId: 1, TariffId: 9, TariffName: "Fixed desk", Active: true,
			StartDate: nexudussim.At(ck.Now()), FloorPlanDeskIds: nexudussim.IDList{1, 2}, Notes: "desk by the window"}},
	})
	require.NoError(t, err)
	return &env{sim: sim, url: srv.URL, clock: ck, ds: ds}
}

func (e *env) client(t *testing.T, mutate func(*nexudus.Config)) *nexudus.Client {
	t.Helper()
	cfg := nexudus.Config{BaseURL: e.url, Username: testUser, Password: testPass, RequestsPerMinute: -1, Timeout: 5 * time.Second}
	if mutate != nil {
		mutate(&cfg)
	}
	c, err := nexudus.New(cfg)
	require.NoError(t, err)
	return c
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestBearerTokenRefreshedBeforeExpiry(t *testing.T) {
	e := newEnv(t, nexudussim.Options{TokenTTL: time.Second, Clock: time.Now})
	c := e.client(t, nil)
	_, err := c.GetCoworker(ctx(t), 1)
	require.NoError(t, err)
	assert.Equal(t, 1, e.sim.Stats().TokenRequests["password"])

	_, err = c.GetCoworker(ctx(t), 1)
	require.NoError(t, err)
	assert.Equal(t, 1, e.sim.Stats().TokenRequests["password"], "a live token is reused")

	time.Sleep(1100 * time.Millisecond)
	_, err = c.GetCoworker(ctx(t), 1)
	require.NoError(t, err)
	st := e.sim.Stats()
	assert.Equal(t, 1, st.TokenRequests["refresh_token"], "the expired token is renewed with the refresh token")
	assert.Equal(t, 1, st.TokenRequests["password"])
	assert.Zero(t, st.Unauthorized, "renewal happens before the call, not after a 401")
}

func TestBearerRenewsOnceAfter401(t *testing.T) {
	e := newEnv(t, nexudussim.Options{})
	c := e.client(t, nil)
	_, err := c.GetCoworker(ctx(t), 1)
	require.NoError(t, err)

	e.sim.ExpireAccessTokens() // the token dies early, as after a server-side revocation
	co, err := c.GetCoworker(ctx(t), 1)
	require.NoError(t, err)
	assert.Equal(t, "Ada Lovelace", co.FullName)
	st := e.sim.Stats()
	assert.Equal(t, 1, st.Unauthorized)
	assert.Equal(t, 1, st.TokenRequests["refresh_token"])
}

func TestBearerFallsBackToPasswordWhenRefreshRefused(t *testing.T) {
	e := newEnv(t, nexudussim.Options{})
	c := e.client(t, nil)
	_, err := c.GetCoworker(ctx(t), 1)
	require.NoError(t, err)

	e.sim.ExpireAccessTokens()
	e.sim.RevokeRefreshTokens()
	_, err = c.GetCoworker(ctx(t), 1)
	require.NoError(t, err)
	st := e.sim.Stats()
	assert.Equal(t, 1, st.TokenRequests["refresh_token:refused"])
	assert.Equal(t, 2, st.TokenRequests["password"])
}

func TestTokenExpiryFollowsSimulatorClock(t *testing.T) {
	// The simulator's clock jumps past the token lifetime while the client's does
	// not: the client only learns from the 401, and recovers.
	e := newEnv(t, nexudussim.Options{TokenTTL: time.Hour})
	c := e.client(t, nil)
	_, err := c.ListBusinesses(ctx(t), nil)
	require.NoError(t, err)
	e.clock.Advance(2 * time.Hour)
	_, err = c.ListBusinesses(ctx(t), nil)
	require.NoError(t, err)
	assert.Equal(t, 1, e.sim.Stats().Unauthorized)
}

func TestWrongPassword(t *testing.T) {
	e := newEnv(t, nexudussim.Options{})
	for _, auth := range []string{nexudus.AuthBearer, nexudus.AuthBasic} {
		c := e.client(t, func(cfg *nexudus.Config) { cfg.Password = "wrong-password-value"; cfg.Auth = auth })
		_, err := c.GetCoworker(ctx(t), 1)
		require.Error(t, err, auth)
		assert.True(t, nexudus.IsUnauthorized(err), "%s: %v", auth, err)
		assert.False(t, nexudus.IsRetryable(err))
		assert.NotContains(t, err.Error(), "wrong-password-value")
	}
}

func TestBasicAuth(t *testing.T) {
	e := newEnv(t, nexudussim.Options{})
	c := e.client(t, func(cfg *nexudus.Config) { cfg.Auth = nexudus.AuthBasic })
	for range 3 {
		bs, err := c.ListBusinesses(ctx(t), nil)
		require.NoError(t, err)
		require.Len(t, bs, 1)
		assert.Equal(t, "Europe/Madrid", bs[0].TimeZone)
	}
	st := e.sim.Stats()
	assert.Empty(t, st.TokenRequests, "Basic never asks for a token")
	assert.Equal(t, 3, st.Calls["GET /api/sys/businesses"])
}

func TestTokenFilePersistsAcrossClients(t *testing.T) {
	e := newEnv(t, nexudussim.Options{})
	file := filepath.Join(t.TempDir(), "nexudus-token.json")
	c1 := e.client(t, func(cfg *nexudus.Config) { cfg.TokenFile = file })
	_, err := c1.GetCoworker(ctx(t), 1)
	require.NoError(t, err)
	require.NoError(t, c1.TokenFileError())
	fi, err := os.Stat(file)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	raw, _ := os.ReadFile(file)
	assert.NotContains(t, string(raw), testPass, "the password is never stored")

	c2 := e.client(t, func(cfg *nexudus.Config) { cfg.TokenFile = file })
	_, err = c2.GetCoworker(ctx(t), 1)
	require.NoError(t, err)
	assert.Equal(t, 1, e.sim.Stats().TokenRequests["password"], "the second client reuses the stored token")

	// A file written for another account is not used.
	e2 := newEnv(t, nexudussim.Options{Users: map[string]string{"other@example.com": "pw"}})
	c3 := e2.client(t, func(cfg *nexudus.Config) {
		cfg.TokenFile = file
		cfg.Username = "other@example.com"
		cfg.Password = "pw"
	})
	_, err = c3.GetCoworker(ctx(t), 1)
	require.NoError(t, err)
	assert.Equal(t, 1, e2.sim.Stats().TokenRequests["password"])

	entries, _ := os.ReadDir(filepath.Dir(file))
	assert.Len(t, entries, 1, "no temporary files left behind")
}

func seedBookings(t *testing.T, e *env, n int) {
	t.Helper()
	var bs []nexudussim.Booking
	for i := range n {
		from := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Hour)
		bs = append(bs, nexudussim.Booking{ResourceId: 1, CoworkerId: 1 + i%2, FromTime: nexudussim.At(from),
			ToTime: nexudussim.At(from.Add(30 * time.Minute)), Notes: "note " + strconv.Itoa(i)})
	}
	_, err := e.sim.Seed(nexudussim.Dataset{Bookings: bs})
	require.NoError(t, err)
}

func TestPagingAcrossPages(t *testing.T) {
	e := newEnv(t, nexudussim.Options{})
	seedBookings(t, e, 53)
	c := e.client(t, nil)

	all, err := c.ListBookings(ctx(t), url.Values{"size": {"10"}})
	require.NoError(t, err)
	require.Len(t, all, 53)
	seen := map[int]bool{}
	for _, b := range all {
		assert.False(t, seen[b.Id], "duplicate %d", b.Id)
		seen[b.Id] = true
		assert.Empty(t, b.Notes, "list records are partial")
	}
	assert.Equal(t, 6, e.sim.Stats().Calls["GET /api/spaces/bookings"])

	var pages []int
	err = nexudus.ForEachPage(ctx(t), c, nexudus.PathBookings, url.Values{"size": {"20"}, "orderBy": {"FromTime"}, "dir": {"Descending"}},
		func(p nexudus.Page[nexudus.Booking]) error {
			pages = append(pages, p.CurrentPage)
			assert.Equal(t, 53, p.TotalItems)
			assert.Equal(t, 3, p.TotalPages)
			return nil
		})
	require.NoError(t, err)
	assert.Equal(t, []int{1, 2, 3}, pages)

	pages = nil
	err = nexudus.ForEachPage(ctx(t), c, nexudus.PathBookings, url.Values{"size": {"20"}},
		func(p nexudus.Page[nexudus.Booking]) error {
			pages = append(pages, p.CurrentPage)
			return nexudus.ErrStopPaging
		})
	require.NoError(t, err)
	assert.Equal(t, []int{1}, pages, "ErrStopPaging stops after the first page")

	p, err := nexudus.ListPage[nexudus.Booking](ctx(t), c, nexudus.PathBookings, nil, 6, 10)
	require.NoError(t, err)
	assert.Len(t, p.Records, 3)
	assert.False(t, p.HasNextPage)
	assert.True(t, p.HasPreviousPage)

	full, err := c.GetBooking(ctx(t), all[0].Id)
	require.NoError(t, err)
	assert.NotEmpty(t, full.Notes, "GET by id returns the full record")
}

func TestFilters(t *testing.T) {
	e := newEnv(t, nexudussim.Options{})
	seedBookings(t, e, 10) // hourly from 2026-12-01 08:00Z; coworkers alternate 1,2
	c := e.client(t, nil)

	mine, err := c.ListBookings(ctx(t), url.Values{"Booking_CoworkerId": {"2"}})
	require.NoError(t, err)
	assert.Len(t, mine, 5)
	for _, b := range mine {
		assert.Equal(t, 2, b.CoworkerId)
	}

	window, err := c.ListBookings(ctx(t), url.Values{
		"from_Booking_FromTime": {nexudus.FormatFilterTime(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC))},
		"to_Booking_FromTime":   {"2026-12-01T13:00"},
	})
	require.NoError(t, err)
	assert.Len(t, window, 4, "10:00 to 13:00 inclusive")

	both, err := c.ListBookings(ctx(t), url.Values{"from_Booking_FromTime": {"2026-12-01T10:00"}, "Booking_CoworkerId": {"1"}})
	require.NoError(t, err)
	assert.Len(t, both, 4) // 10:00, 12:00, 14:00, 16:00

	// Incremental sync: only what changed since a mark.
	mark := e.clock.Now()
	e.clock.Advance(10 * time.Minute)
	b, err := c.GetBooking(ctx(t), mine[0].Id)
	require.NoError(t, err)
	b.Tentative = true
	require.NoError(t, c.UpdateBooking(ctx(t), b))
	changed, err := c.ListBookings(ctx(t), url.Values{"from_Booking_UpdatedOn": {nexudus.FormatFilterTime(mark.Add(time.Minute))}})
	require.NoError(t, err)
	require.Len(t, changed, 1)
	assert.Equal(t, b.Id, changed[0].Id)
	assert.True(t, changed[0].UpdatedOn.After(mark))

	found, err := c.ListCoworkers(ctx(t), url.Values{"Coworker_Email": {"ADA@example.com"}})
	require.NoError(t, err)
	require.Len(t, found, 1)
	assert.Equal(t, "04A1B2C3", found[0].AccessCardId)

	desks, err := c.ListFloorPlanDesks(ctx(t), url.Values{"FloorPlanDesk_CoworkerContractIds": {"1"}})
	require.NoError(t, err)
	assert.Len(t, desks, 2)

	_, err = c.ListBookings(ctx(t), url.Values{"Booking_Colour": {"red"}})
	require.Error(t, err)
	var ne *nexudus.Error
	require.ErrorAs(t, err, &ne)
	assert.Equal(t, 400, ne.Status)
	assert.Contains(t, ne.Message, "Colour")
}

func TestConcurrentCallsShareOneLogin(t *testing.T) {
	e := newEnv(t, nexudussim.Options{})
	c := e.client(t, nil)
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.GetCoworker(ctx(t), 1)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err)
	}
	assert.Equal(t, 1, e.sim.Stats().TokenRequests["password"])
}
