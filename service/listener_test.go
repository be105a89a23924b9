package service_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/nexsalto/nexsalto/config"
	"github.com/nexsalto/nexsalto/internal/logbuf"
	"github.com/nexsalto/nexsalto/service"
)

// serve runs the webhook listener's own server (as Worker.Start builds it) for h on a real port.
func serve(t *testing.T, c config.Webhooks, h http.Handler, logger *slog.Logger) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := service.NewWebhookServer(c, h, logger)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// A client that trickles its request in (headers or body, a byte at a time) is disconnected once the read
// timeout passes, instead of holding a connection and a goroutine for as long as it likes. The default read
// timeout cuts off a body sent a byte every 2 s within 15 s.
func TestListenerDisconnectsSlowClients(t *testing.T) {
	def := service.NewWebhookServer(config.Webhooks{}, http.NotFoundHandler(), nil)
	if def.ReadTimeout <= 0 || def.ReadTimeout > 15*time.Second || def.ReadHeaderTimeout <= 0 ||
		def.ReadHeaderTimeout > def.ReadTimeout || def.IdleTimeout <= 0 || def.WriteTimeout < def.ReadTimeout+10*time.Second {
		t.Fatalf("default timeouts: read %s, header %s, write %s, idle %s", def.ReadTimeout, def.ReadHeaderTimeout,
			def.WriteTimeout, def.IdleTimeout)
	}

	const timeout = time.Second
	hooks := &service.Webhooks{Prefix: "/hooks", Token: "t0k3n", Logger: quiet()}
	addr := serve(t, config.Webhooks{ReadTimeout: timeout, RatePerSecond: -1}, hooks, quiet())
	for name, head := range map[string]string{
		"body":    "POST /hooks/BookingCreate HTTP/1.1\r\nHost: x\r\nX-Nexudus-Webhook-Token: t0k3n\r\nContent-Length: 1000\r\n\r\n[",
		"headers": "POST /hooks/BookingCreate HTTP/1.1\r\nHost: x\r\nX-Nexudus-Webhook-Token: t0k3n\r\nX-Slow: ",
	} {
		t.Run(name, func(t *testing.T) {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = conn.Close() }()
			start := time.Now()
			if _, err := io.WriteString(conn, head); err != nil {
				t.Fatal(err)
			}
			stop := make(chan struct{})
			defer close(stop)
			go func() { // one byte every 200 ms: a 1000-byte body would take 200 s
				tick := time.NewTicker(200 * time.Millisecond)
				defer tick.Stop()
				for {
					select {
					case <-stop:
						return
					case <-tick.C:
						if _, err := conn.Write([]byte("a")); err != nil {
							return
						}
					}
				}
			}()
			_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			answer, err := io.ReadAll(conn) // until the server closes the connection
			took := time.Since(start)
			var netErr net.Error
			if errors.As(err, &netErr) && netErr.Timeout() {
				t.Fatalf("still connected after %s", took)
			}
			if took > 5*timeout {
				t.Errorf("disconnected after %s, want about %s", took, timeout)
			}
			if bytes.HasPrefix(answer, []byte("HTTP/1.1 2")) {
				t.Errorf("a request never received was answered %q", answer)
			}
		})
	}
}

// Over the cap on requests in flight, the listener answers 503 with Retry-After at once, rather than queueing
// without bound; once requests finish it serves again.
func TestListenerCapsConcurrentRequests(t *testing.T) {
	release := make(chan struct{})
	var inside sync.WaitGroup
	inside.Add(2)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			inside.Done()
			<-release
		}
		_, _ = io.WriteString(w, "done")
	})
	addr := serve(t, config.Webhooks{MaxConcurrent: 2, RatePerSecond: -1}, h, quiet())
	results := make(chan int, 2)
	for range 2 {
		go func() {
			resp, err := http.Post("http://"+addr+"/slow", "text/plain", nil)
			if err != nil {
				results <- 0
				return
			}
			_ = resp.Body.Close()
			results <- resp.StatusCode
		}()
	}
	inside.Wait()
	resp, err := http.Post("http://"+addr+"/fast", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	var out service.Outcome
	_ = json.NewDecoder(resp.Body).Decode(&out)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || out.Status != "error" {
		t.Errorf("third request in flight: %d, Retry-After %q, %+v; want 503 with Retry-After", resp.StatusCode,
			resp.Header.Get("Retry-After"), out)
	}
	close(release)
	for range 2 {
		if code := <-results; code != http.StatusOK {
			t.Errorf("a request within the cap answered %d", code)
		}
	}
	resp, err = http.Post("http://"+addr+"/fast", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("after the burst: %d, want 200", resp.StatusCode)
	}
}

