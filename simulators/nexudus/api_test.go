package nexudussim_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	nexudussim "github.com/nexsalto/nexsalto/simulators/nexudus"
)

// These tests speak raw HTTP, so they check the wire shapes themselves, independently
// of the client package.

type rawEnv struct {
	sim *nexudussim.Server
	url string
}

func newRaw(t *testing.T, opts nexudussim.Options) *rawEnv {
	t.Helper()
	opts.Users = map[string]string{"ops": "pw"}
	sim := nexudussim.New(opts)
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(func() { srv.Close(); sim.Close() })
	return &rawEnv{sim: sim, url: srv.URL}
}

func (e *rawEnv) do(t *testing.T, method, path string, body any, auth bool) (int, http.Header, []byte) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, e.url+path, r)
	require.NoError(t, err)
	if auth {
		req.SetBasicAuth("ops", "pw")
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m), string(b))
	return m
}

func seedMadrid(t *testing.T, e *rawEnv) {
	t.Helper()
	_, err := e.sim.Seed(nexudussim.Dataset{
		Businesses: []nexudussim.Business{{Name: "Madrid", TimeZone: "Europe/Madrid"}},
		Resources:  []nexudussim.Resource{{Name: "Room", BusinessId: 1}},
		Coworkers:  []nexudussim.Coworker{{FullName: "Ada", InvoicingBusinessId: 1}},
	})
	require.NoError(t, err)
}

func TestEnvelopeAndPartialRecords(t *testing.T) {
	e := newRaw(t, nexudussim.Options{CallsPerMinute: -1})
	seedMadrid(t, e)
	at := time.Date(2026, 7, 1, 8, 0, 0, 0, time.UTC) // 10:00 in Madrid (CEST)
	var bs []nexudussim.Booking
	for i := range 30 {
		bs = append(bs, nexudussim.Booking{ResourceId: 1, CoworkerId: 1, Notes: "n",
			FromTime: nexudussim.At(at.Add(time.Duration(i) * time.Hour)), ToTime: nexudussim.At(at.Add(time.Duration(i)*time.Hour + 30*time.Minute))})
	}
	_, err := e.sim.Seed(nexudussim.Dataset{Bookings: bs})
	require.NoError(t, err)

	st, _, body := e.do(t, "GET", "/api/spaces/bookings?page=2&size=25", nil, true)
	require.Equal(t, 200, st)
	m := decode(t, body)
	for _, k := range []string{"Records", "CurrentPage", "CurrentPageSize", "TotalItems", "TotalPages", "HasNextPage", "HasPreviousPage"} {
		assert.Contains(t, m, k)
	}
	assert.EqualValues(t, 2, m["CurrentPage"])
	assert.EqualValues(t, 25, m["CurrentPageSize"])
	assert.EqualValues(t, 30, m["TotalItems"])
	assert.EqualValues(t, 2, m["TotalPages"])
	assert.Equal(t, false, m["HasNextPage"])
	assert.Equal(t, true, m["HasPreviousPage"])
	recs := m["Records"].([]any)
	require.Len(t, recs, 5)
	first := recs[0].(map[string]any)
	assert.NotContains(t, first, "Notes", "lists return partial records")
	for _, k := range []string{"Id", "UniqueId", "CreatedOn", "UpdatedOn", "ResourceId", "ResourceName", "CoworkerId",
		"FromTime", "ToTime", "FromTimeLocal", "ToTimeLocal", "Tentative", "Online", "FloorPlanDeskId"} {
		assert.Contains(t, first, k)
	}

	st, _, body = e.do(t, "GET", "/api/spaces/bookings/1", nil, true)
	require.Equal(t, 200, st)
	full := decode(t, body)
	assert.Equal(t, "n", full["Notes"])
	assert.Equal(t, "2026-07-01T08:00:00Z", full["FromTime"], "UTC fields carry Z")
	assert.Equal(t, "2026-07-01T10:00:00", full["FromTimeLocal"], "local fields carry no zone")
	assert.Equal(t, "Room", full["ResourceName"])
	assert.Nil(t, full["FloorPlanDeskId"])

	st, _, body = e.do(t, "GET", "/api/spaces/bookings?orderBy=FromTime&dir=Descending&size=3", nil, true)
	require.Equal(t, 200, st)
	recs = decode(t, body)["Records"].([]any)
	assert.EqualValues(t, 30, recs[0].(map[string]any)["Id"])

	for _, bad := range []string{"page=0", "size=x", "orderBy=Nope", "dir=sideways", "Booking_Nope=1",
		"Booking_CoworkerId=abc", "from_Booking_CoworkerId=2026-01-01T00:00", "from_Booking_FromTime=yesterday"} {
		st, _, body = e.do(t, "GET", "/api/spaces/bookings?"+bad, nil, true)
		assert.Equal(t, 400, st, bad)
		assert.NotEmpty(t, decode(t, body)["Message"], bad)
	}
	st, _, _ = e.do(t, "GET", "/api/spaces/bookings/999", nil, true)
	assert.Equal(t, 404, st)
	st, _, _ = e.do(t, "GET", "/api/spaces/nothing", nil, true)
	assert.Equal(t, 404, st)

	st, _, body = e.do(t, "GET", "/api/spaces/bookings?size=5000", nil, true)
	require.Equal(t, 200, st)
	assert.EqualValues(t, 1000, decode(t, body)["CurrentPageSize"], "size is capped at PageSizeMax")
}

