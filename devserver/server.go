// Package devserver runs a complete Temporal server (frontend, history, matching and worker services) inside
// the current process, persisted in a SQLite file, in PostgreSQL or kept in memory, optionally with the Temporal
// Web UI.
//
// It backs the dev stack (`go run ./devstack`) and the end-to-end tests, so that both talk to a real server over
// real gRPC rather than to the SDK's test environment.
package devserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	uiserver "github.com/temporalio/ui-server/v2/server"
	uiconfig "github.com/temporalio/ui-server/v2/server/config"
	"github.com/temporalio/ui-server/v2/server/server_options"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	namespacepb "go.temporal.io/api/namespace/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	sdktemporal "go.temporal.io/sdk/temporal"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/membership/static"
	"go.temporal.io/server/common/primitives"
	"go.temporal.io/server/temporal"
	"google.golang.org/protobuf/types/known/durationpb"
)

const (
	clusterName      = "active"
	namespaceRefresh = time.Second
)

// Options configures an embedded server. The zero value is an in-memory server on free loopback ports, without UI.
type Options struct {
	// DataFile is the SQLite database. Empty keeps everything in memory (tests), unless Postgres is set.
	DataFile string
	// Postgres is a PostgreSQL URL, postgres://user:password@host:port/database?sslmode=…, used instead of
	// DataFile: the server keeps its data in that database and its visibility records in the database named
	// with VisibilitySuffix appended, both created and their schemas brought up to date at start.
	Postgres string
	// Namespace is created at start if missing. Default "default".
	Namespace string
	// IP the services bind to. Default 127.0.0.1.
	IP string
	// FrontendPort is the gRPC port clients dial. 0 picks a free port.
	FrontendPort int
	// UIPort serves the Temporal Web UI. 0 picks a free port; negative disables the UI.
	UIPort int
	// UICodec points the Web UI at a codec server, so that it shows encrypted payloads decrypted.
	UICodec *UICodec
	// SearchAttributes are registered on the namespace (idempotently) before Start returns.
	SearchAttributes map[string]enumspb.IndexedValueType
	// Retention of closed workflows. Default 7 days, so operators can read a finished booking's history.
	Retention time.Duration
	// LogLevel of the server's own logger: debug, info, warn, error. Default error: the
	// server's warnings (for example dial errors while it shuts down) are noise to its users.
	LogLevel string
}

// UICodec is the Web UI's codec server setting (what an operator sets under "Codec Server" in the UI).
type UICodec struct {
	// Endpoint is the codec server's URL; the UI posts to Endpoint + "/decode" and "/encode".
	Endpoint string
	// PassAccessToken sends the UI user's access token (needs an https endpoint and a UI with login).
	PassAccessToken bool
	// IncludeCredentials sends the browser's cookies for the endpoint (fetch credentials: include).
	IncludeCredentials bool
}

// Server is a running embedded Temporal server.
type Server struct {
	opts     Options
	temporal temporal.Server
	ui       *uiserver.Server
	dyn      *dynamicConfig
	logger   *serverLogger
	hostPort string
	uiAddr   string
}

