package main

import (
	"context"
	"io"
	"maps"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nexsalto/nexsalto/config"
	"github.com/nexsalto/nexsalto/internal/logbuf"
)

// `starter codec-server` serves the codec with the configuration's keys, refusing calls without the token;
// without a token configured it does not start.
func TestCodecServerCommand(t *testing.T) {
	e := newSimulators(t)
	cfg := e.writeConfig("config.yaml", e.configYAML(e.mainMapping()))
	if r := runCLI(t, testSecrets, "--config", cfg, "codec-server"); r.code != exitFailure || !strings.Contains(r.stderr, "codec.token_file") {
		t.Fatalf("without a token: %s", r)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	env := maps.Clone(testSecrets)
	env[config.EnvCodecToken] = "starter-codec-token-0123"
	var out, errOut logbuf.Buffer
	d := deps{Stdout: &out, Stderr: &errOut, Getenv: func(k string) string { return env[k] }, Now: time.Now,
		IsTerminal: func(io.Writer) bool { return false }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() { done <- run(ctx, d, []string{"--config", cfg, "codec-server", "--listen", addr}) }()
	defer func() {
		cancel()
		if code := <-done; code != exitOK {
			t.Errorf("exit %d: %s", code, errOut.String())
		}
	}()
	eventually(t, "the codec server listening", 10*time.Second, func() bool { return strings.Contains(out.String(), addr) })
	for auth, want := range map[string]int{"": http.StatusUnauthorized, "Bearer " + env[config.EnvCodecToken]: http.StatusOK} {
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/decode", strings.NewReader(`{"payloads": []}`))
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("Authorization %q: %d, want %d", auth, resp.StatusCode, want)
		}
	}
	if strings.Contains(out.String()+errOut.String(), env[config.EnvCodecToken]) {
		t.Error("the token was printed")
	}
}