func TestWriteResponses(t *testing.T) {
	e := newRaw(t, nexudussim.Options{CallsPerMinute: -1, WritesPerMinute: -1})
	seedMadrid(t, e)

	st, _, body := e.do(t, "POST", "/api/spaces/bookings", map[string]any{
		"ResourceId": 1, "CoworkerId": 1, "FromTimeLocal": "2026-07-01T10:00", "ToTimeLocal": "2026-07-01T11:00"}, true)
	require.Equal(t, 200, st, string(body))
	m := decode(t, body)
	assert.Equal(t, true, m["WasSuccessful"])
	assert.EqualValues(t, 200, m["Status"])
	assert.NotEmpty(t, m["Message"])
	id := int(m["Value"].(map[string]any)["Id"].(float64))
	b, ok := e.sim.Booking(id)
	require.True(t, ok)
	assert.Equal(t, time.Date(2026, 7, 1, 8, 0, 0, 0, time.UTC), b.FromTime.Time, "local input converted with the business zone")

	st, _, body = e.do(t, "POST", "/api/spaces/bookings", map[string]any{
		"ResourceId": "one", "CoworkerId": 77, "FromTime": "2026-07-01T10:00:00Z", "ToTime": "2026-07-01T09:00:00Z"}, true)
	require.Equal(t, 400, st)
	m = decode(t, body)
	assert.Equal(t, false, m["WasSuccessful"])
	errs := m["Errors"].([]any)
	require.NotEmpty(t, errs)
	e0 := errs[0].(map[string]any)
	assert.Equal(t, "ResourceId", e0["PropertyName"])
	assert.Equal(t, "one", e0["AttemptedValue"])
	assert.Contains(t, e0, "Message")

	st, _, body = e.do(t, "POST", "/api/spaces/bookings", map[string]any{
		"ResourceId": 1, "CoworkerId": 77, "FromTime": "2026-07-01T10:00:00Z", "ToTime": "2026-07-01T09:00:00Z"}, true)
	require.Equal(t, 400, st)
	props := []string{}
	for _, x := range decode(t, body)["Errors"].([]any) {
		props = append(props, x.(map[string]any)["PropertyName"].(string))
	}
	assert.ElementsMatch(t, []string{"CoworkerId", "ToTime"}, props)

	// PUT merges what is sent: Id from the body or the path.
	before, _ := e.sim.Booking(id)
	st, _, body = e.do(t, "PUT", "/api/spaces/bookings", map[string]any{"Id": id, "Tentative": true}, true)
	require.Equal(t, 200, st, string(body))
	after, _ := e.sim.Booking(id)
	assert.True(t, after.Tentative)
	assert.Equal(t, before.FromTime, after.FromTime)
	st, _, _ = e.do(t, "PUT", "/api/spaces/bookings/"+strconv.Itoa(id), map[string]any{"Online": true}, true)
	require.Equal(t, 200, st)
	after, _ = e.sim.Booking(id)
	assert.True(t, after.Online && after.Tentative)
	st, _, _ = e.do(t, "PUT", "/api/spaces/bookings", map[string]any{"Tentative": true}, true)
	assert.Equal(t, 400, st, "PUT without an Id")
	st, _, _ = e.do(t, "PUT", "/api/spaces/bookings", map[string]any{"Id": 999}, true)
	assert.Equal(t, 404, st)

	st, _, body = e.do(t, "DELETE", "/api/spaces/bookings/"+strconv.Itoa(id), nil, true)
	require.Equal(t, 200, st)
	assert.Equal(t, true, decode(t, body)["WasSuccessful"])
	st, _, body = e.do(t, "DELETE", "/api/spaces/bookings/"+strconv.Itoa(id), nil, true)
	assert.Equal(t, 404, st)
	assert.Equal(t, false, decode(t, body)["WasSuccessful"])
}

