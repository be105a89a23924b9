package service_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/nexsalto/nexsalto/access"
	"github.com/nexsalto/nexsalto/config"
)

// BenchmarkSleepingWorkflowsMemory: 10,000 booking workflows for bookings days ahead, each of which reads
// Nexudus once and sleeps to its grant, on a worker that runs as its own process (the worker command, built
// here), so that its memory is measured apart from the embedded server and the simulators. Budget: under
// 300 MB. The sub-benchmarks compare the worker's sticky-cache setting (temporal.max_cached_workflows).
func BenchmarkSleepingWorkflowsMemory(b *testing.B) {
	const workflows = 10000
	// Before: the SDK's default sticky cache (10,000 workflows); after: the configuration's default.
	b.Run("max_cached_workflows=10000", func(b *testing.B) { benchSleepingMemory(b, workflows, 10000) })
	b.Run("max_cached_workflows=default", func(b *testing.B) { benchSleepingMemory(b, workflows, 0) })
}

func benchSleepingMemory(b *testing.B, total, cache int) {
	e := newEnv(b, envOptions{lead: 15 * time.Minute, lag: 15 * time.Minute, policy: config.PolicyKeep,
		nexudusRPM: 600000, noWorker: true})
	ctx, cancel := context.WithTimeout(e.ctx, 25*time.Minute)
	defer cancel()
	dir := b.TempDir()

	bin := filepath.Join(dir, "worker")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/nexsalto/nexsalto/worker")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("build the worker command: %v\n%s", err, out)
	}
	cfg := *e.cfg
	cfg.Salto.TokenFile = filepath.Join(dir, "salto-token.json")
	// The benchmark starts the workflows itself, as webhooks would: the change poller and reconciliation (safety
	// nets that would find the same seeded bookings and signal them again) wait a day.
	cfg.Sync.PollInterval, cfg.Sync.ReconcileInterval = 24*time.Hour, 24*time.Hour
	if cache > 0 {
		cfg.Temporal.MaxCachedWorkflows = cache
	}
	raw, err := yaml.Marshal(&cfg) // secrets are yaml:"-": they go in the environment below
	if err != nil {
		b.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfgPath, raw, 0o600); err != nil {
		b.Fatal(err)
	}
	logPath := filepath.Join(dir, "worker.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = logFile.Close() }()
	cmd := exec.Command(bin, "--config", cfgPath, "--log-level", "warn")
	cmd.Env = append(os.Environ(),
		config.EnvSaltoClientSecret+"="+cfg.Salto.ClientSecret,
		config.EnvSaltoPassword+"="+cfg.Salto.Password,
		config.EnvNexudusPassword+"="+cfg.Nexudus.Password,
		config.EnvNexudusWebhookSecret+"="+cfg.Nexudus.WebhookSecret,
		// The runtime prints the heap after each collection; the benchmark reads the live heap from it.
		"GODEBUG=gctrace=1",
	)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	pid := cmd.Process.Pid
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}()
	time.Sleep(3 * time.Second)
	select {
	case <-exited:
		out, _ := os.ReadFile(logPath)
		b.Fatalf("worker exited at start:\n%s", out)
	default:
	}
	idle := procStatus(pid)

	// Customers and bookings three days ahead: each workflow reads its booking and sleeps to its grant.
	ids, _ := benchCustomers(b, e, 1000, 100)
	coworkers := make([]int, total)
	for i := range coworkers {
		coworkers[i] = ids[i%len(ids)]
	}
	start := time.Now().Add(72 * time.Hour).Truncate(time.Hour)
	seedBookings(b, e, 100000, roomID, coworkers, start, start.Add(time.Hour))
	refs := make([]access.Ref, total)
	for i := range refs {
		refs[i] = access.Ref{Kind: access.KindBooking, ID: int64(100000 + i)}
	}

	b.ResetTimer()
	began := time.Now()
	reads0 := nexudusReads(e)
	var peakDuring uint64
	sample := func() map[string]uint64 {
		st := procStatus(pid)
		peakDuring = max(peakDuring, st["VmRSS"])
		return st
	}
	done := make(chan error, 1)
	go func() { done <- startAll(ctx, e, refs, 16) }()
	waitUntil(ctx, 2*time.Second, func() bool { sample(); return len(done) > 0 })
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	started := time.Since(began)
	// A workflow's one Nexudus read is its first task's local activity; the task then completes with the timer
	// it sleeps on. So once every booking was read, every workflow sleeps (or is about to).
	if !waitUntil(ctx, time.Second, func() bool { sample(); return nexudusReads(e)-reads0 >= total }) {
		b.Fatalf("only %d of %d bookings read", nexudusReads(e)-reads0, total)
	}
	loaded := time.Since(began)
	b.StopTimer()
	// Settle, then sample: the figure is the steady cost of the sleeping workflows.
	time.Sleep(15 * time.Second)
	var rss, hwm uint64
	for range 10 {
		st := sample()
		rss, hwm = max(rss, st["VmRSS"]), st["VmHWM"]
		time.Sleep(time.Second)
	}
	heap, gcs := liveHeap(logPath)
	// Visibility (lists and counts by search attribute) confirms it; on the embedded SQLite server it lags
	// behind by minutes at this rate, so it is waited for only so long.
	query := "AccessKind = 'booking' AND AccessState = 'scheduled' AND ExecutionStatus = 'Running'"
	var sleeping int64
	vctx, vcancel := context.WithTimeout(ctx, 3*time.Minute)
	waitUntil(vctx, 5*time.Second, func() bool {
		sleeping, _ = countWorkflows(ctx, e, query)
		return sleeping >= int64(total)
	})
	vcancel()
	counted := time.Since(began)
	if st := sample(); st["VmRSS"] > rss {
		rss, hwm = st["VmRSS"], st["VmHWM"]
	}

	mb := func(kb uint64) float64 { return float64(kb) / 1024 }
	b.ReportMetric(mb(rss), "rss_MB")
	b.ReportMetric(mb(hwm), "peak_rss_MB")
	b.ReportMetric(heap, "live_heap_MB")
	b.ReportMetric(float64(sleeping), "sleeping_per_visibility")
	b.ReportMetric(float64(total)/loaded.Seconds(), "workflows/s")
	b.Logf("worker process (max_cached_workflows %d): idle RSS %.0f MB; with %d sleeping workflows RSS %.0f MB "+
		"(max of 11 samples), peak RSS %.0f MB (VmHWM; max sampled while starting %.0f MB), live heap after the last "+
		"GC %.0f MB (%d GCs) (target: < 300 MB)", cfg.Temporal.MaxCachedWorkflows, mb(idle["VmRSS"]), total, mb(rss),
		mb(hwm), mb(peakDuring), heap, gcs)
	b.Logf("started %d in %s, all read from Nexudus (%d reads) after %s; visibility counted %d sleeping after %s",
		total, started.Round(time.Second), nexudusReads(e)-reads0, loaded.Round(time.Second), sleeping,
		counted.Round(time.Second))
}

// procStatus reads the kB figures of /proc/<pid>/status (VmRSS, VmHWM, ...); empty where there is no /proc.
func procStatus(pid int) map[string]uint64 {
	out := map[string]uint64{}
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return out
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if f := strings.Fields(v); ok && len(f) == 2 && f[1] == "kB" {
			if n, err := strconv.ParseUint(f[0], 10, 64); err == nil {
				out[k] = n
			}
		}
	}
	return out
}

// gctrace: "gc 12 @3.201s 1%: ..., 45->46->23 MB, 47 MB goal, ..."; the third figure is the live heap.
var gcTrace = regexp.MustCompile(`^gc \d+ .* (\d+)->(\d+)->(\d+) MB`)

// liveHeap is the live heap after the last garbage collection the worker logged, and how many it logged.
func liveHeap(logPath string) (float64, int) {
	raw, err := os.ReadFile(logPath)
	if err != nil {
		return 0, 0
	}
	var live float64
	n := 0
	for line := range strings.SplitSeq(string(raw), "\n") {
		if m := gcTrace.FindStringSubmatch(line); m != nil {
			live, _ = strconv.ParseFloat(m[3], 64)
			n++
		}
	}
	return live, n
}
