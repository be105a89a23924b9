package config

import (
	"strings"
	"testing"
	"time"
)

func TestMetricsSection(t *testing.T) {
	c, err := Parse([]byte(valid), env(secrets))
	if err != nil {
		t.Fatal(err)
	}
	if c.Metrics.Listen != "" || c.Metrics.RefreshInterval != DefaultMetricsRefresh {
		t.Errorf("defaults: %+v, want no listener of its own and a %s refresh", c.Metrics, DefaultMetricsRefresh)
	}
	c, err = Parse([]byte(valid+"metrics:\n  listen: 127.0.0.1:9464\n  refresh_interval: 5s\n"), env(secrets))
	if err != nil {
		t.Fatal(err)
	}
	if c.Metrics.Listen != "127.0.0.1:9464" || c.Metrics.RefreshInterval != 5*time.Second {
		t.Errorf("parsed %+v", c.Metrics)
	}
	for yaml, want := range map[string]string{
		"metrics:\n  listen: 9464\n":                      "metrics.listen: \"9464\" is not host:port",
		"metrics:\n  listen: 127.0.0.1:http\n":            "is not host:port",
		"metrics:\n  listen: :9464\n":                     "names no host",
		"metrics:\n  listen: 127.0.0.1:8090\n":            "is webhooks.listen",
		"metrics:\n  refresh_interval: 100ms\n":           "metrics.refresh_interval: 100ms is shorter than 1s",
		"metrics:\n  listen: 127.0.0.1:9464\n  oops: 1\n": "field oops not found",
	} {
		_, err := Parse([]byte(valid+yaml), env(secrets))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want one containing %q", yaml, err, want)
		}
	}
}