// Start brings up the server, creates the namespace and search attributes, and returns once clients can use it.
func Start(ctx context.Context, opts Options) (*Server, error) {
	if opts.Namespace == "" {
		opts.Namespace = "default"
	}
	if opts.IP == "" {
		opts.IP = "127.0.0.1"
	}
	if opts.Retention == 0 {
		opts.Retention = 7 * 24 * time.Hour
	}
	if opts.LogLevel == "" {
		opts.LogLevel = "error"
	}
	var err error
	if opts.FrontendPort == 0 {
		if opts.FrontendPort, err = FreePort(opts.IP); err != nil {
			return nil, err
		}
	} else if err := portFree(opts.IP, opts.FrontendPort); err != nil {
		return nil, fmt.Errorf("temporal frontend port: %w", err)
	}
	if opts.UIPort == 0 {
		if opts.UIPort, err = FreePort(opts.IP); err != nil {
			return nil, err
		}
	} else if opts.UIPort > 0 {
		if err := portFree(opts.IP, opts.UIPort); err != nil {
			return nil, fmt.Errorf("web UI port: %w", err)
		}
	}

	logger := newServerLogger(opts.LogLevel)
	var persistence config.Persistence
	if opts.Postgres != "" {
		if opts.DataFile != "" {
			return nil, errors.New("devserver: set DataFile or Postgres, not both")
		}
		if persistence, err = postgresPersistence(opts.Postgres, logger); err != nil {
			return nil, err
		}
	} else if persistence, err = sqlitePersistence(opts); err != nil {
		return nil, err
	}
	cfg, hosts, err := serverConfig(opts, persistence)
	if err != nil {
		return nil, err
	}
	dyn := &dynamicConfig{static: dynamicconfig.StaticClient{
		// One matching host: partitions only add forwarding between them.
		dynamicconfig.MatchingNumTaskqueueReadPartitions.Key():  []dynamicconfig.ConstrainedValue{{Value: 1}},
		dynamicconfig.MatchingNumTaskqueueWritePartitions.Key(): []dynamicconfig.ConstrainedValue{{Value: 1}},
		// Namespace changes (such as new search attributes' column mapping) reach every service within a second.
		dynamicconfig.NamespaceCacheRefreshInterval.Key(): []dynamicconfig.ConstrainedValue{{Value: namespaceRefresh}},
	}}
	ts, err := temporal.NewServer(
		temporal.WithConfig(cfg),
		temporal.ForServices(temporal.DefaultServices),
		temporal.WithStaticHosts(hosts),
		temporal.WithLogger(logger),
		temporal.WithDynamicConfigClient(dyn),
	)
	if err != nil {
		return nil, fmt.Errorf("create temporal server: %w", err)
	}
	if err := ts.Start(); err != nil {
		return nil, fmt.Errorf("start temporal server: %w", err)
	}
	s := &Server{opts: opts, temporal: ts, dyn: dyn, logger: logger, hostPort: net.JoinHostPort(opts.IP, strconv.Itoa(opts.FrontendPort))}
	if err := s.prepareNamespace(ctx); err != nil {
		_ = ts.Stop()
		return nil, err
	}
	if opts.UIPort > 0 {
		s.startUI()
	}
	return s, nil
}

func serverConfig(opts Options, persistence config.Persistence) (*config.Config, map[primitives.ServiceName]static.Hosts, error) {
	ports := map[primitives.ServiceName]int{primitives.FrontendService: opts.FrontendPort}
	for _, svc := range []primitives.ServiceName{primitives.HistoryService, primitives.MatchingService, primitives.WorkerService} {
		p, err := FreePort(opts.IP)
		if err != nil {
			return nil, nil, err
		}
		ports[svc] = p
	}
	services := map[string]config.Service{}
	hosts := map[primitives.ServiceName]static.Hosts{}
	for svc, port := range ports {
		services[string(svc)] = config.Service{RPC: config.RPC{GRPCPort: port, BindOnIP: opts.IP}}
		hosts[svc] = static.SingleLocalHost(net.JoinHostPort(opts.IP, strconv.Itoa(port)))
	}
	frontend := net.JoinHostPort(opts.IP, strconv.Itoa(opts.FrontendPort))
	cfg := &config.Config{
		Global: config.Global{
			Membership: config.Membership{MaxJoinDuration: 30 * time.Second, BroadcastAddress: opts.IP},
		},
		Persistence: persistence,
		ClusterMetadata: &cluster.Config{
			EnableGlobalNamespace:    false,
			FailoverVersionIncrement: 10,
			MasterClusterName:        clusterName,
			CurrentClusterName:       clusterName,
			ClusterInformation: map[string]cluster.ClusterInformation{
				clusterName: {Enabled: true, InitialFailoverVersion: 1, RPCAddress: frontend},
			},
		},
		DCRedirectionPolicy: config.DCRedirectionPolicy{Policy: "noop"},
		Services:            services,
		Archival: config.Archival{
			History:    config.HistoryArchival{State: "disabled"},
			Visibility: config.VisibilityArchival{State: "disabled"},
		},
		NamespaceDefaults: config.NamespaceDefaults{Archival: config.ArchivalNamespaceDefaults{
			History:    config.HistoryArchivalNamespaceDefaults{State: "disabled"},
			Visibility: config.VisibilityArchivalNamespaceDefaults{State: "disabled"},
		}},
		// The server's own internal workers dial the frontend through this address.
		PublicClient: config.PublicClient{HostPort: frontend},
	}
	return cfg, hosts, nil
}

