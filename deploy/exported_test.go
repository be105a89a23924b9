package deploy

import (
	"context"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/nexsalto/nexsalto/devserver"
	"github.com/nexsalto/nexsalto/metrics"
)

// family is what the tests know of one exported metric family. typed is false for our own labelled
// families that no code path has observed yet: Describe names them but says nothing of their type.
type family struct {
	typ   dto.MetricType
	typed bool
}

var (
	exportedOnce sync.Once
	exported     map[string]family
	exportedErr  error
)

// exportedMetrics is every family the worker's /metrics can serve: our own and the runtime's, as
// metrics.Registry describes them, and the Temporal SDK's, gathered from the same registry after a real SDK
// worker (with metrics.TemporalHandler, as the worker has) ran a workflow and an activity on the embedded
// server. The SDK creates a family only when it first records it, so running real work is the only honest
// way to learn the names its OTel exporter writes (prefix, _total, unit suffixes).
func exportedMetrics(t *testing.T) map[string]family {
	t.Helper()
	exportedOnce.Do(func() { exported, exportedErr = gatherExported() })
	if exportedErr != nil {
		t.Fatal(exportedErr)
	}
	return exported
}

func echo(_ context.Context, s string) (string, error) { return s, nil }

func echoWorkflow(ctx workflow.Context, s string) (string, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 10 * time.Second})
	var out string
	err := workflow.ExecuteActivity(ctx, "echo", s).Get(ctx, &out)
	return out, err
}

func gatherExported() (map[string]family, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	srv, err := devserver.Start(ctx, devserver.Options{UIPort: -1})
	if err != nil {
		return nil, err
	}
	defer func() { _ = srv.Stop() }()
	h, err := metrics.TemporalHandler()
	if err != nil {
		return nil, err
	}
	c, err := srv.NewClient(ctx, client.Options{MetricsHandler: h})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	w := worker.New(c, "deploy-metrics", worker.Options{})
	w.RegisterWorkflowWithOptions(echoWorkflow, workflow.RegisterOptions{Name: "echo"})
	w.RegisterActivityWithOptions(echo, activity.RegisterOptions{Name: "echo"})
	if err := w.Start(); err != nil {
		return nil, err
	}
	defer w.Stop()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: "deploy-metrics"}, "echo", "hi")
	if err != nil {
		return nil, err
	}
	var echoed string
	if err := run.Get(ctx, &echoed); err != nil {
		return nil, err
	}
	out := map[string]family{}
	for _, n := range metrics.Names() {
		out[n] = family{}
	}
	mfs, err := metrics.Registry.Gather()
	if err != nil {
		return nil, err
	}
	for _, mf := range mfs {
		out[mf.GetName()] = family{typ: mf.GetType(), typed: true}
	}
	return out, nil
}

// TestExportedMetricsIncludeTheSDKs guards the gathering itself: without the SDK's pollers gauge and task
// latencies the name checks below would pass or fail for the wrong reason.
func TestExportedMetricsIncludeTheSDKs(t *testing.T) {
	fams := exportedMetrics(t)
	var names []string
	for n, f := range fams {
		names = append(names, n+" "+f.typ.String())
	}
	sort.Strings(names)
	t.Logf("exported:\n%s", strings.Join(names, "\n"))
}
