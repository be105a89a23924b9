package devserver

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// sleeper waits on a durable timer and then on a signal, so that a restart in between must resume both.
func sleeper(ctx workflow.Context, d time.Duration) (string, error) {
	if err := workflow.Sleep(ctx, d); err != nil {
		return "", err
	}
	var msg string
	workflow.GetSignalChannel(ctx, "go").Receive(ctx, &msg)
	return "woke:" + msg, nil
}

// TestPersistentServerResumesAfterRestart starts a file-backed server with the UI, starts a workflow, stops the
// server, starts it again on the same file, and finishes the workflow: the dev stack's promise.
func TestPersistentServerResumesAfterRestart(t *testing.T) {
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "temporal.db")
	attrs := map[string]enumspb.IndexedValueType{"AccessKind": enumspb.INDEXED_VALUE_TYPE_KEYWORD}

	srv, err := Start(ctx, Options{DataFile: file, SearchAttributes: attrs})
	if err != nil {
		t.Fatal(err)
	}
	// The Web UI answers with its single-page app.
	var body string
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(srv.UIURL() + "/")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				body = string(b)
				break
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(strings.ToLower(body), "<html") {
		t.Fatalf("web UI at %s did not serve a page: %.200q", srv.UIURL(), body)
	}

	c, err := srv.NewClient(ctx, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "sleeper-1", TaskQueue: "q"}, sleeper, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}

	srv, err = Start(ctx, Options{DataFile: file, SearchAttributes: attrs})
	if err != nil {
		t.Fatalf("restart on the same file: %v", err)
	}
	defer func() { _ = srv.Stop() }()
	c, err = srv.NewClient(ctx, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	w := worker.New(c, "q", worker.Options{})
	w.RegisterWorkflow(sleeper)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if err := c.SignalWorkflow(ctx, "sleeper-1", run.GetRunID(), "go", "again"); err != nil {
		t.Fatalf("signal after restart: %v", err)
	}
	var got string
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := c.GetWorkflow(wctx, "sleeper-1", run.GetRunID()).Get(wctx, &got); err != nil {
		t.Fatal(err)
	}
	if got != "woke:again" {
		t.Fatalf("result %q", got)
	}
	sa, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: srv.Namespace()})
	if err != nil {
		t.Fatal(err)
	}
	if sa.GetCustomAttributes()["AccessKind"] != enumspb.INDEXED_VALUE_TYPE_KEYWORD {
		t.Fatalf("search attribute not registered: %v", sa.GetCustomAttributes())
	}
}

func TestInMemoryServerIsIsolated(t *testing.T) {
	ctx := context.Background()
	a, err := Start(ctx, Options{UIPort: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = a.Stop() }()
	b, err := Start(ctx, Options{UIPort: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = b.Stop() }()
	if a.HostPort() == b.HostPort() {
		t.Fatal("two servers share a port")
	}
	ca, _ := a.NewClient(ctx, client.Options{})
	defer ca.Close()
	cb, _ := b.NewClient(ctx, client.Options{})
	defer cb.Close()
	if _, err := ca.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "only-in-a", TaskQueue: "q"}, sleeper, time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := cb.DescribeWorkflowExecution(ctx, "only-in-a", ""); err == nil {
		t.Fatal("a workflow started on server a is visible on server b")
	}
	if a.UIURL() != "" {
		t.Fatal("UI should be disabled")
	}
}

// TestNewSearchAttributesUsableAtOnce: search attributes registered by Start can be set by the very next
// request, the probe that made every service read them leaves no workflow behind, and once the namespace caches
// have refreshed the server stops reading them from the database on every use (a cost on every visibility write).
func TestNewSearchAttributesUsableAtOnce(t *testing.T) {
	ctx := context.Background()
	attrs := map[string]enumspb.IndexedValueType{"AccessKind": enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		"GrantAt": enumspb.INDEXED_VALUE_TYPE_DATETIME}
	srv, err := Start(ctx, Options{UIPort: -1, SearchAttributes: attrs})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = srv.Stop() }()
	c, err := srv.NewClient(ctx, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := func(id string) {
		t.Helper()
		_, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: "nobody",
			TypedSearchAttributes: temporal.NewSearchAttributes(
				temporal.NewSearchAttributeKeyKeyword("AccessKind").ValueSet("booking"),
				temporal.NewSearchAttributeKeyTime("GrantAt").ValueSet(time.Now()))}, "Anything")
		if err != nil {
			t.Fatalf("start %s with the new search attributes: %v", id, err)
		}
	}
	start("at-once")
	if forced := srv.dyn.GetValue(forceSACacheRefresh); len(forced) == 0 {
		t.Fatal("search attribute caches not forced while the namespace caches may lag")
	}
	deadline := time.Now().Add(10 * time.Second)
	for !srv.dyn.settled.Load() {
		if time.Now().After(deadline) {
			t.Fatal("search attribute caches still forced after 10 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if forced := srv.dyn.GetValue(forceSACacheRefresh); len(forced) != 0 {
		t.Fatalf("still forced: %v", forced)
	}
	start("from-cache")
	deadline = time.Now().Add(10 * time.Second)
	for {
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: "AccessKind = 'booking'"})
		if err != nil {
			t.Fatal(err)
		}
		all, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.GetExecutions()) == 2 && len(all.GetExecutions()) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("listed %d by attribute, %d in all (want 2 and 2: no probe left)", len(resp.GetExecutions()),
				len(all.GetExecutions()))
		}
		time.Sleep(100 * time.Millisecond)
	}
}