// clientFrom is an HTTP client whose connections come from the loopback address ip: another source.
func clientFrom(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
}

// One source address over its rate is answered 429 with Retry-After; another source is not held back by it.
func TestListenerLimitsEachSource(t *testing.T) {
	logs := &logbuf.Buffer{}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") })
	addr := serve(t, config.Webhooks{RatePerSecond: 0.5, RateBurst: 3}, h, slog.New(slog.NewTextHandler(logs, nil)))
	get := func(c *http.Client) *http.Response {
		t.Helper()
		resp, err := c.Get("http://" + addr + "/hooks/BookingCreate?token=q-secret-77")
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		return resp
	}
	a := clientFrom("127.0.0.1")
	for i := range 3 {
		if resp := get(a); resp.StatusCode != http.StatusOK {
			t.Fatalf("request %d within the burst: %d", i, resp.StatusCode)
		}
	}
	resp := get(a)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "2" {
		t.Errorf("over the rate: %d, Retry-After %q; want 429 with Retry-After 2", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if resp := get(clientFrom("127.0.0.2")); resp.StatusCode != http.StatusOK {
		t.Errorf("another source: %d, want 200", resp.StatusCode)
	}
	line := logs.String()
	if !strings.Contains(line, "webhook listener refusing requests") || !strings.Contains(line, "Source=127.0.0.1") {
		t.Errorf("the refusal is not logged: %s", line)
	}
	if strings.Contains(line, "q-secret-77") {
		t.Errorf("the log holds the query token: %s", line)
	}
}

// The ?token= query form never gets past the listener's front: whatever runs behind it (the receiver, a
// future access log) sees the token only in the header, and the receiver's log lines never hold it.
func TestListenerKeepsQueryTokenOutOfURLs(t *testing.T) {
	var mu sync.Mutex
	var urls []string
	var header string
	recordURL := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			urls, header = append(urls, r.URL.String(), r.RequestURI), r.Header.Get(service.TokenHeader)
			mu.Unlock()
			next.ServeHTTP(w, r)
		})
	}
	logs := &logbuf.Buffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	tc, err := client.NewLazyClient(client.Options{HostPort: "127.0.0.1:1"}) // Temporal out of reach: a warning
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	const token = "url-t0ken-9431"
	hooks := &service.Webhooks{Temporal: tc, TaskQueue: "access", Prefix: "/hooks", Token: token, Logger: logger,
		SignalTimeout: 200 * time.Millisecond}
	addr := serve(t, config.Webhooks{}, recordURL(hooks), logger)
	body := `[{"Id":7,"ResourceId":10}]`
	status, out := post(t, "http://"+addr+"/hooks/BookingCreate?token="+token+"&other=1", body, nil)
	if status != http.StatusServiceUnavailable {
		t.Fatalf("got %d %+v, want 503 (the token accepted, Temporal out of reach)", status, out)
	}
	if status, _ := post(t, "http://"+addr+"/hooks/BookingCreate?token=wrong-"+token, body, nil); status != http.StatusUnauthorized {
		t.Errorf("wrong query token: %d", status)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, u := range urls {
		if strings.Contains(u, token) {
			t.Errorf("behind the listener the URL is %q: want the token gone", u)
		}
	}
	if len(urls) < 2 || urls[0] != "/hooks/BookingCreate?other=1" || urls[1] != urls[0] {
		t.Errorf("URLs behind the listener %q: want the rest of the query kept", urls)
	}
	if !strings.Contains(header, token) {
		t.Errorf("the token did not reach the receiver in the header: %q", header)
	}
	if line := logs.String(); strings.Contains(line, token) || !strings.Contains(line, "webhook not delivered") {
		t.Errorf("log: %s", line)
	}
}