func TestAuthentication(t *testing.T) {
	ck := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := func() time.Time { return ck }
	e := newRaw(t, nexudussim.Options{TokenTTL: time.Hour, Clock: func() time.Time { return now() }})

	st, h, body := e.do(t, "GET", "/api/sys/businesses", nil, false)
	assert.Equal(t, 401, st)
	assert.Contains(t, h.Get("WWW-Authenticate"), "Bearer")
	assert.NotEmpty(t, decode(t, body)["Message"])

	token := func(form url.Values) (int, map[string]any) {
		resp, err := http.PostForm(e.url+"/api/token", form)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, decode(t, b)
	}
	st, tok := token(url.Values{"grant_type": {"password"}, "username": {"ops"}, "password": {"pw"}})
	require.Equal(t, 200, st)
	assert.Equal(t, "bearer", tok["token_type"])
	assert.EqualValues(t, 3600, tok["expires_in"])
	access, refresh := tok["access_token"].(string), tok["refresh_token"].(string)
	require.NotEmpty(t, access)
	require.NotEmpty(t, refresh)

	get := func(bearer string) int {
		req, _ := http.NewRequest("GET", e.url+"/api/sys/businesses", nil)
		req.Header.Set("Authorization", "Bearer "+bearer)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	assert.Equal(t, 200, get(access))
	ck = ck.Add(time.Hour)
	assert.Equal(t, 401, get(access), "expired by the simulator clock")

	st, tok = token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}})
	require.Equal(t, 200, st)
	assert.Equal(t, 200, get(tok["access_token"].(string)))
	st, tok = token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}})
	assert.Equal(t, 400, st, "refresh tokens rotate")
	assert.Equal(t, "invalid_grant", tok["error"])

	st, tok = token(url.Values{"grant_type": {"password"}, "username": {"ops"}, "password": {"nope"}})
	assert.Equal(t, 400, st)
	assert.Equal(t, "invalid_grant", tok["error"])
	st, tok = token(url.Values{"grant_type": {"client_credentials"}})
	assert.Equal(t, 400, st)
	assert.Equal(t, "unsupported_grant_type", tok["error"])

	// Refresh tokens last 15 days.
	_, tok = token(url.Values{"grant_type": {"password"}, "username": {"ops"}, "password": {"pw"}})
	old := tok["refresh_token"].(string)
	ck = ck.Add(15*24*time.Hour + time.Second)
	st, _ = token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {old}})
	assert.Equal(t, 400, st)

	req, _ := http.NewRequest("GET", e.url+"/api/sys/businesses", nil)
	req.SetBasicAuth("ops", "wrong")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 401, resp.StatusCode)
}

func TestBudgetAnswers409WithRetryAfter(t *testing.T) {
	e := newRaw(t, nexudussim.Options{CallsPerMinute: 5, WritesPerMinute: 2})
	seedMadrid(t, e)
	for range 2 {
		st, _, body := e.do(t, "POST", "/api/spaces/visitors", map[string]any{"BusinessId": 1, "FullName": "V"}, true)
		require.Equal(t, 200, st, string(body))
	}
	st, h, body := e.do(t, "POST", "/api/spaces/visitors", map[string]any{"BusinessId": 1, "FullName": "V"}, true)
	require.Equal(t, 409, st, "the write budget is spent")
	ra, err := strconv.Atoi(h.Get("Retry-After"))
	require.NoError(t, err)
	assert.True(t, ra >= 1 && ra <= 60, "Retry-After %d", ra)
	assert.Contains(t, decode(t, body)["Message"], "writes per minute")

	for range 3 {
		st, _, _ = e.do(t, "GET", "/api/spaces/visitors", nil, true)
		require.Equal(t, 200, st)
	}
	st, h, body = e.do(t, "GET", "/api/spaces/visitors", nil, true)
	require.Equal(t, 409, st, "the call budget is spent")
	assert.NotEmpty(t, h.Get("Retry-After"))
	assert.Contains(t, decode(t, body)["Message"], "calls per minute")
	assert.Equal(t, 2, e.sim.Stats().Throttled)

	// Raising the budget at run time lets calls through again.
	f := e.sim.Faults()
	f.CallsPerMinute, f.WritesPerMinute = 0, 0
	require.NoError(t, e.sim.SetFaults(f))
	st, _, _ = e.do(t, "GET", "/api/spaces/visitors", nil, true)
	assert.Equal(t, 200, st)
}

