package nexudus

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseTime(t *testing.T) {
	utc := func(s string) time.Time { v, _ := time.Parse(time.RFC3339Nano, s); return v }
	cases := []struct {
		in    string
		want  time.Time
		zoned bool
	}{
		{"2026-11-30T09:00:00", utc("2026-11-30T09:00:00Z"), false},
		{"2026-11-30T09:00:00Z", utc("2026-11-30T09:00:00Z"), true},
		{"2026-11-30T09:00:00.1234567", utc("2026-11-30T09:00:00.1234567Z"), false},
		{"2026-11-30T09:00:00.123Z", utc("2026-11-30T09:00:00.123Z"), true},
		{"2026-11-30T10:00:00+01:00", utc("2026-11-30T09:00:00Z"), true},
		{"2026-11-30T10:00:00+0100", utc("2026-11-30T09:00:00Z"), true},
		{"2026-11-30T09:00", utc("2026-11-30T09:00:00Z"), false},
		{"2026-11-30 09:00:00", utc("2026-11-30T09:00:00Z"), false},
		{"2026-11-30", utc("2026-11-30T00:00:00Z"), false},
		{"/Date(1796029200000)/", utc("2026-11-30T09:00:00Z"), true},
		{"/Date(1796029200000+0100)/", utc("2026-11-30T09:00:00Z"), true},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			got, err := ParseTime(c.in)
			require.NoError(t, err)
			assert.True(t, got.Time.Equal(c.want), "got %s want %s", got.Time, c.want)
			assert.Equal(t, c.zoned, got.Zoned)
		})
	}
	for _, bad := range []string{"30/11/2026", "2026-13-01T00:00:00", "tomorrow", "/Date(abc)/"} {
		_, err := ParseTime(bad)
		assert.Error(t, err, bad)
	}
	z, err := ParseTime("  ")
	require.NoError(t, err)
	assert.True(t, z.IsZero())
}

func TestTimeJSON(t *testing.T) {
	var v struct {
		A, B, C, D Time
	}
	require.NoError(t, json.Unmarshal([]byte(`{"A":"2026-11-30T09:00:00","B":"2026-11-30T09:00:00Z","C":null,"D":""}`), &v))
	assert.False(t, v.A.Zoned)
	assert.True(t, v.B.Zoned)
	assert.True(t, v.C.IsZero())
	assert.True(t, v.D.IsZero())

	out, err := json.Marshal(v)
	require.NoError(t, err)
	assert.JSONEq(t, `{"A":"2026-11-30T09:00:00","B":"2026-11-30T09:00:00Z","C":null,"D":null}`, string(out))

	madrid, err := time.LoadLocation("Europe/Madrid")
	require.NoError(t, err)
	at := time.Date(2026, 11, 30, 10, 0, 0, 0, madrid)
	b, _ := json.Marshal(NewTime(at))
	assert.Equal(t, `"2026-11-30T09:00:00Z"`, string(b), "instants go out as UTC")
	b, _ = json.Marshal(WallClock(at))
	assert.Equal(t, `"2026-11-30T10:00:00"`, string(b), "wall clocks go out without a zone")

	assert.Error(t, json.Unmarshal([]byte(`{"A":42}`), &v))
	assert.Error(t, json.Unmarshal([]byte(`{"A":"soon"}`), &v))
}

