package service

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"

	"go.temporal.io/sdk/client"

	"github.com/nexsalto/nexsalto/codec"
	"github.com/nexsalto/nexsalto/codecserver"
	"github.com/nexsalto/nexsalto/config"
)

// NewCodec loads the key set temporal.encryption names (NEXSALTO_ENCRYPTION_KEYS before keys_file); nil, nil
// when payloads stay in clear.
func NewCodec(e config.Encryption) (*codec.Codec, error) {
	if !e.Enabled() {
		return nil, nil
	}
	keys, err := codec.LoadKeys(e.KeysFile, e.Keys)
	if err != nil {
		return nil, fmt.Errorf("config: temporal.encryption: %w", err)
	}
	c, err := codec.New(keys)
	if err != nil {
		return nil, fmt.Errorf("config: temporal.encryption: %w", err)
	}
	return c, nil
}

// EncryptPayloads makes a client encrypt every payload with c, failure messages and stack traces included;
// nothing when c is nil. Workers take their converters from their client.
func EncryptPayloads(opts *client.Options, c *codec.Codec) {
	if c == nil {
		return
	}
	opts.DataConverter = codec.DataConverter(c)
	opts.FailureConverter = codec.FailureConverter(opts.DataConverter)
}

// CodecToken is the codec server's token: NEXSALTO_CODEC_TOKEN, else the first line of codec.token_file.
func CodecToken(c config.Codec) (string, error) {
	if c.Token != "" {
		return c.Token, nil
	}
	if c.TokenFile == "" {
		return "", errors.New("config: codec.token_file: required (or " + config.EnvCodecToken + ")")
	}
	raw, err := os.ReadFile(c.TokenFile)
	if err != nil {
		return "", fmt.Errorf("config: codec.token_file: %w", err)
	}
	token, _, _ := strings.Cut(strings.TrimSpace(string(raw)), "\n")
	if len(token) < config.MinCodecTokenLength {
		return "", fmt.Errorf("config: codec.token_file: the token in %s is shorter than %d characters", c.TokenFile,
			config.MinCodecTokenLength)
	}
	return token, nil
}

// NewCodecHandler is the codec server of the configuration: the key set of temporal.encryption, the token
// and origins of codec.
func NewCodecHandler(cfg *config.Config, logger *slog.Logger) (http.Handler, error) {
	c, err := NewCodec(cfg.Temporal.Encryption)
	if err != nil {
		return nil, err
	}
	if c == nil {
		return nil, errors.New("config: codec: temporal.encryption has no keys: there is nothing to decode")
	}
	token, err := CodecToken(cfg.Codec)
	if err != nil {
		return nil, err
	}
	return codecserver.New(codecserver.Options{Codec: c, Token: token, Origins: cfg.Codec.Origins, Logger: logger})
}

// CodecServer is a running codec server.
type CodecServer struct {
	server   *http.Server
	listener net.Listener
	tls      bool
}

// StartCodecServer serves cfg's codec server on addr (codec.listen), over HTTPS with codec.cert_file.
func StartCodecServer(cfg *config.Config, addr string, logger *slog.Logger) (*CodecServer, error) {
	if logger == nil {
		logger = slog.Default()
	}
	h, err := NewCodecHandler(cfg, logger)
	if err != nil {
		return nil, err
	}
	s := &CodecServer{server: codecserver.NewServer(h, logger), tls: cfg.Codec.CertFile != ""}
	if s.tls {
		// Loaded now, so that a wrong file stops the start instead of every later handshake.
		cert, err := tls.LoadX509KeyPair(cfg.Codec.CertFile, cfg.Codec.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("config: codec.cert_file/key_file: %w", err)
		}
		s.server.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("codec server on %s: %w", addr, err)
	}
	s.listener = ln
	go func() {
		var err error
		if s.tls {
			err = s.server.ServeTLS(ln, "", "")
		} else {
			err = s.server.Serve(ln)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("codec server stopped", "Error", err)
		}
	}()
	return s, nil
}

// URL is the base URL of the codec server, without the token.
func (s *CodecServer) URL() string {
	scheme := "http://"
	if s.tls {
		scheme = "https://"
	}
	return scheme + s.listener.Addr().String()
}

// Close stops the codec server.
func (s *CodecServer) Close() error { return s.server.Close() }