// Writes are capped per UTC day too: over the cap a write gets 409 until midnight UTC, while reads go on.
func TestDailyWriteCap(t *testing.T) {
	e := newRaw(t, nexudussim.Options{CallsPerMinute: -1, WritesPerMinute: -1, WritesPerDay: 2})
	seedMadrid(t, e)
	before := e.sim.Stats().Throttled
	for range 2 {
		st, _, body := e.do(t, "POST", "/api/spaces/visitors", map[string]any{"BusinessId": 1, "FullName": "V"}, true)
		require.Equal(t, 200, st, string(body))
	}
	st, h, body := e.do(t, "POST", "/api/spaces/visitors", map[string]any{"BusinessId": 1, "FullName": "V"}, true)
	require.Equal(t, 409, st, "the day's writes are spent")
	ra, err := strconv.Atoi(h.Get("Retry-After"))
	require.NoError(t, err)
	assert.True(t, ra >= 1 && ra <= 86400, "Retry-After %d", ra)
	assert.Contains(t, decode(t, body)["Message"], "writes per day")
	st, _, _ = e.do(t, "GET", "/api/spaces/visitors", nil, true)
	assert.Equal(t, 200, st, "reads go on")
	assert.Equal(t, before+1, e.sim.Stats().Throttled)
}

func TestAdminFaultsStatsAndState(t *testing.T) {
	e := newRaw(t, nexudussim.Options{CallsPerMinute: -1})
	seedMadrid(t, e)

	st, _, body := e.do(t, "PUT", "/admin/faults", map[string]any{"ErrorRate": 1, "Latency": "20ms"}, false)
	require.Equal(t, 200, st, string(body))
	f := decode(t, body)
	assert.EqualValues(t, 1, f["ErrorRate"])
	assert.Equal(t, "20ms", f["Latency"])
	start := time.Now()
	st, _, body = e.do(t, "GET", "/api/sys/businesses/1", nil, true)
	assert.Equal(t, 500, st)
	assert.GreaterOrEqual(t, time.Since(start), 20*time.Millisecond)
	assert.Equal(t, "An error has occurred.", decode(t, body)["Message"])

	st, _, _ = e.do(t, "PUT", "/admin/faults", map[string]any{"ErrorRate": 0}, false)
	require.Equal(t, 200, st)
	assert.Equal(t, 20*time.Millisecond, e.sim.Faults().Latency, "fields not sent are kept")
	st, _, _ = e.do(t, "PUT", "/admin/faults", map[string]any{"ErrorRate": 2}, false)
	assert.Equal(t, 400, st)
	st, _, _ = e.do(t, "PUT", "/admin/faults", map[string]any{"ThrottleNext": 1, "RetryAfter": 3}, false)
	require.Equal(t, 200, st)
	st, h, _ := e.do(t, "GET", "/api/sys/businesses/1", nil, true)
	assert.Equal(t, 409, st)
	assert.Equal(t, "3", h.Get("Retry-After"))
	st, _, _ = e.do(t, "GET", "/api/sys/businesses/1", nil, true)
	assert.Equal(t, 200, st)

	st, _, body = e.do(t, "GET", "/admin/stats", nil, false)
	require.Equal(t, 200, st)
	stats := decode(t, body)
	calls := stats["Calls"].(map[string]any)
	assert.EqualValues(t, 3, calls["GET /api/sys/businesses/{id}"])
	assert.EqualValues(t, 1, stats["InjectedErrors"])
	assert.EqualValues(t, 1, stats["Throttled"])
	st, _, _ = e.do(t, "DELETE", "/admin/stats", nil, false)
	assert.Equal(t, 204, st)
	assert.Zero(t, e.sim.Stats().Total)

	st, _, body = e.do(t, "GET", "/admin/state", nil, false)
	require.Equal(t, 200, st)
	var ds nexudussim.Dataset
	require.NoError(t, json.Unmarshal(body, &ds))
	assert.Len(t, ds.Businesses, 1)
	assert.Len(t, ds.Coworkers, 1)
}

