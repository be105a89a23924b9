package workflows

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// ---- logging and command counting ----

// recordingLogger keeps every log line so tests can check that secrets never reach one.
type recordingLogger struct {
	mu    sync.Mutex
	lines []string
}

func (l *recordingLogger) log(level, msg string, kv []any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, level+" "+msg+" "+fmt.Sprint(kv...))
}
func (l *recordingLogger) Debug(msg string, kv ...any) { l.log("DEBUG", msg, kv) }
func (l *recordingLogger) Info(msg string, kv ...any)  { l.log("INFO", msg, kv) }
func (l *recordingLogger) Warn(msg string, kv ...any)  { l.log("WARN", msg, kv) }
func (l *recordingLogger) Error(msg string, kv ...any) { l.log("ERROR", msg, kv) }

func (l *recordingLogger) contains(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.ContainsFunc(l.lines, func(line string) bool { return strings.Contains(line, s) })
}

var _ log.Logger = (*recordingLogger)(nil)

// commandCounts counts the commands a workflow issues and what wakes it up, to estimate its history length.
type commandCounts struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *commandCounts) add(k string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[k]++
}

func (c *commandCounts) snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.n)
}

type countingInterceptor struct {
	interceptor.WorkerInterceptorBase
	c *commandCounts
}

func (i *countingInterceptor) InterceptWorkflow(_ workflow.Context, next interceptor.WorkflowInboundInterceptor) interceptor.WorkflowInboundInterceptor {
	return &countingInbound{WorkflowInboundInterceptorBase: interceptor.WorkflowInboundInterceptorBase{Next: next}, c: i.c}
}

type countingInbound struct {
	interceptor.WorkflowInboundInterceptorBase
	c *commandCounts
}

func (i *countingInbound) Init(outbound interceptor.WorkflowOutboundInterceptor) error {
	return i.Next.Init(&countingOutbound{WorkflowOutboundInterceptorBase: interceptor.WorkflowOutboundInterceptorBase{Next: outbound}, c: i.c})
}

type countingOutbound struct {
	interceptor.WorkflowOutboundInterceptorBase
	c *commandCounts
}

func (o *countingOutbound) NewTimerWithOptions(ctx workflow.Context, d time.Duration, opts workflow.TimerOptions) workflow.Future {
	if !workflow.IsReplaying(ctx) {
		o.c.add("timer")
	}
	return o.Next.NewTimerWithOptions(ctx, d, opts)
}

func (o *countingOutbound) ExecuteActivity(ctx workflow.Context, name string, args ...any) workflow.Future {
	if !workflow.IsReplaying(ctx) {
		o.c.add("activity")
		o.c.add("activity:" + name)
	}
	return o.Next.ExecuteActivity(ctx, name, args...)
}

func (o *countingOutbound) ExecuteLocalActivity(ctx workflow.Context, name string, args ...any) workflow.Future {
	if !workflow.IsReplaying(ctx) {
		o.c.add("localActivity")
		o.c.add("localActivity:" + name)
	}
	return o.Next.ExecuteLocalActivity(ctx, name, args...)
}

func (o *countingOutbound) UpsertTypedSearchAttributes(ctx workflow.Context, attrs ...temporal.SearchAttributeUpdate) error {
	if !workflow.IsReplaying(ctx) {
		o.c.add("upsert")
	}
	return o.Next.UpsertTypedSearchAttributes(ctx, attrs...)
}