// The token in the X-Nexudus-Webhook-Token header (the preferred form) is accepted, as is the older
// X-Webhook-Token; a wrong one in the header is refused even with the right one in the URL.
func TestWebhookTokenInHeader(t *testing.T) {
	tc, err := client.NewLazyClient(client.Options{HostPort: "127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	hooks := &service.Webhooks{Temporal: tc, TaskQueue: "access", Prefix: "/hooks", Token: "h-t0k3n", Logger: quiet(),
		SignalTimeout: 100 * time.Millisecond}
	hs := httptest.NewServer(hooks)
	defer hs.Close()
	body := `[{"Id":7,"ResourceId":10}]`
	for _, c := range []struct {
		url    string
		header map[string]string
		want   int
	}{
		{"/hooks/BookingCreate", map[string]string{service.TokenHeader: "h-t0k3n"}, http.StatusServiceUnavailable},
		{"/hooks/BookingCreate", map[string]string{"X-Webhook-Token": "h-t0k3n"}, http.StatusServiceUnavailable},
		{"/hooks/BookingCreate", map[string]string{service.TokenHeader: "wrong"}, http.StatusUnauthorized},
		{"/hooks/BookingCreate?token=h-t0k3n", map[string]string{service.TokenHeader: "wrong"}, http.StatusUnauthorized},
		{"/hooks/BookingCreate", nil, http.StatusUnauthorized},
	} {
		// 503: past the token check, and Temporal is out of reach here.
		if status, out := post(t, hs.URL+c.url, body, c.header); status != c.want {
			t.Errorf("%s %v: %d %+v, want %d", c.url, c.header, status, out, c.want)
		}
	}
}

// down is a Temporal client whose health check fails with the kind of text that must not leave the process.
type down struct{ client.Client }

func (down) CheckHealth(context.Context, *client.CheckHealthRequest) (*client.CheckHealthResponse, error) {
	return nil, errors.New("dial tcp 10.20.30.40:7233: connect: connection refused (temporal-internal.corp)")
}

// /healthz says alive and nothing more, whatever Temporal does; /readyz says ready or not and nothing more:
// Temporal's error text, which names internal hosts, goes to the log only, once.
func TestHealthChecksAnswerOnlyAWord(t *testing.T) {
	cfg := &config.Config{}
	cfg.ApplyDefaults()
	logs := &logbuf.Buffer{}
	w := &service.Worker{Config: cfg, Temporal: down{}, Logger: slog.New(slog.NewTextHandler(logs, nil))}
	hs := httptest.NewServer(w.Handler())
	defer hs.Close()
	get := func(path string) (int, string) {
		resp, err := http.Get(hs.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		return resp.StatusCode, string(body)
	}
	for range 2 {
		if code, body := get("/healthz"); code != http.StatusOK || body != "ok\n" {
			t.Errorf("/healthz: %d %q, want 200 \"ok\"", code, body)
		}
		if code, body := get("/readyz"); code != http.StatusServiceUnavailable || body != "unavailable\n" {
			t.Errorf("/readyz: %d %q, want 503 \"unavailable\"", code, body)
		}
	}
	line := logs.String()
	if !strings.Contains(line, "10.20.30.40") || strings.Count(line, "Temporal unavailable") != 1 {
		t.Errorf("want the reason logged once: %s", line)
	}
}

// The worker warns at start when it would talk to a Temporal that is not on this machine without TLS.
func TestPlainTemporalOverTheNetworkIsWarned(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the warning comes before the dial, which then fails at once
	for addr, warned := range map[string]bool{"temporal.example.com:7233": true, "10.0.0.7:7233": true,
		"127.0.0.1:7233": false, "localhost:7233": false, "[::1]:7233": false} {
		logs := &logbuf.Buffer{}
		_, _ = service.DialTemporal(ctx, config.Temporal{Address: addr, Namespace: "default"},
			slog.New(slog.NewTextHandler(logs, nil)))
		line := firstLine(logs.String(), "Temporal connection is not encrypted")
		if (line != "") != warned || (warned && !strings.Contains(line, "level=WARN")) {
			t.Errorf("%s: warning %q, want warned=%v", addr, line, warned)
		}
	}
	logs := &logbuf.Buffer{}
	_, _ = service.DialTemporal(ctx, config.Temporal{Address: "temporal.example.com:7233", Namespace: "default",
		TLS: config.TLS{Enabled: true}}, slog.New(slog.NewTextHandler(logs, nil)))
	if strings.Contains(logs.String(), "not encrypted") {
		t.Errorf("warned with TLS on: %s", logs.String())
	}
}

func firstLine(text, with string) string {
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		if strings.Contains(sc.Text(), with) {
			return sc.Text()
		}
	}
	return ""
}
