package deploy

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	dbschemas "go.temporal.io/server/schema"
)

// TestComposeTemporalServerConfig renders the server's configuration the way temporalio/server's entrypoint
// does (`temporal-server start` with no file: the template embedded in the server, filled from the
// environment) from the environment the compose file gives it, with the server release we embed, and checks
// it: PostgreSQL at the compose service, the databases the schema job creates, the dynamic configuration file
// the service mounts, and the metrics port Prometheus scrapes.
func TestComposeTemporalServerConfig(t *testing.T) {
	p := loadProject(t)
	srv := p.Services["temporal"]
	for k, v := range srv.Environment {
		if v != nil {
			t.Setenv(k, *v)
		}
	}
	cfg, err := config.Load(config.WithEmbedded())
	if err != nil {
		t.Fatalf("the server's configuration from the compose environment: %v", err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("the server's configuration does not validate: %v", err)
	}
	pwd := os.Getenv("POSTGRES_PWD")
	if pwd == "" {
		t.Fatal("POSTGRES_PWD is empty in the server's environment")
	}
	schemaDBs := schemaDatabases(t)
	for store, db := range map[string]string{cfg.Persistence.DefaultStore: "temporal",
		cfg.Persistence.VisibilityStore: "temporal_visibility"} {
		sql := cfg.Persistence.DataStores[store].SQL
		if sql == nil {
			t.Fatalf("datastore %s is not SQL", store)
		}
		if sql.PluginName != "postgres12" || sql.ConnectAddr != "postgresql:5432" || sql.DatabaseName != db ||
			sql.Password != pwd {
			t.Errorf("datastore %s: plugin %s at %s, database %s; want postgres12 at postgresql:5432, %s",
				store, sql.PluginName, sql.ConnectAddr, sql.DatabaseName, db)
		}
		if !slices.Contains(schemaDBs, sql.DatabaseName) {
			t.Errorf("the server uses database %s, which the schema job does not set up (%v)", sql.DatabaseName, schemaDBs)
		}
	}
	if cfg.Persistence.NumHistoryShards < 4 {
		t.Errorf("numHistoryShards %d", cfg.Persistence.NumHistoryShards)
	}
	if got := mountOf(t, p, "temporal", "deploy/temporal/dynamicconfig.yaml"); cfg.DynamicConfigClient == nil ||
		cfg.DynamicConfigClient.Filepath != got {
		t.Errorf("the server reads dynamic config from %+v; the file is mounted at %s", cfg.DynamicConfigClient, got)
	}
	if m := cfg.Global.Metrics; m == nil || m.Prometheus == nil || m.Prometheus.ListenAddress != "0.0.0.0:8000" {
		t.Errorf("server metrics %+v, want Prometheus on 0.0.0.0:8000 (scraped as temporal:8000)", m)
	}
}

// TestTemporalDynamicConfig: the server refuses to start on an unreadable or invalid dynamic configuration;
// its own loader must accept ours without errors or warnings (unknown keys warn).
func TestTemporalDynamicConfig(t *testing.T) {
	raw, err := os.ReadFile("temporal/dynamicconfig.yaml")
	if err != nil {
		t.Fatal(err)
	}
	lr := dynamicconfig.LoadYamlFile(raw)
	if len(lr.Errors) > 0 || len(lr.Warnings) > 0 {
		t.Errorf("dynamicconfig.yaml: errors %v, warnings %v", lr.Errors, lr.Warnings)
	}
	// The commented example too, so that it is right when someone uncomments it.
	var example []string
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "# "); ok && (strings.HasPrefix(rest, " ") || strings.HasSuffix(rest, ":")) &&
			!strings.HasPrefix(rest, "Example") {
			example = append(example, rest)
		}
	}
	if len(example) == 0 {
		t.Fatal("no commented example found")
	}
	lr = dynamicconfig.LoadYamlFile([]byte(strings.Join(example, "\n")))
	if len(lr.Errors) > 0 || len(lr.Warnings) > 0 || len(lr.Map) == 0 {
		t.Errorf("the commented example: %d settings, errors %v, warnings %v", len(lr.Map), lr.Errors, lr.Warnings)
	}
}

// schemaDatabases reads the databases setup-schema.sh sets up, and checks that it creates each, sets up its
// version tables and updates it with a schema the server release embeds for PostgreSQL.
func schemaDatabases(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile("temporal/setup-schema.sh")
	if err != nil {
		t.Fatal(err)
	}
	script := string(raw)
	m := regexp.MustCompile(`(?m)^for pair in (.+); do$`).FindStringSubmatch(script)
	if m == nil {
		t.Fatal("setup-schema.sh: no `for pair in db:schema ...; do` loop")
	}
	for _, step := range []string{`create-database`, `setup-schema -v 0.0`,
		`update-schema --schema-name "postgresql/v12/$schema"`} {
		if !strings.Contains(script, `temporal-sql-tool --db "$db" `+step) {
			t.Errorf("setup-schema.sh does not run %q for each database", step)
		}
	}
	embedded := dbschemas.PathsByDB("postgresql")
	var dbs []string
	for _, pair := range strings.Fields(m[1]) {
		db, schema, _ := strings.Cut(pair, ":")
		if !slices.Contains(embedded, "postgresql/v12/"+schema) {
			t.Errorf("schema %s is not one the server embeds (%v)", schema, embedded)
		}
		dbs = append(dbs, db)
	}
	if !slices.Equal(dbs, []string{"temporal", "temporal_visibility"}) {
		t.Errorf("setup-schema.sh sets up %v", dbs)
	}
	return dbs
}

// TestComposeSchemaJob: the schema and namespace jobs run Temporal's own tools with the connection the server
// uses, and nothing else sets the schema up.
func TestComposeSchemaJob(t *testing.T) {
	p := loadProject(t)
	job := p.Services["temporal-schema"]
	script := mountOf(t, p, "temporal-schema", "deploy/temporal/setup-schema.sh")
	if !slices.Equal(job.Entrypoint, []string{"/bin/sh", script}) {
		t.Errorf("schema job entrypoint %v, want the mounted script", job.Entrypoint)
	}
	srv := p.Services["temporal"].Environment
	env := job.Environment
	for jobKey, srvKey := range map[string]string{"SQL_USER": "POSTGRES_USER", "SQL_PASSWORD": "POSTGRES_PWD",
		"SQL_HOST": "POSTGRES_SEEDS", "SQL_PORT": "DB_PORT", "SQL_PLUGIN": "DB"} {
		if env[jobKey] == nil || srv[srvKey] == nil || *env[jobKey] != *srv[srvKey] {
			t.Errorf("schema job %s differs from the server's %s", jobKey, srvKey)
		}
	}
	ns := mountOf(t, p, "temporal-namespace", "deploy/temporal/create-namespace.sh")
	if !slices.Equal(p.Services["temporal-namespace"].Entrypoint, []string{"/bin/sh", ns}) {
		t.Errorf("namespace job entrypoint %v", p.Services["temporal-namespace"].Entrypoint)
	}
	schemaDatabases(t)
}
