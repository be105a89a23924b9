// Package service wires the worker process together: the Temporal client, the worker with every workflow and
// activity registered, and the Nexudus webhook receiver. The worker and devstack mains and the end-to-end tests
// all use this one wiring, so what the tests run is what production runs.
package service

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/opentelemetry"
	"go.temporal.io/sdk/interceptor"
	sdklog "go.temporal.io/sdk/log"

	"github.com/nexsalto/nexsalto/config"
	"github.com/nexsalto/nexsalto/metrics"
)

// DialTemporal connects to any Temporal service: a local dev server, a self-hosted cluster (optionally mTLS) or
// Temporal Cloud (API key or mTLS). Traces go to the global OpenTelemetry tracer provider, the SDK's metrics to
// metrics.Registry. With keys in temporal.encryption every payload and failure is encrypted before it leaves
// the process (see package codec).
func DialTemporal(ctx context.Context, t config.Temporal, logger *slog.Logger) (client.Client, error) {
	opts := client.Options{
		HostPort:  t.Address,
		Namespace: t.Namespace,
		Logger:    sdklog.NewStructuredLogger(logger),
	}
	tracing, err := opentelemetry.NewTracingInterceptor(opentelemetry.TracerOptions{})
	if err != nil {
		return nil, fmt.Errorf("temporal tracing: %w", err)
	}
	opts.Interceptors = []interceptor.ClientInterceptor{tracing}
	// The SDK's own metrics (pollers, task latencies, request failures) join ours on /metrics.
	if opts.MetricsHandler, err = metrics.TemporalHandler(); err != nil {
		return nil, fmt.Errorf("temporal metrics: %w", err)
	}
	opts.ConnectionOptions.DialOptions = append(opts.ConnectionOptions.DialOptions, resumeAtOnce()...)
	if t.TLS.Enabled || t.TLS.CAFile != "" || t.TLS.CertFile != "" || t.APIKey != "" {
		tc, err := tlsConfig(t.TLS)
		if err != nil {
			return nil, err
		}
		opts.ConnectionOptions.TLS = tc
	}
	if t.APIKey != "" {
		opts.Credentials = client.NewAPIKeyStaticCredentials(t.APIKey)
	}
	payloads, err := NewCodec(t.Encryption)
	if err != nil {
		return nil, err
	}
	EncryptPayloads(&opts, payloads)
	if logger != nil {
		switch {
		case payloads != nil: // key ids only: they are in every payload's clear metadata anyway
			logger.Debug("Temporal payloads encrypted", "ActiveKey", payloads.ActiveKeyID(), "Keys", len(payloads.KeyIDs()))
		case t.Encryption.Disabled:
			logger.Warn("Temporal payloads are stored in clear (temporal.encryption.disabled): names, e-mails and " +
				"visitor PINs are readable by whoever can read the namespace")
		}
	}
	if opts.ConnectionOptions.TLS == nil && !config.IsLoopbackHost(temporalHost(t.Address)) && logger != nil {
		// Workflow inputs and histories (names, emails, access PINs) would cross the network in clear.
		logger.Warn("Temporal connection is not encrypted", "Address", t.Address,
			"Hint", "set temporal.tls.enabled (or a CA, client certificate or TEMPORAL_API_KEY) unless this network is private")
	}
	c, err := client.DialContext(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("connect to temporal at %s (namespace %s): %w", t.Address, t.Namespace, err)
	}
	return c, nil
}

// temporalHost is the host of a Temporal address ("host:port", possibly "dns:///host:port").
func temporalHost(addr string) string {
	if i := strings.LastIndex(addr, "/"); i >= 0 {
		addr = addr[i+1:]
	}
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}

func tlsConfig(t config.TLS) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("config: temporal.tls.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("config: temporal.tls.ca_file: no PEM certificate in %s", t.CAFile)
		}
		tc.RootCAs = pool
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("config: temporal.tls.cert_file/key_file: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}
