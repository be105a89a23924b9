package devserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/log"
	pgplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/postgresql"
	"go.temporal.io/server/tools/common/schema"
	sqltool "go.temporal.io/server/tools/sql"
	"google.golang.org/protobuf/types/known/durationpb"
)

// PostgreSQL persistence: the server keeps its data in the DSN's database and its visibility records in a second
// database on the same server, named with VisibilitySuffix appended (Temporal's convention: temporal and
// temporal_visibility). Start creates both when missing and brings their schemas to the release of the embedded
// server with the code of Temporal's own temporal-sql-tool (its setup-schema and update-schema commands), so
// that a database set up by the tool or by a temporalio/admin-tools schema job is the same as one set up here.

const (
	// VisibilitySuffix names the visibility database after the main one.
	VisibilitySuffix = "_visibility"
	// The embedded schema directories of the server release this module builds against.
	postgresMainSchema       = "postgresql/v12/temporal"
	postgresVisibilitySchema = "postgresql/v12/visibility"
	// postgresAdminDatabase is where CREATE DATABASE runs from, as temporal-sql-tool's --defaultdb.
	postgresAdminDatabase = "postgres"
)

// PostgresStores parses a PostgreSQL URL (postgres://user:password@host:port/database?sslmode=…) into the
// server's two SQL data stores, main and visibility. Query parameters are passed to the driver as connect
// attributes (sslmode, sslrootcert, …). Errors never repeat the URL, which holds the password.
func PostgresStores(dsn string) (main, visibility *config.SQL, err error) {
	u, err := url.Parse(dsn)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return nil, nil, fmt.Errorf("postgres DSN: %v", err)
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return nil, nil, errors.New("postgres DSN: want a URL postgres://user:password@host:port/database")
	}
	host, port := u.Hostname(), u.Port()
	if host == "" {
		return nil, nil, errors.New("postgres DSN: no host")
	}
	if port == "" {
		port = "5432"
	}
	db := strings.TrimPrefix(u.Path, "/")
	if db == "" {
		db = "temporal"
	}
	if strings.ContainsAny(db, `/"`) {
		return nil, nil, fmt.Errorf("postgres DSN: bad database name %q", db)
	}
	attrs := map[string]string{}
	for k, v := range u.Query() {
		if len(v) != 1 {
			return nil, nil, fmt.Errorf("postgres DSN: parameter %s given %d times", k, len(v))
		}
		attrs[k] = v[0]
	}
	password, _ := u.User.Password()
	main = &config.SQL{
		PluginName: pgplugin.PluginNamePGX, // pgx: the maintained driver (lib/pq is in maintenance mode)
		User:       u.User.Username(), Password: password, DatabaseName: db,
		ConnectAddr: net.JoinHostPort(host, port), ConnectProtocol: "tcp", ConnectAttributes: attrs,
		// Temporal's own development settings for PostgreSQL, well inside its default 100 connections.
		MaxConns: 20, MaxIdleConns: 20, MaxConnLifetime: time.Hour,
	}
	visibility = cloneSQL(main)
	visibility.DatabaseName = db + VisibilitySuffix
	visibility.MaxConns, visibility.MaxIdleConns = 10, 10
	return main, visibility, nil
}

func cloneSQL(c *config.SQL) *config.SQL {
	d := *c
	d.ConnectAttributes = make(map[string]string, len(c.ConnectAttributes))
	for k, v := range c.ConnectAttributes {
		d.ConnectAttributes[k] = v
	}
	return &d
}

// SetupPostgresSchema creates the main and visibility databases when missing and brings both schemas to the
// latest version the embedded server ships, as `temporal-sql-tool create-database`, `setup-schema -v 0.0` and
// `update-schema --schema-name postgresql/v12/…` do. It is idempotent: on an up-to-date database it only
// reads the schema versions. A nil logger discards the tool's messages.
func SetupPostgresSchema(dsn string, logger log.Logger) error {
	main, visibility, err := PostgresStores(dsn)
	if err != nil {
		return err
	}
	if logger == nil {
		logger = log.NewNoopLogger()
	}
	for _, s := range []struct {
		cfg    *config.SQL
		schema string
	}{{main, postgresMainSchema}, {visibility, postgresVisibilitySchema}} {
		if err := ensureDatabase(s.cfg, logger); err != nil {
			return err
		}
		if err := setupSchema(s.cfg, s.schema, logger); err != nil {
			return fmt.Errorf("schema of database %s: %w", s.cfg.DatabaseName, err)
		}
	}
	return nil
}