func TestResolveInstant(t *testing.T) {
	madrid, err := time.LoadLocation("Europe/Madrid")
	require.NoError(t, err)
	mustParse := func(s string) Time { v, err := ParseTime(s); require.NoError(t, err); return v }
	instant := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC) // 10:00 in Madrid (CET)

	cases := []struct {
		name       string
		utc, local string
		loc        *time.Location
		want       time.Time
		ok         bool
	}{
		{"explicit UTC wins over a contradicting local", "2026-11-30T09:00:00Z", "2026-11-30T23:00:00", madrid, instant, true},
		{"zone-less UTC with its local twin", "2026-11-30T09:00:00", "2026-11-30T10:00:00", madrid, instant, true},
		{"zone-less UTC alone is UTC", "2026-11-30T09:00:00", "", madrid, instant, true},
		{"zone-less UTC equal to local means it was local", "2026-11-30T10:00:00", "2026-11-30T10:00:00", madrid, instant, true},
		{"equal wall clocks in a UTC business are UTC", "2026-11-30T09:00:00", "2026-11-30T09:00:00", time.UTC, instant, true},
		{"only local, zone known", "", "2026-11-30T10:00:00", madrid, instant, true},
		{"only local, zone unknown", "", "2026-11-30T10:00:00", nil, time.Time{}, false},
		{"only local, with an explicit zone", "", "2026-11-30T10:00:00+01:00", nil, instant, true},
		{"nothing", "", "", madrid, time.Time{}, false},
		{"summer time", "2026-07-01T08:00:00", "2026-07-01T10:00:00", madrid, time.Date(2026, 7, 1, 8, 0, 0, 0, time.UTC), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var u, l Time
			if c.utc != "" {
				u = mustParse(c.utc)
			}
			if c.local != "" {
				l = mustParse(c.local)
			}
			got, ok := ResolveInstant(u, l, c.loc)
			assert.Equal(t, c.ok, ok)
			assert.True(t, got.Equal(c.want), "got %s want %s", got, c.want)
		})
	}

	b := Booking{FromTime: mustParse("2026-11-30T09:00:00"), FromTimeLocal: mustParse("2026-11-30T10:00:00"),
		ToTime: mustParse("2026-11-30T11:00:00Z")}
	start, ok := b.Start(madrid)
	assert.True(t, ok)
	assert.True(t, start.Equal(instant))
	end, ok := b.End(madrid)
	assert.True(t, ok)
	assert.Equal(t, 2*time.Hour, end.Sub(start))
}

func TestFormatFilterTime(t *testing.T) {
	madrid, _ := time.LoadLocation("Europe/Madrid")
	assert.Equal(t, "2026-11-30T09:05", FormatFilterTime(time.Date(2026, 11, 30, 10, 5, 59, 0, madrid)))
}

func TestLoadZone(t *testing.T) {
	for _, name := range []string{"Europe/Madrid", "W. Europe Standard Time", "UTC"} {
		loc, err := LoadZone(name)
		require.NoError(t, err, name)
		assert.NotNil(t, loc)
	}
	_, err := LoadZone("Mars/Olympus")
	assert.Error(t, err)
	_, err = LoadZone("")
	assert.Error(t, err)
	loc, err := Business{TimeZone: "Romance Standard Time"}.Location()
	require.NoError(t, err)
	assert.Equal(t, "Europe/Paris", loc.String())
}

func TestIDListDecode(t *testing.T) {
	cases := map[string]IDList{
		`"1,2,3"`:     {1, 2, 3},
		`"4; 5"`:      {4, 5},
		`" 7 "`:       {7},
		`""`:          nil,
		`null`:        nil,
		`[8,9]`:       {8, 9},
		`["10","11"]`: {10, 11},
		`[]`:          {},
		`["12", 13]`:  {12, 13},
	}
	for in, want := range cases {
		var l IDList
		require.NoError(t, json.Unmarshal([]byte(in), &l), in)
		assert.Equal(t, want, l, in)
	}
	for _, bad := range []string{`"1,x"`, `[true]`, `{"a":1}`, `12`} {
		var l IDList
		assert.Error(t, json.Unmarshal([]byte(bad), &l), bad)
	}
	b, _ := json.Marshal(IDList{3, 4})
	assert.Equal(t, `"3,4"`, string(b))
	b, _ = json.Marshal(IDList(nil))
	assert.Equal(t, `null`, string(b))

	var c CoworkerContract
	require.NoError(t, json.Unmarshal([]byte(`{"Id":1,"FloorPlanDeskIds":"5,6","Desks":[6,{"Id":7,"Name":"Office 7"}]}`), &c))
	assert.Equal(t, IDList{5, 6, 7}, c.DeskIDs())
	assert.Equal(t, "Office 7", c.Desks[1].Name)
}

