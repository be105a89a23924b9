package salto

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"testing"
	"time"
)

func TestClassify(t *testing.T) {
	cases := []struct {
		status int
		code   string
		want   ErrorKind
	}{
		{404, "2202", KindNotFound},
		{404, "", KindNotFound},
		{400, "2202", KindNotFound}, // the code wins over an odd status
		{400, "1100", KindValidation},
		{400, "1101", KindValidation},
		{400, "1102", KindValidation},
		{422, "", KindValidation},
		{403, "2203", KindPermission},
		{403, "2301", KindPermission},
		{401, "2203", KindAuth},
		{429, "", KindRateLimited},
		{429, "1100", KindRateLimited},
		{500, "", KindTransient},
		{503, "2202", KindTransient},
		{408, "", KindTransient},
		{409, "", KindConflict},
		{418, "", KindOther},
		{400, "3102", KindValidation},
	}
	for _, c := range cases {
		if got := classify(c.status, c.code); got != c.want {
			t.Errorf("classify(%d, %q) = %s, want %s", c.status, c.code, got, c.want)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	if d := parseRetryAfter("7", now); d != 7*time.Second {
		t.Fatalf("seconds: %v", d)
	}
	if d := parseRetryAfter(now.Add(90*time.Second).Format(http.TimeFormat), now); d != 90*time.Second {
		t.Fatalf("HTTP date: %v", d)
	}
	if d := parseRetryAfter(now.Add(-time.Minute).Format(http.TimeFormat), now); d != 0 {
		t.Fatalf("past date: %v", d)
	}
	if d := parseRetryAfter("soon", now); d != 0 {
		t.Fatalf("garbage: %v", d)
	}
}

func TestResponseErrorReadsNumericCodes(t *testing.T) {
	e := responseError("GET", "/p", 404, http.Header{}, []byte(`{"ErrorCode":2202,"Message":"User not found"}`),
		time.Now())
	if e.Code != "2202" || e.Kind != KindNotFound || e.Message != "User not found" {
		t.Fatalf("%+v", e)
	}
	e = responseError("GET", "/p", 503, http.Header{"Retry-After": {"4"}}, []byte("<html>busy</html>"), time.Now())
	if e.Kind != KindTransient || e.RetryAfter != 4*time.Second || e.Code != "" {
		t.Fatalf("%+v", e)
	}
}

func TestDecodePageShapes(t *testing.T) {
	items, next, err := decodePage[Lock]([]byte(` [{"id":"a"},{"id":"b"}]`))
	if err != nil || len(items) != 2 || next != "" {
		t.Fatalf("bare: %v %q %v", items, next, err)
	}
	items, next, err = decodePage[Lock]([]byte(`{"items":[{"id":"c"}],"next_page_link":"/x?$skip=1","count":3}`))
	if err != nil || len(items) != 1 || next != "/x?$skip=1" {
		t.Fatalf("envelope: %v %q %v", items, next, err)
	}
	items, next, err = decodePage[Lock]([]byte(`{"items":[],"next_page_link":null,"count":null}`))
	if err != nil || len(items) != 0 || next != "" {
		t.Fatalf("last page: %v %q %v", items, next, err)
	}
	if _, _, err = decodePage[Lock]([]byte(`"text"`)); err == nil {
		t.Fatal("a string is not a list")
	}
}

func TestEntryTimeWithoutOffsetIsUTC(t *testing.T) {
	var e Entry
	if err := json.Unmarshal([]byte(`{"utc_date_time":"2026-01-02T03:04:05","lock_id":"l"}`), &e); err != nil {
		t.Fatal(err)
	}
	if !e.UTCDateTime.Equal(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) || e.LockID != "l" {
		t.Fatalf("%+v", e)
	}
}

func TestQueryEncoding(t *testing.T) {
	q := query{{"$filter", "user/email eq " + odataString("o'neil@example.com")}, {"$top", "5"}}
	want := "$filter=user%2Femail%20eq%20%27o%27%27neil%40example.com%27&$top=5"
	if got := q.encode(); got != want {
		t.Fatalf("got %s", got)
	}
}

func TestTransientCauses(t *testing.T) {
	refused := &url.Error{Op: "Get", URL: "http://x", Err: &net.OpError{Op: "dial", Err: errors.New("refused")}}
	cases := []struct {
		err  error
		want bool
	}{
		{refused, true},
		{&url.Error{Op: "Get", URL: "http://x", Err: context.Canceled}, false},
		{&url.Error{Op: "Get", URL: "http://x", Err: context.DeadlineExceeded}, true},
		{&url.Error{Op: "Get", URL: "http://x", Err: io.EOF}, true},
		{&url.Error{Op: "Get", URL: "http://x", Err: errors.New("unsupported protocol scheme")}, false},
	}
	for _, c := range cases {
		if got := isTransientCause(c.err); got != c.want {
			t.Errorf("isTransientCause(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
