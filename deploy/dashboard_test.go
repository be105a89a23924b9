package deploy

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

type dashboard struct {
	UID        string  `json:"uid"`
	Title      string  `json:"title"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct {
			Name  string `json:"name"`
			Type  string `json:"type"`
			Query any    `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID         int             `json:"id"`
	Type       string          `json:"type"`
	Title      string          `json:"title"`
	Datasource *datasourceRef  `json:"datasource"`
	GridPos    *map[string]int `json:"gridPos"`
	Panels     []panel         `json:"panels"`
	Targets    []struct {
		RefID      string         `json:"refId"`
		Expr       string         `json:"expr"`
		Datasource *datasourceRef `json:"datasource"`
	} `json:"targets"`
}

type datasourceRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

func loadDashboard(t *testing.T) dashboard {
	t.Helper()
	raw, err := os.ReadFile("grafana/nexsalto.json")
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("grafana/nexsalto.json: %v", err)
	}
	return d
}

// allPanels flattens rows (a collapsed row holds its panels).
func allPanels(ps []panel) []panel {
	var out []panel
	for _, p := range ps {
		out = append(out, p)
		out = append(out, allPanels(p.Panels)...)
	}
	return out
}

// grafanaVars are the interval variables Grafana substitutes before a query reaches Prometheus.
var grafanaVars = strings.NewReplacer("$__rate_interval", "5m", "${__rate_interval}", "5m", "$__interval", "1m",
	"${__interval}", "1m", "$__range", "6h", "${__range}", "6h")

// dashboardExprs are the dashboard's PromQL queries, by panel and target, with Grafana's variables replaced.
func dashboardExprs(t *testing.T, d dashboard) map[string]string {
	t.Helper()
	exprs := map[string]string{}
	for _, p := range allPanels(d.Panels) {
		for _, tg := range p.Targets {
			key := fmt.Sprintf("panel %d %q target %s", p.ID, p.Title, tg.RefID)
			if strings.TrimSpace(tg.Expr) == "" {
				t.Errorf("%s: no expression", key)
				continue
			}
			exprs[key] = grafanaVars.Replace(tg.Expr)
		}
	}
	return exprs
}

// TestDashboardQueriesNameExportedMetrics: every query of every panel names only metrics the worker exports
// (ours and the Temporal SDK's, as a real worker on the embedded server exports them), and Prometheus' own
// parser accepts it.
func TestDashboardQueriesNameExportedMetrics(t *testing.T) {
	d := loadDashboard(t)
	exprs := dashboardExprs(t, d)
	if len(exprs) < 20 {
		t.Fatalf("only %d queries in the dashboard", len(exprs))
	}
	fams := exportedMetrics(t)
	for key, expr := range exprs {
		for _, p := range checkExported(expr, fams) {
			t.Errorf("%s: %s\n  %s", key, p, expr)
		}
	}
	promtoolCheckExprs(t, exprs)
}

// TestDashboardShape: what Grafana needs to show the dashboard as provisioned, and what its issue asks of it.
func TestDashboardShape(t *testing.T) {
	d := loadDashboard(t)
	if d.UID == "" || d.Title == "" {
		t.Errorf("uid %q, title %q: both needed for a stable provisioned dashboard", d.UID, d.Title)
	}
	hasDSVar := false
	for _, v := range d.Templating.List {
		if v.Name == "datasource" && v.Type == "datasource" && v.Query == "prometheus" {
			hasDSVar = true
		}
	}
	if !hasDSVar {
		t.Error("no datasource variable of type prometheus: the panels select their datasource through it")
	}
	ids := map[int]bool{}
	for _, p := range allPanels(d.Panels) {
		if ids[p.ID] || p.ID == 0 {
			t.Errorf("panel %q: id %d missing or repeated", p.Title, p.ID)
		}
		ids[p.ID] = true
		if p.Title == "" || p.GridPos == nil {
			t.Errorf("panel %d: needs a title and a gridPos", p.ID)
		}
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.UID != "${datasource}" {
			t.Errorf("panel %q: datasource %+v, want the ${datasource} variable", p.Title, p.Datasource)
		}
		for _, tg := range p.Targets {
			if tg.Datasource != nil && tg.Datasource.UID != "${datasource}" {
				t.Errorf("panel %q target %s: datasource %+v", p.Title, tg.RefID, tg.Datasource)
			}
		}
	}
	// One panel at least for each family the issue lists.
	all := strings.Join(func() []string {
		var s []string
		for _, e := range dashboardExprs(t, d) {
			s = append(s, e)
		}
		return s
	}(), "\n")
	for _, want := range []string{"nexsalto_access_lateness_seconds_bucket", "nexsalto_webhooks_total",
		"nexsalto_vendor_requests_total", "nexsalto_vendor_request_duration_seconds_bucket",
		"nexsalto_entitlements_open", "nexsalto_customers_in_trouble", "nexsalto_reconcile_drift_found_total",
		"nexsalto_nexudus_budget_used", "nexsalto_nexudus_budget_limit", "nexsalto_temporal_num_pollers",
		"nexsalto_temporal_workflow_task_schedule_to_start_latency_seconds_bucket",
		"nexsalto_webhook_signature_failures_total", "nexsalto_access_change_failures_total"} {
		if !strings.Contains(all, want) {
			t.Errorf("no panel queries %s", want)
		}
	}
}

// TestGrafanaProvisioning: the datasource and dashboard provider Grafana loads at start match the compose
// stack (Prometheus' service name and port, the directory the dashboard is mounted in).
func TestGrafanaProvisioning(t *testing.T) {
	var ds struct {
		Datasources []struct {
			Type, URL string
			IsDefault bool `yaml:"isDefault"`
		}
	}
	readYAML(t, "grafana/provisioning/datasources/prometheus.yml", &ds)
	if len(ds.Datasources) != 1 || ds.Datasources[0].Type != "prometheus" ||
		ds.Datasources[0].URL != "http://prometheus:9090" || !ds.Datasources[0].IsDefault {
		t.Errorf("datasources: %+v, want the default prometheus at http://prometheus:9090", ds.Datasources)
	}
	var prov struct {
		Providers []struct {
			Type    string
			Options struct{ Path string }
		}
	}
	readYAML(t, "grafana/provisioning/dashboards/nexsalto.yml", &prov)
	if len(prov.Providers) != 1 || prov.Providers[0].Type != "file" {
		t.Fatalf("dashboard providers: %+v", prov.Providers)
	}
	p := loadProject(t)
	target := mountOf(t, p, "grafana", "deploy/grafana/nexsalto.json")
	if want := prov.Providers[0].Options.Path + "/nexsalto.json"; target != want {
		t.Errorf("the dashboard is mounted at %s; the provider reads %s", target, want)
	}
	if got := mountOf(t, p, "grafana", "deploy/grafana/provisioning"); got != "/etc/grafana/provisioning" {
		t.Errorf("provisioning mounted at %s, want /etc/grafana/provisioning", got)
	}
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
