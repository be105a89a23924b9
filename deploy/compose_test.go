package deploy

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/compose-spec/compose-go/v2/types"
)

// repoRoot is where docker-compose.yml and .env live.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// loadProject loads docker-compose.yml as `docker compose` would with .env copied from deploy/env.example,
// every profile active (the starter's too), and nothing from this process's environment.
func loadProject(t *testing.T, opts ...cli.ProjectOptionsFn) *types.Project {
	t.Helper()
	p, err := tryLoadProject(t, append([]cli.ProjectOptionsFn{
		cli.WithEnvFiles(filepath.Join(repoRoot(t), "deploy", "env.example")), cli.WithDotEnv}, opts...)...)
	if err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	return p
}

func tryLoadProject(t *testing.T, opts ...cli.ProjectOptionsFn) (*types.Project, error) {
	t.Helper()
	root := repoRoot(t)
	o, err := cli.NewProjectOptions([]string{filepath.Join(root, "docker-compose.yml")},
		append([]cli.ProjectOptionsFn{cli.WithWorkingDirectory(root), cli.WithProfiles([]string{"*"})}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return o.LoadProject(context.Background())
}

// mountOf is the container path where a service mounts a file or directory of the repository.
func mountOf(t *testing.T, p *types.Project, service, source string) string {
	t.Helper()
	for _, v := range p.Services[service].Volumes {
		if v.Type != types.VolumeTypeBind {
			continue
		}
		if rel, err := filepath.Rel(p.WorkingDir, v.Source); err == nil && filepath.ToSlash(rel) == source {
			if !v.ReadOnly {
				t.Errorf("%s mounts %s writable", service, source)
			}
			return v.Target
		}
	}
	t.Fatalf("service %s does not mount %s", service, source)
	return ""
}

// goModVersion is a module's version in go.mod, without the v.
func goModVersion(t *testing.T, module string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*(?:require\s+)?` + regexp.QuoteMeta(module) + `\s+v(\S+)`).FindSubmatch(raw)
	if m == nil {
		t.Fatalf("go.mod requires no %s", module)
	}
	return string(m[1])
}

var pinnedTag = regexp.MustCompile(`^v?\d+\.\d+(\.\d+)?$`)

// TestComposeImagesPinned: every image has a version tag (never latest, never a bare major), Temporal's
// images are the server release we embed and test against, the UI the UI release we embed; what has no image
// is built from this repository. No auto-setup image, which Temporal no longer builds.
func TestComposeImagesPinned(t *testing.T) {
	p := loadProject(t)
	server := goModVersion(t, "go.temporal.io/server")
	ui := goModVersion(t, "github.com/temporalio/ui-server/v2")
	want := map[string]string{"temporalio/server": server, "temporalio/admin-tools": server, "temporalio/ui": ui}
	seen := map[string]bool{}
	for name, s := range p.Services {
		if s.Image == "" {
			if s.Build == nil || s.Build.Dockerfile != "deploy/Dockerfile" {
				t.Errorf("%s: neither an image nor a build of deploy/Dockerfile", name)
			}
			continue
		}
		repo, tag, ok := strings.Cut(s.Image, ":")
		if !ok || !pinnedTag.MatchString(tag) {
			t.Errorf("%s: image %q is not pinned to a version", name, s.Image)
		}
		if strings.Contains(repo, "auto-setup") {
			t.Errorf("%s: %s is the deprecated auto-setup image", name, s.Image)
		}
		if v, ok := want[repo]; ok {
			seen[repo] = true
			if tag != v {
				t.Errorf("%s: %s, want tag %s (go.mod)", name, s.Image, v)
			}
		}
	}
	for repo := range want {
		if !seen[repo] {
			t.Errorf("no service runs %s", repo)
		}
	}
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), "auto-setup") || strings.Contains(string(raw), "SKIP_SCHEMA_SETUP") {
		t.Error("docker-compose.yml still refers to auto-setup")
	}
}

// TestComposeDependenciesHealthGated: a service starts only once what it needs is healthy (by a healthcheck
// it has) or, for the one-shot jobs, has finished successfully; the schema job runs before the server, the
// namespace job before the worker.
func TestComposeDependenciesHealthGated(t *testing.T) {
	p := loadProject(t)
	for name, s := range p.Services {
		for dep, d := range s.DependsOn {
			target, ok := p.Services[dep]
			if !ok {
				t.Errorf("%s depends on unknown service %s", name, dep)
				continue
			}
			switch d.Condition {
			case types.ServiceConditionHealthy:
				if hc := target.HealthCheck; hc == nil || hc.Disable || len(hc.Test) == 0 {
					t.Errorf("%s waits for %s to be healthy, but %s has no healthcheck", name, dep, dep)
				}
			case types.ServiceConditionCompletedSuccessfully:
				if target.Restart != "" && target.Restart != types.RestartPolicyNo {
					t.Errorf("%s waits for %s to complete, but it restarts (%s)", name, dep, target.Restart)
				}
			default:
				t.Errorf("%s depends on %s with condition %q: not health-gated", name, dep, d.Condition)
			}
		}
	}
	for _, c := range []struct{ service, dep, cond string }{
		{"temporal-schema", "postgresql", types.ServiceConditionHealthy},
		{"temporal", "temporal-schema", types.ServiceConditionCompletedSuccessfully},
		{"temporal-namespace", "temporal", types.ServiceConditionHealthy},
		{"worker", "temporal-namespace", types.ServiceConditionCompletedSuccessfully},
		{"starter", "temporal-namespace", types.ServiceConditionCompletedSuccessfully},
		{"grafana", "prometheus", types.ServiceConditionHealthy},
	} {
		if got := p.Services[c.service].DependsOn[c.dep].Condition; got != c.cond {
			t.Errorf("%s on %s: condition %q, want %q", c.service, c.dep, got, c.cond)
		}
	}
}

// TestComposePortsLoopback: only the webhook listener faces the network; everything else (Temporal, its UI,
// Prometheus, Grafana, the collector) is bound to 127.0.0.1.
func TestComposePortsLoopback(t *testing.T) {
	p := loadProject(t)
	webhook := false
	for name, s := range p.Services {
		for _, port := range s.Ports {
			if name == "worker" && port.Target == 8090 {
				webhook = true
				continue
			}
			if port.HostIP != "127.0.0.1" {
				t.Errorf("%s publishes %d on %q, want 127.0.0.1", name, port.Target, port.HostIP)
			}
		}
	}
	if !webhook {
		t.Error("the worker does not publish its webhook listener (8090)")
	}
}

// configEnvVars are the environment variables package config reads (its Env* constants), found in its
// source so that a new one is required here without anyone remembering to add it.
func configEnvVars(t *testing.T) []string {
	t.Helper()
	fset := token.NewFileSet()
	dir := filepath.Join(repoRoot(t), "config")
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var vars []string
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(af, func(n ast.Node) bool {
			vs, ok := n.(*ast.ValueSpec)
			if !ok {
				return true
			}
			for i, id := range vs.Names {
				if !strings.HasPrefix(id.Name, "Env") || i >= len(vs.Values) {
					continue
				}
				if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
					v, _ := strconv.Unquote(lit.Value)
					vars = append(vars, v)
				}
			}
			return true
		})
	}
	sort.Strings(vars)
	if len(vars) < 8 {
		t.Fatalf("found only %v in package config", vars)
	}
	return vars
}

// TestComposeWorkerEnvironment: the worker gets every variable it reads and nothing else of .env (the
// database and Grafana passwords stay with their services); it reaches Temporal, the collector and its
// configuration file by the stack's names, and listens for webhooks on the port it publishes.
func TestComposeWorkerEnvironment(t *testing.T) {
	p := loadProject(t)
	w := p.Services["worker"]
	need := map[string]bool{}
	for _, v := range configEnvVars(t) {
		need[v] = true
		if _, ok := w.Environment[v]; !ok {
			t.Errorf("worker environment lacks %s (read by package config)", v)
		}
	}
	for k := range w.Environment {
		if !need[k] && !strings.HasPrefix(k, "OTEL_") {
			t.Errorf("worker environment has %s, which the worker does not read", k)
		}
	}
	get := func(k string) string {
		if v := w.Environment[k]; v != nil {
			return *v
		}
		return ""
	}
	if get("TEMPORAL_ADDRESS") != "temporal:7233" {
		t.Errorf("TEMPORAL_ADDRESS %q", get("TEMPORAL_ADDRESS"))
	}
	if ns := p.Services["temporal-namespace"].Environment["TEMPORAL_NAMESPACE"]; ns == nil || *ns != get("TEMPORAL_NAMESPACE") {
		t.Errorf("the namespace job creates %v, the worker uses %q", ns, get("TEMPORAL_NAMESPACE"))
	}
	if get("OTEL_EXPORTER_OTLP_ENDPOINT") != "http://otel-collector:4317" {
		t.Errorf("OTEL_EXPORTER_OTLP_ENDPOINT %q, want the collector's OTLP/gRPC port", get("OTEL_EXPORTER_OTLP_ENDPOINT"))
	}
	var col struct {
		Receivers struct {
			OTLP struct {
				Protocols struct {
					GRPC struct{ Endpoint string }
				}
			} `yaml:"otlp"`
		}
	}
	readYAML(t, "otel-collector.yaml", &col)
	if col.Receivers.OTLP.Protocols.GRPC.Endpoint != "0.0.0.0:4317" {
		t.Errorf("collector OTLP/gRPC receiver on %q", col.Receivers.OTLP.Protocols.GRPC.Endpoint)
	}
	mountOf(t, p, "otel-collector", "deploy/otel-collector.yaml")

	cfgPath := ""
	for i, a := range w.Command {
		if a == "--config" && i+1 < len(w.Command) {
			cfgPath = w.Command[i+1]
		}
	}
	if got := mountOf(t, p, "worker", "deploy/config.yaml"); got != cfgPath {
		t.Errorf("worker reads --config %q but config.yaml is mounted at %s", cfgPath, got)
	}
	for _, v := range w.Volumes {
		if v.Target == cfgPath && (v.Bind == nil || bool(v.Bind.CreateHostPath)) {
			t.Error("a missing deploy/config.yaml would be created as an empty directory: set create_host_path: false")
		}
	}
	var example struct {
		Webhooks struct{ Listen string }
	}
	readYAML(t, "config.example.yaml", &example)
	if !strings.HasSuffix(example.Webhooks.Listen, ":8090") || strings.HasPrefix(example.Webhooks.Listen, "127.") {
		t.Errorf("config.example.yaml listens on %q: in a container it must be 0.0.0.0:8090, the published port",
			example.Webhooks.Listen)
	}
}

// TestComposeEnvFile: deploy/env.example lists every variable docker-compose.yml takes from .env and no
// other, holds no secret value, and the stack refuses to load without the secrets it cannot run without.
func TestComposeEnvFile(t *testing.T) {
	root := repoRoot(t)
	raw, err := os.ReadFile(filepath.Join(root, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?:^|[^$])\$\{([A-Z_][A-Z0-9_]*)`).FindAllStringSubmatch(string(raw), -1) {
		used[m[1]] = true
	}
	example, err := dotenv.GetEnvFromFile(nil, []string{filepath.Join(root, "deploy", "env.example")})
	if err != nil {
		t.Fatal(err)
	}
	for v := range used {
		if _, ok := example[v]; !ok {
			t.Errorf("docker-compose.yml uses ${%s}, which deploy/env.example does not list", v)
		}
	}
	secret := regexp.MustCompile(`PASSWORD|SECRET|TOKEN|KEY`)
	for k, v := range example {
		if !used[k] {
			t.Errorf("deploy/env.example lists %s, which docker-compose.yml does not use", k)
		}
		if secret.MatchString(k) && v != "" && !strings.HasPrefix(v, "change-me") {
			t.Errorf("deploy/env.example gives %s a value that is not a placeholder", k)
		}
	}
	for _, required := range []string{"POSTGRES_PASSWORD", "GRAFANA_ADMIN_PASSWORD"} {
		env := []string{}
		for k, v := range example {
			if k != required {
				env = append(env, k+"="+v)
			}
		}
		_, err := tryLoadProject(t, cli.WithEnv(env))
		if err == nil || !strings.Contains(err.Error(), required) {
			t.Errorf("without %s the stack loads (err %v); it must refuse", required, err)
		}
	}
}
