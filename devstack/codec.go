package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/nexsalto/nexsalto/codec"
	"github.com/nexsalto/nexsalto/config"
	"github.com/nexsalto/nexsalto/devserver"
	"github.com/nexsalto/nexsalto/metrics"
	"github.com/nexsalto/nexsalto/service"
)

// Files of the data folder that protect the payloads: the key set (made on first start, like the webhook
// secret) and the codec server's token.
const (
	keysFileName  = "encryption-keys.yaml"
	tokenFileName = "codec-token"
)

// stackCodec is how the dev stack encrypts and lets its Web UI decrypt: every payload is encrypted with the
// data folder's key, and the embedded UI calls the worker's codec server with the token in the endpoint's path
// (the UI has no login of ours, so it cannot send the token as a header).
type stackCodec struct {
	keysFile, tokenFile string
	token               string
	listen              string // the codec server's address
	url                 string // its base URL, without the token
}

func newStackCodec(dir, ip string, port int) (*stackCodec, error) {
	c := &stackCodec{keysFile: filepath.Join(dir, keysFileName), tokenFile: filepath.Join(dir, tokenFileName)}
	if err := ensureKeys(c.keysFile); err != nil {
		return nil, fmt.Errorf("encryption keys: %w", err)
	}
	var err error
	if c.token, err = persistentSecret(c.tokenFile); err != nil {
		return nil, fmt.Errorf("codec token: %w", err)
	}
	if port == 0 {
		if port, err = devserver.FreePort(ip); err != nil {
			return nil, err
		}
	}
	c.listen = net.JoinHostPort(ip, strconv.Itoa(port))
	host := ip
	if a := net.ParseIP(ip); a != nil && a.IsUnspecified() {
		host = "127.0.0.1"
	}
	c.url = "http://" + net.JoinHostPort(host, strconv.Itoa(port))
	return c, nil
}

// uiEndpoint is what the Web UI is configured with: it posts to uiEndpoint + "/decode".
func (c *stackCodec) uiEndpoint() string { return c.url + "/" + c.token }

// configure sets the worker's encryption and codec server; uiURL is the Web UI's address (its origin).
func (c *stackCodec) configure(cfg *config.Config, uiURL string) {
	cfg.Temporal.Encryption = config.Encryption{KeysFile: c.keysFile}
	cfg.Codec = config.Codec{Listen: c.listen, TokenFile: c.tokenFile, Origins: uiOrigins(uiURL)}
}

// uiOrigins are the origins a browser may show the UI under: as printed, and by the other loopback name.
func uiOrigins(uiURL string) []string {
	if uiURL == "" {
		return nil
	}
	origins := []string{uiURL}
	u, err := url.Parse(uiURL)
	if err != nil {
		return origins
	}
	switch u.Hostname() {
	case "127.0.0.1", "0.0.0.0":
		origins = append(origins, "http://localhost:"+u.Port())
		if u.Hostname() == "0.0.0.0" {
			origins = append(origins, "http://127.0.0.1:"+u.Port())
		}
	case "localhost":
		origins = append(origins, "http://127.0.0.1:"+u.Port())
	}
	return origins
}

// dial connects the stack's client (the worker's too) with the data folder's keys.
func (c *stackCodec) dial(ctx context.Context, srv *devserver.Server, cfg *config.Config, logger *slog.Logger) (client.Client, error) {
	opts := client.Options{Logger: sdklog.NewStructuredLogger(logger)}
	var err error
	if opts.MetricsHandler, err = metrics.TemporalHandler(); err != nil { // the SDK's metrics on /metrics, as in the worker
		return nil, err
	}
	payloads, err := service.NewCodec(cfg.Temporal.Encryption)
	if err != nil {
		return nil, err
	}
	service.EncryptPayloads(&opts, payloads)
	return srv.NewClient(ctx, opts)
}

// ensureKeys makes the data folder's key set once. An existing file is kept as it is: histories written with
// its keys need them, and an operator may have rotated it (a new key first, the old ones after it).
func ensureKeys(path string) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	keys, err := codec.NewKeyFile("devstack-1")
	if err != nil {
		return err
	}
	return writeAtomic(path, keys)
}