// prepareNamespace waits for the frontend, sets the retention and registers the missing search attributes.
// Registering through the operator API (rather than at namespace creation) also upgrades an existing data file
// when a later version of the project adds an attribute.
func (s *Server) prepareNamespace(ctx context.Context) error {
	c, err := s.dial(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	wf := c.WorkflowService()
	if s.opts.Postgres != "" {
		if err := s.registerNamespace(ctx, wf); err != nil {
			return err
		}
	}
	_, err = wf.UpdateNamespace(ctx, &workflowservice.UpdateNamespaceRequest{
		Namespace: s.opts.Namespace,
		Config:    &namespacepb.NamespaceConfig{WorkflowExecutionRetentionTtl: durationpb.New(s.opts.Retention)},
	})
	if err != nil {
		return fmt.Errorf("set retention on %q: %w", s.opts.Namespace, err)
	}
	if len(s.opts.SearchAttributes) == 0 {
		s.dyn.settled.Store(true)
		return nil
	}
	op := c.OperatorService()
	have, err := op.ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: s.opts.Namespace})
	if err != nil {
		return fmt.Errorf("list search attributes: %w", err)
	}
	missing := map[string]enumspb.IndexedValueType{}
	for name, typ := range s.opts.SearchAttributes {
		if got, ok := have.GetCustomAttributes()[name]; ok {
			if got != typ {
				return fmt.Errorf("search attribute %s exists as %s, want %s: use a new data folder", name, got, typ)
			}
			continue
		}
		missing[name] = typ
	}
	if len(missing) == 0 {
		s.dyn.settled.Store(true) // already in the database before any cache was filled
		return nil
	}
	_, err = op.AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace: s.opts.Namespace, SearchAttributes: missing,
	})
	if err != nil {
		return fmt.Errorf("add search attributes: %w", err)
	}
	if err := s.probeSearchAttributes(ctx, c); err != nil {
		return fmt.Errorf("search attributes not usable yet: %w", err)
	}
	// The namespace caches (which map the attributes to columns) refresh on their own interval; the forced
	// reads stop once each has refreshed at least once since the attributes were added.
	time.AfterFunc(3*namespaceRefresh, func() { s.dyn.settled.Store(true) })
	return nil
}

// probeSearchAttributes makes the frontend and history services read the new search attributes, through a
// workflow started with all of them (frontend validates them, history writes its visibility record) and found by a
// visibility query, then deletes it. Until then every read of their caches goes to the database (see
// dynamicConfig); afterwards the caches hold the new attributes.
func (s *Server) probeSearchAttributes(ctx context.Context, c client.Client) error {
	var sas []sdktemporal.SearchAttributeUpdate
	for name, typ := range s.opts.SearchAttributes {
		switch typ {
		case enumspb.INDEXED_VALUE_TYPE_KEYWORD:
			sas = append(sas, sdktemporal.NewSearchAttributeKeyKeyword(name).ValueSet("probe"))
		case enumspb.INDEXED_VALUE_TYPE_TEXT:
			sas = append(sas, sdktemporal.NewSearchAttributeKeyString(name).ValueSet("probe"))
		case enumspb.INDEXED_VALUE_TYPE_KEYWORD_LIST:
			sas = append(sas, sdktemporal.NewSearchAttributeKeyKeywordList(name).ValueSet([]string{"probe"}))
		case enumspb.INDEXED_VALUE_TYPE_INT:
			sas = append(sas, sdktemporal.NewSearchAttributeKeyInt64(name).ValueSet(1))
		case enumspb.INDEXED_VALUE_TYPE_DOUBLE:
			sas = append(sas, sdktemporal.NewSearchAttributeKeyFloat64(name).ValueSet(1))
		case enumspb.INDEXED_VALUE_TYPE_BOOL:
			sas = append(sas, sdktemporal.NewSearchAttributeKeyBool(name).ValueSet(true))
		case enumspb.INDEXED_VALUE_TYPE_DATETIME:
			sas = append(sas, sdktemporal.NewSearchAttributeKeyTime(name).ValueSet(time.Now().UTC()))
		}
	}
	id := "devserver-search-attributes-" + uuid.NewString()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: "devserver-probe",
		TypedSearchAttributes: sdktemporal.NewSearchAttributes(sas...)}, "devserver-probe")
	if err != nil {
		return err
	}
	wf := c.WorkflowService()
	for {
		resp, err := wf.ListWorkflowExecutions(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: s.opts.Namespace, Query: "WorkflowId = '" + id + "'"})
		if err == nil && len(resp.GetExecutions()) == 1 &&
			len(resp.GetExecutions()[0].GetSearchAttributes().GetIndexedFields()) >= len(sas) {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("probe workflow %s not visible: %w", id, errors.Join(ctx.Err(), err))
		case <-time.After(50 * time.Millisecond):
		}
	}
	_, err = wf.DeleteWorkflowExecution(ctx, &workflowservice.DeleteWorkflowExecutionRequest{Namespace: s.opts.Namespace,
		WorkflowExecution: &commonpb.WorkflowExecution{WorkflowId: id, RunId: run.GetRunID()}})
	return err
}

