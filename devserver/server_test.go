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
	"go.temporal.io/sdk/client"
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
