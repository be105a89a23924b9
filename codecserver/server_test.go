package codecserver

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/nexsalto/nexsalto/codec"
)

const (
	token = "test-codec-token-0123456789"
	ui    = "http://127.0.0.1:8233"
)

func newServer(t *testing.T) (*httptest.Server, *codec.Codec) {
	t.Helper()
	k, err := codec.GenerateKey("k1")
	if err != nil {
		t.Fatal(err)
	}
	c, err := codec.New([]codec.Key{k})
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(Options{Codec: c, Token: token, Origins: []string{ui, "https://cloud.temporal.io"}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv, c
}

func post(t *testing.T, url string, body string, headers map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Namespace", "default")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = resp.Body.Close() })
	return resp
}

func encrypted(t *testing.T, c *codec.Codec, v any) string {
	t.Helper()
	p, err := converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), c).ToPayload(v)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := protojson.Marshal(&commonpb.Payloads{Payloads: []*commonpb.Payload{p}})
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

func decoded(t *testing.T, resp *http.Response) string {
	t.Helper()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, raw)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	var out commonpb.Payloads
	if err := protojson.Unmarshal(raw, &out); err != nil || len(out.Payloads) != 1 {
		t.Fatalf("answer %s: %v", raw, err)
	}
	var s string
	if err := converter.GetDefaultDataConverter().FromPayload(out.Payloads[0], &s); err != nil {
		t.Fatalf("the answer is not a plain payload: %v", err)
	}
	return s
}

// Without the token, or with a wrong one, a call is refused with 401 and nothing decoded.
func TestTokenRequired(t *testing.T) {
	srv, c := newServer(t)
	body := encrypted(t, c, "vera@example.com")
	for name, call := range map[string]struct {
		path    string
		headers map[string]string
	}{
		"no token":           {"/decode", nil},
		"wrong bearer":       {"/decode", map[string]string{"Authorization": "Bearer not-the-token-at-all"}},
		"prefix of it":       {"/decode", map[string]string{"Authorization": "Bearer " + token[:len(token)-1]}},
		"basic":              {"/decode", map[string]string{"Authorization": "Basic " + token}},
		"wrong path":         {"/not-the-token-at-all/decode", nil},
		"token not last":     {"/" + token + "/x/decode", nil},
		"encode, no token":   {"/encode", nil},
		"UI's own JWT alone": {"/decode", map[string]string{"Authorization": "Bearer eyJhbGciOi.x.y"}},
	} {
		resp := post(t, srv.URL+call.path, body, call.headers)
		raw, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusUnauthorized || strings.Contains(string(raw), "vera") {
			t.Errorf("%s: %d %s", name, resp.StatusCode, raw)
		}
		if !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s: no WWW-Authenticate", name)
		}
	}
	if _, err := New(Options{Codec: c, Token: "short"}); err == nil {
		t.Error("a short token was accepted")
	}
}

// With the token (header, or path as the Web UI sends it) an encrypted payload comes back decoded, and a plain
// payload encoded comes back encrypted.
func TestDecodeAndEncode(t *testing.T) {
	srv, c := newServer(t)
	body := encrypted(t, c, "vera@example.com")
	if got := decoded(t, post(t, srv.URL+"/decode", body, map[string]string{"Authorization": "Bearer " + token})); got != "vera@example.com" {
		t.Errorf("bearer: %q", got)
	}
	// The UI's URL: endpoint + "/decode?preserveStorageRefs=true", its own (empty or foreign) token in the header.
	resp := post(t, srv.URL+"/"+token+"/decode?preserveStorageRefs=true", body,
		map[string]string{"Origin": ui, "Authorization": "Bearer eyJhbGciOi.users-own.token"})
	if got := decoded(t, resp); got != "vera@example.com" {
		t.Errorf("path token: %q", got)
	}
	if resp.Header.Get("Access-Control-Allow-Origin") != ui || resp.Header.Get("Access-Control-Allow-Credentials") != "true" {
		t.Errorf("CORS headers on the answer: %v", resp.Header)
	}
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Error("decoded data may be cached")
	}

	p, _ := converter.GetDefaultDataConverter().ToPayload("signal from the UI")
	raw, _ := protojson.Marshal(&commonpb.Payloads{Payloads: []*commonpb.Payload{p}})
	resp = post(t, srv.URL+"/encode", string(raw), map[string]string{"Authorization": "bearer " + token})
	out, _ := io.ReadAll(resp.Body)
	var enc commonpb.Payloads
	if resp.StatusCode != http.StatusOK || protojson.Unmarshal(out, &enc) != nil || len(enc.Payloads) != 1 ||
		string(enc.Payloads[0].Metadata[converter.MetadataEncoding]) != codec.EncodingEncrypted {
		t.Fatalf("encode: %d %s", resp.StatusCode, out)
	}
	dec, err := c.Decode(enc.Payloads)
	if err != nil || !strings.Contains(string(dec[0].Data), "signal from the UI") {
		t.Errorf("encoded payload does not decode: %v", err)
	}

	for name, bad := range map[string]string{"not JSON": "payloads", "wrong shape": `{"payloads": 3}`} {
		if resp := post(t, srv.URL+"/decode", bad, map[string]string{"Authorization": "Bearer " + token}); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %d", name, resp.StatusCode)
		}
	}
	if resp := post(t, srv.URL+"/elsewhere", body, map[string]string{"Authorization": "Bearer " + token}); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown path: %d", resp.StatusCode)
	}
}

// The browser's preflight for the UI's call: allowed for the configured origins with the UI's headers, refused
// for any other page.
func TestCORSPreflight(t *testing.T) {
	srv, _ := newServer(t)
	preflight := func(origin string, private bool) *http.Response {
		req, _ := http.NewRequest(http.MethodOptions, srv.URL+"/"+token+"/decode?preserveStorageRefs=true", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization,authorization-extras,content-type,x-namespace")
		if private {
			req.Header.Set("Access-Control-Request-Private-Network", "true")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		return resp
	}
	resp := preflight(ui, false)
	h := resp.Header
	if resp.StatusCode != http.StatusNoContent || h.Get("Access-Control-Allow-Origin") != ui ||
		h.Get("Access-Control-Allow-Credentials") != "true" || !strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") {
		t.Errorf("preflight: %d %v", resp.StatusCode, h)
	}
	for _, want := range []string{"Authorization", "Authorization-Extras", "Content-Type", "X-Namespace"} {
		if !strings.Contains(h.Get("Access-Control-Allow-Headers"), want) {
			t.Errorf("%s not allowed: %q", want, h.Get("Access-Control-Allow-Headers"))
		}
	}
	if h.Get("Access-Control-Allow-Private-Network") != "" {
		t.Error("private network allowed unasked")
	}
	if resp := preflight("https://cloud.temporal.io", true); resp.Header.Get("Access-Control-Allow-Private-Network") != "true" {
		t.Errorf("private network preflight: %v", resp.Header)
	}
	resp = preflight("https://evil.example", false)
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("foreign origin: %d %v", resp.StatusCode, resp.Header)
	}
	// A foreign page's POST is refused before the token is even looked at.
	if resp := post(t, srv.URL+"/"+token+"/decode", `{"payloads": []}`, map[string]string{"Origin": "https://evil.example"}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("foreign origin POST: %d", resp.StatusCode)
	}
}