func TestAdminSeedIsAtomicAndAssignsIds(t *testing.T) {
	e := newRaw(t, nexudussim.Options{})
	seed := `{"Businesses":[{"Name":"Lisboa","TimeZone":"Europe/Lisbon"}],
	          "Coworkers":[{"FullName":"Ada","InvoicingBusinessId":1},{"Id":40,"FullName":"Bob"},{"FullName":"Cy"}],
	          "FloorPlanDesks":[{"Name":"D1","ItemType":3}],
	          "CoworkerContracts":[{"CoworkerId":40,"FloorPlanDeskIds":[1]}]}`
	resp, err := http.Post(e.url+"/admin/seed", "application/json", strings.NewReader(seed))
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode, string(b))
	var ds nexudussim.Dataset
	require.NoError(t, json.Unmarshal(b, &ds))
	ids := []int{}
	for _, c := range ds.Coworkers {
		ids = append(ids, c.Id)
	}
	assert.Equal(t, []int{1, 40, 41}, ids, "zero ids are assigned incrementally, given ids kept")
	assert.Equal(t, nexudussim.IDList{1}, ds.FloorPlanDesks[0].CoworkerContractIds, "derived fields filled")
	assert.Equal(t, 40, ds.FloorPlanDesks[0].CoworkerId)
	require.Len(t, ds.CoworkerContracts[0].Desks, 1)
	assert.Equal(t, "D1", ds.CoworkerContracts[0].Desks[0].Name)

	bad := `{"Coworkers":[{"FullName":"Dee"}],"Bookings":[{"ResourceId":99,"FromTime":"2026-01-01T10:00:00Z","ToTime":"2026-01-01T11:00:00Z"}]}`
	resp, err = http.Post(e.url+"/admin/seed", "application/json", strings.NewReader(bad))
	require.NoError(t, err)
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, 400, resp.StatusCode)
	assert.Contains(t, string(b), "Bookings[0]")
	assert.Len(t, e.sim.State().Coworkers, 3, "a failed seed changes nothing")

	// The admin entity API saves as back-office staff would.
	st, _, body := e.do(t, "PUT", "/admin/entities/coworkers", map[string]any{"Id": 40, "FullName": "Bob B", "AccessCardId": "99"}, false)
	require.Equal(t, 200, st, string(body))
	c, _ := e.sim.Coworker(40)
	assert.Equal(t, "Bob B", c.FullName)
	st, _, _ = e.do(t, "DELETE", "/admin/entities/coworkers/41", nil, false)
	assert.Equal(t, 204, st)
	_, ok := e.sim.Coworker(41)
	assert.False(t, ok)
	st, _, _ = e.do(t, "PUT", "/admin/entities/unicorns", map[string]any{}, false)
	assert.Equal(t, 404, st)

	st, _, _ = e.do(t, "POST", "/admin/reset", nil, false)
	assert.Equal(t, 204, st)
	assert.Empty(t, e.sim.State().Coworkers)
}

func TestAdminDropSwitchAndDeliveriesOverHTTP(t *testing.T) {
	e := newRaw(t, nexudussim.Options{})
	st, _, body := e.do(t, "PUT", "/admin/webhooks/drop", map[string]any{"Drop": true}, false)
	require.Equal(t, 200, st)
	assert.Equal(t, true, decode(t, body)["Drop"])
	st, _, body = e.do(t, "GET", "/admin/webhooks/drop", nil, false)
	require.Equal(t, 200, st)
	assert.Equal(t, true, decode(t, body)["Drop"])
	st, _, _ = e.do(t, "PUT", "/admin/webhooks/drop", map[string]any{}, false)
	assert.Equal(t, 400, st)
	st, _, body = e.do(t, "GET", "/admin/webhooks/deliveries", nil, false)
	require.Equal(t, 200, st)
	assert.Equal(t, "[]", strings.TrimSpace(string(body)))
}
