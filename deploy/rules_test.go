package deploy

import (
	"path"
	"slices"
	"strings"
	"testing"
)

type ruleFile struct {
	Groups []struct {
		Name  string
		Rules []struct {
			Alert       string
			Record      string
			Expr        string
			For         string
			Labels      map[string]string
			Annotations map[string]string
		}
	}
}

// TestAlertRulesNameExportedMetrics: every alert expression names only metrics the worker exports (or up,
// which Prometheus writes), every alert says how bad it is and what happened, and the alerts the issue
// asks for are there.
func TestAlertRulesNameExportedMetrics(t *testing.T) {
	var rf ruleFile
	readYAML(t, "alerts.yml", &rf)
	fams := exportedMetrics(t)
	seen := map[string]bool{}
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				t.Errorf("group %s: a rule without alert (recording rules belong elsewhere): %q", g.Name, r.Expr)
				continue
			}
			if seen[r.Alert] {
				t.Errorf("alert %s defined twice", r.Alert)
			}
			seen[r.Alert] = true
			for _, p := range checkExported(r.Expr, fams) {
				t.Errorf("alert %s: %s", r.Alert, p)
			}
			if s := r.Labels["severity"]; s != "critical" && s != "warning" {
				t.Errorf("alert %s: severity %q, want critical or warning", r.Alert, s)
			}
			if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("alert %s: needs a summary and a description", r.Alert)
			}
		}
	}
	for _, want := range []string{"NexsaltoGrantLate", "NexsaltoRevokeFailing", "NexsaltoWebhooksRejected",
		"NexsaltoWebhookSignatureFailures", "NexsaltoVendorErrors", "NexsaltoNexudusBudgetNearCap",
		"NexsaltoWorkerWithoutPollers", "NexsaltoWorkerDown", "NexsaltoWorkerAbsent"} {
		if !seen[want] {
			t.Errorf("no alert %s", want)
		}
	}
}

// TestAlertRulesPromtool: Prometheus' own checks, and the unit tests of alerts_test.yml (which fire the
// lateness, revoke, webhook, vendor, budget and worker alerts from synthetic series and check each stays
// quiet where it should).
func TestAlertRulesPromtool(t *testing.T) {
	runPromtool(t, "check", "rules", "alerts.yml")
	runPromtool(t, "test", "rules", "alerts_test.yml")
	out := runPromtool(t, "check", "config", "prometheus.yml")
	if !strings.Contains(out, "1 rule files found") {
		t.Errorf("prometheus.yml does not load alerts.yml:\n%s", out)
	}
}

// TestPrometheusScrapesTheWorker: the scrape job the alerts name reaches the worker's /metrics in the compose
// stack, and Prometheus finds alerts.yml where prometheus.yml says, inside the container.
func TestPrometheusScrapesTheWorker(t *testing.T) {
	var cfg struct {
		RuleFiles     []string `yaml:"rule_files"`
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			MetricsPath   string `yaml:"metrics_path"`
			StaticConfigs []struct {
				Targets []string
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	readYAML(t, "prometheus.yml", &cfg)
	found := false
	for _, sc := range cfg.ScrapeConfigs {
		if sc.JobName != "nexsalto-worker" {
			continue
		}
		found = true
		if sc.MetricsPath != "" && sc.MetricsPath != "/metrics" {
			t.Errorf("worker metrics_path %q", sc.MetricsPath)
		}
		if len(sc.StaticConfigs) != 1 || !slices.Equal(sc.StaticConfigs[0].Targets, []string{"worker:8090"}) {
			t.Errorf("worker targets %+v, want worker:8090 (the compose service and its webhook port)", sc.StaticConfigs)
		}
	}
	if !found {
		t.Error("no scrape job nexsalto-worker, which the alerts select")
	}
	p := loadProject(t)
	conf := mountOf(t, p, "prometheus", "deploy/prometheus.yml")
	rules := mountOf(t, p, "prometheus", "deploy/alerts.yml")
	if !slices.Contains(cfg.RuleFiles, path.Base(rules)) || path.Dir(rules) != path.Dir(conf) {
		t.Errorf("prometheus.yml (at %s) loads %v, but alerts.yml is mounted at %s", conf, cfg.RuleFiles, rules)
	}
	if !slices.Contains(p.Services["prometheus"].Command, "--config.file="+conf) {
		t.Errorf("prometheus command %v does not read %s", p.Services["prometheus"].Command, conf)
	}
}