// dynamicConfig is the server's dynamic configuration: static values, and the search-attribute cache forced
// to read the database on every read until the attributes registered at start are known to every service.
// Forcing it for the server's whole life costs a database read under a lock on every visibility write, which
// was the largest single cost of a webhook in the benchmarks.
type dynamicConfig struct {
	static  dynamicconfig.StaticClient
	settled atomic.Bool
}

var (
	forceSACacheRefresh = dynamicconfig.ForceSearchAttributesCacheRefreshOnRead.Key()
	forceOn             = []dynamicconfig.ConstrainedValue{{Value: true}}
)

func (d *dynamicConfig) GetValue(key dynamicconfig.Key) []dynamicconfig.ConstrainedValue {
	if key == forceSACacheRefresh {
		if d.settled.Load() {
			return nil
		}
		return forceOn
	}
	return d.static.GetValue(key)
}

// dial connects a client, retrying while the freshly started frontend is not yet serving.
func (s *Server) dial(ctx context.Context) (client.Client, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		c, err := client.DialContext(ctx, client.Options{HostPort: s.hostPort, Namespace: s.opts.Namespace, Logger: quietLogger})
		if err == nil {
			if _, err = c.CheckHealth(ctx, &client.CheckHealthRequest{}); err == nil {
				return c, nil
			}
			c.Close()
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("temporal frontend %s did not become ready: %w", s.hostPort, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (s *Server) startUI() {
	s.uiAddr = net.JoinHostPort(s.opts.IP, strconv.Itoa(s.opts.UIPort))
	var codec uiconfig.Codec
	if c := s.opts.UICodec; c != nil {
		codec = uiconfig.Codec{Endpoint: c.Endpoint, PassAccessToken: c.PassAccessToken, IncludeCredentials: c.IncludeCredentials}
	}
	s.ui = uiserver.NewServer(server_options.WithConfigProvider(&uiconfig.Config{
		Host:                s.opts.IP,
		Port:                s.opts.UIPort,
		TemporalGRPCAddress: s.hostPort,
		EnableUI:            true,
		DefaultNamespace:    s.opts.Namespace,
		DisableNewsFetch:    true, // no calls to the outside world
		HideLogs:            true,
		CORS:                uiconfig.CORS{CookieInsecure: true},
		Codec:               codec,
	}))
	go func() { _ = s.ui.Start() }() // Start blocks until Stop.
}

// HostPort is the frontend gRPC address clients dial.
func (s *Server) HostPort() string { return s.hostPort }

// Port is the frontend's gRPC port (the one picked, when Options.FrontendPort was 0).
func (s *Server) Port() int { return s.opts.FrontendPort }

// Namespace the server was prepared with.
func (s *Server) Namespace() string { return s.opts.Namespace }

// UIURL is the Web UI's address, or "" when the UI is disabled.
func (s *Server) UIURL() string {
	if s.uiAddr == "" {
		return ""
	}
	return "http://" + s.uiAddr
}

// NewClient dials the embedded server.
func (s *Server) NewClient(ctx context.Context, opts client.Options) (client.Client, error) {
	opts.HostPort = s.hostPort
	if opts.Namespace == "" {
		opts.Namespace = s.opts.Namespace
	}
	return client.DialContext(ctx, opts)
}

// Stop shuts the UI and the server down; the data file stays, so the next Start resumes every workflow.
func (s *Server) Stop() error {
	s.logger.stopping.Store(true)
	if s.ui != nil {
		s.ui.Stop()
	}
	return s.temporal.Stop()
}

// FreePort is a port free on ip now (the kernel's pick), for servers that must be told their port up front.
func FreePort(ip string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func portFree(ip string, port int) error {
	l, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
	if err != nil {
		return fmt.Errorf("%s:%d is in use (is another dev stack or temporal server running?): %w", ip, port, err)
	}
	return l.Close()
}

// quietLogger keeps the readiness probe's dial errors out of the output.
var quietLogger = sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))