func TestSecretsAreRedacted(t *testing.T) {
	c := Coworker{Entity: Entity{Id: 1}, FullName: "Ada", AccessPincode: "918273"}
	v := Visitor{VisitorCode: "445566"}
	cfg := Config{BaseURL: "https://x.example", Username: "ops@example.com", Password: "hunter2-secret"}
	var logBuf bytes.Buffer
	rec, err := ParseWebhook(ActionCoworkerUpdate, []byte(`[{"Id":1,"AccessPincode":"918273"}]`))
	require.NoError(t, err)
	for _, h := range []slog.Handler{slog.NewJSONHandler(&logBuf, nil), slog.NewTextHandler(&logBuf, nil)} {
		slog.New(h).Info("m", "coworker", c, "visitor", v, "pin", c.AccessPincode, "cfg", cfg, "webhook", rec)
	}
	outputs := []string{
		fmt.Sprintf("%v %+v %#v %s", c, c, c, c.AccessPincode),
		fmt.Sprintf("%v %+v %#v", v, v, v),
		fmt.Sprintf("%v %+v %#v %s", cfg, cfg, cfg, &cfg),
		fmt.Sprintf("%v %+v %s %#v", rec, rec, rec, rec),
		logBuf.String(),
	}
	for _, out := range outputs {
		for _, secret := range []string{"918273", "445566", "hunter2-secret"} {
			assert.NotContains(t, out, secret)
		}
	}
	assert.Contains(t, outputs[0], redacted)
	assert.Contains(t, outputs[2], "ops@example.com")

	// The wire still carries the real value.
	b, _ := json.Marshal(c)
	assert.Contains(t, string(b), `"AccessPincode":"918273"`)
	assert.Equal(t, "918273", c.AccessPincode.Reveal())

	cl, err := New(cfg)
	require.NoError(t, err)
	assert.False(t, strings.Contains(fmt.Sprintf("%v %+v", cl, cl), "hunter2-secret"))
}

func TestConfigValidation(t *testing.T) {
	_, err := New(Config{Username: "u"})
	assert.Error(t, err)
	_, err = New(Config{Username: "u", Password: "p", Auth: "digest"})
	assert.Error(t, err)
	_, err = New(Config{BaseURL: "ftp://x", Username: "u", Password: "p"})
	assert.Error(t, err)
	c, err := New(Config{Username: "u", Password: "p", Auth: "BASIC"})
	require.NoError(t, err)
	got := c.Config()
	assert.Equal(t, AuthBasic, got.Auth)
	assert.Equal(t, DefaultBaseURL, got.BaseURL)
	assert.Equal(t, DefaultMaxThrottleWait, got.MaxThrottleWait)
	assert.Equal(t, DefaultRequestsPerMinute, got.RequestsPerMinute)
}

func TestWriteResponseValue(t *testing.T) {
	for in, want := range map[string]int{
		`{"WasSuccessful":true,"Value":{"Id":7}}`:                  7,
		`{"WasSuccessful":true,"Value":{"Id":8,"FullName":"Ada"}}`: 8,
		`{"WasSuccessful":true,"Value":9}`:                         9,
		`{"WasSuccessful":true,"Value":null}`:                      0,
	} {
		var wr WriteResponse
		require.NoError(t, json.Unmarshal([]byte(in), &wr), in)
		got := 0
		if wr.Value != nil {
			got = wr.Value.Id
		}
		assert.Equal(t, want, got, in)
	}
	var wr WriteResponse
	assert.Error(t, json.Unmarshal([]byte(`{"Value":"x"}`), &wr))
}