// ensureDatabase creates the database unless it can be reached already: a production role often may not
// create databases, and PostgreSQL refuses CREATE DATABASE for lack of the privilege before it looks whether
// the database exists.
func ensureDatabase(cfg *config.SQL, logger log.Logger) error {
	// A missing database is the expected case here: the driver's complaint about it is not for the log.
	conn, err := sqltool.NewConnection(cloneSQL(cfg), log.NewNoopLogger())
	if err == nil {
		_, err = conn.ListTables()
		conn.Close()
		if err == nil {
			return nil
		}
	}
	admin := cloneSQL(cfg) // DoCreateDatabase connects to the admin database through its argument
	if cerr := sqltool.DoCreateDatabase(admin, postgresAdminDatabase, logger); cerr != nil {
		return fmt.Errorf("database %s unreachable (%v) and could not be created: %w", cfg.DatabaseName, err, cerr)
	}
	return nil
}

func setupSchema(cfg *config.SQL, schemaName string, logger log.Logger) error {
	conn, err := sqltool.NewConnection(cloneSQL(cfg), logger)
	if err != nil {
		return err
	}
	defer conn.Close()
	// Version 0.0 and no schema file: the version tables only, left alone when the database is further already.
	setup := &schema.SetupConfig{InitialVersion: "0.0"}
	if err := schema.NewSetupSchemaTask(conn, setup, logger).Run(); err != nil {
		return fmt.Errorf("setup-schema: %w", err)
	}
	update := &schema.UpdateConfig{DBName: cfg.DatabaseName, SchemaName: schemaName}
	if err := schema.NewUpdateSchemaTask(conn, update, logger).Run(); err != nil {
		return fmt.Errorf("update-schema: %w", err)
	}
	return nil
}

// PostgresSchemaVersions reads the schema versions of the main and visibility databases, as
// `temporal-sql-tool` records them.
func PostgresSchemaVersions(dsn string) (main, visibility string, err error) {
	mainCfg, visCfg, err := PostgresStores(dsn)
	if err != nil {
		return "", "", err
	}
	read := func(cfg *config.SQL) (string, error) {
		conn, err := sqltool.NewConnection(cfg, log.NewNoopLogger())
		if err != nil {
			return "", err
		}
		defer conn.Close()
		return conn.ReadSchemaVersion()
	}
	if main, err = read(mainCfg); err != nil {
		return "", "", err
	}
	visibility, err = read(visCfg)
	return main, visibility, err
}

// postgresPersistence sets the schemas up and returns the server's persistence on the two databases.
func postgresPersistence(dsn string, logger log.Logger) (config.Persistence, error) {
	if err := SetupPostgresSchema(dsn, logger); err != nil {
		return config.Persistence{}, err
	}
	main, visibility, err := PostgresStores(dsn)
	if err != nil {
		return config.Persistence{}, err
	}
	return config.Persistence{
		DefaultStore:    "postgres-default",
		VisibilityStore: "postgres-visibility",
		// Fixed for the database's life: a server with another count refuses to start on it.
		NumHistoryShards: 1,
		DataStores: map[string]config.DataStore{
			"postgres-default":    {SQL: main},
			"postgres-visibility": {SQL: visibility},
		},
	}, nil
}

// registerNamespace creates the namespace through the frontend, as `temporal operator namespace create` does
// (SQLite files get theirs written directly, before the server starts); an existing one is left as it is.
func (s *Server) registerNamespace(ctx context.Context, wf workflowservice.WorkflowServiceClient) error {
	_, err := wf.RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{
		Namespace:                        s.opts.Namespace,
		WorkflowExecutionRetentionPeriod: durationpb.New(s.opts.Retention),
	})
	var exists *serviceerror.NamespaceAlreadyExists
	if err != nil && !errors.As(err, &exists) {
		return fmt.Errorf("register namespace %q: %w", s.opts.Namespace, err)
	}
	return nil
}
