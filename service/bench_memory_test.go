package service_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/nexsalto/nexsalto/config"
	"github.com/nexsalto/nexsalto/nexudus"
	"github.com/nexsalto/nexsalto/service"
)

// BenchmarkSleepingWorkflowsMemory: 50,000 bookings days ahead, each announced by its signed webhook (which
// stands for the booking's read, so loading them costs Nexudus nothing) and sleeping to its grant, on a worker
// that runs as its own process (the worker command, built here), so that its memory is measured apart from the
// embedded server and the simulators. Nexudus' budget is the documented one (120 calls/min, in the worker and
// in the simulator). Then, with all of them asleep, 20 customers already linked book a room for now, one a
// second: how long the webhook's answer takes, and how long until Salto has the customer in the room's group.
// Budget: worker RSS under 600 MB, the webhook answered and granted in under 1 s.
func BenchmarkSleepingWorkflowsMemory(b *testing.B) {
	b.Run("workflows=50000", func(b *testing.B) { benchSleepingMemory(b, 50000) })
}

func benchSleepingMemory(b *testing.B, total int) {
	const (
		probes    = 20 // linked customers whose room booking is timed once everything sleeps
		customers = 2000
		senders   = 16
	)
	rec := newGrantLog()
	e := newEnv(b, envOptions{lead: 15 * time.Minute, lag: 15 * time.Minute, policy: config.PolicyKeep,
		nexudusRPM: 120, nexudusSimRPM: 120, saltoHandler: rec.wrap, noWorker: true, noWebhooks: true, noSync: true})
	ctx, cancel := context.WithTimeout(e.ctx, 55*time.Minute)
	defer cancel()
	dir := b.TempDir()

	bin := filepath.Join(dir, "worker")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/nexsalto/nexsalto/worker")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("build the worker command: %v\n%s", err, out)
	}
	cfg := *e.cfg
	cfg.Salto.TokenFile = filepath.Join(dir, "salto-token.json")
	cfg.Webhooks.Listen = freeAddr(b)
	// The receiver's own per-source limit (50/s, ours, not a vendor's) would make loading 50,000 take 17 min;
	// the figures are what the sleeping workflows cost, not how fast they arrive.
	cfg.Webhooks.RatePerSecond, cfg.Webhooks.RateBurst = 2000, 2000
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
	url := service.WebhookURL("http://"+cfg.Webhooks.Listen, cfg.Webhooks.PathPrefix, nexudus.ActionBookingCreate, "")
	hc := &http.Client{Timeout: 30 * time.Second}
	if !waitUntil(ctx, 200*time.Millisecond, func() bool {
		resp, err := hc.Get("http://" + cfg.Webhooks.Listen + "/readyz")
		if err == nil {
			_ = resp.Body.Close()
		}
		return err == nil && resp.StatusCode == http.StatusOK
	}) {
		b.Fatal("the worker never became ready")
	}
	idle := procStatus(pid)

	// The probes' customers are linked first (a booth booking each, due now), at the pace Nexudus allows.
	ids, platform := benchCustomers(b, e, 1000, customers)
	now := time.Now().Truncate(time.Second)
	for _, bk := range seedBookings(b, e, 900000, boothID, ids[:probes], now, now.Add(3*time.Hour)) {
		if code, err := bookingWebhook(ctx, hc, url, bk); err != nil || code != http.StatusOK {
			b.Fatalf("booth webhook: %d %v", code, err)
		}
	}
	lctx, lcancel := context.WithTimeout(ctx, 5*time.Minute)
	linked := waitUntil(lctx, 200*time.Millisecond, func() bool { return rec.count(gBooth, platform[:probes]) == probes })
	lcancel()
	if !linked {
		b.Fatalf("linking the probes: %d of %d in the booth", rec.count(gBooth, platform[:probes]), probes)
	}

	// Bookings three days ahead, every customer several times over, each announced by its webhook.
	coworkers := make([]int, total)
	for i := range coworkers {
		coworkers[i] = ids[i%len(ids)]
	}
	start := time.Now().Add(72 * time.Hour).Truncate(time.Hour)
	sleeping := seedBookings(b, e, 100000, roomID, coworkers, start, start.Add(time.Hour))

	b.ResetTimer()
	began := time.Now()
	reads0 := nexudusReads(e)
	var peakDuring uint64 // sampled from this goroutine only
	sample := func() map[string]uint64 {
		st := procStatus(pid)
		peakDuring = max(peakDuring, st["VmRSS"])
		return st
	}
	posted := make([]time.Duration, total)
	var next atomic.Int64
	var refused atomic.Int64
	var wg sync.WaitGroup
	for range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < total && ctx.Err() == nil; i = int(next.Add(1)) - 1 {
				// As Nexudus does, a webhook refused (overload: 503, 429) is sent again.
				for try := 0; ; try++ {
					t0 := time.Now()
					code, err := bookingWebhook(ctx, hc, url, sleeping[i])
					posted[i] = time.Since(t0)
					if err == nil && code == http.StatusOK {
						break
					}
					refused.Add(1)
					if try == 20 || ctx.Err() != nil {
						b.Errorf("webhook for booking %d: %d %v", sleeping[i].Id, code, err)
						return
					}
					time.Sleep(time.Second)
				}
			}
		}()
	}
	sent := make(chan struct{})
	go func() { wg.Wait(); close(sent) }()
	waitUntil(ctx, 2*time.Second, func() bool { sample(); return isClosed(sent) })
	sentIn := time.Since(began)
	// Each workflow's first task records its state (AccessState) and sets the timer it sleeps on: once
	// visibility counts all of them scheduled, every one sleeps. Visibility on SQLite lags at this rate.
	query := "AccessKind = 'booking' AND AccessState = 'scheduled' AND ExecutionStatus = 'Running'"
	var asleep int64
	waitUntil(ctx, 5*time.Second, func() bool {
		sample()
		asleep, _ = countWorkflows(ctx, e, query)
		return asleep >= int64(total)
	})
	loaded := time.Since(began)
	if asleep < int64(total) {
		b.Fatalf("only %d of %d bookings asleep after %s", asleep, total, loaded.Round(time.Second))
	}
	b.StopTimer()
	loadReads := nexudusReads(e) - reads0
	// Settle, then sample: the figure is the steady cost of the sleeping workflows.
	time.Sleep(15 * time.Second)
	var rss, hwm uint64
	for range 10 {
		st := sample()
		rss, hwm = max(rss, st["VmRSS"]), st["VmHWM"]
		time.Sleep(time.Second)
	}
	heap, gcs := liveHeap(logPath)

	// With all of them asleep: the probes book the room for now, one a second.
	probe := seedBookings(b, e, 950000, roomID, ids[:probes], now, now.Add(2*time.Hour))
	answer, granted := make([]time.Duration, 0, probes), make([]time.Duration, 0, probes)
	for i, bk := range probe {
		t0 := time.Now()
		if code, err := bookingWebhook(ctx, hc, url, bk); err != nil || code != http.StatusOK {
			b.Fatalf("probe webhook: %d %v", code, err)
		}
		answer = append(answer, time.Since(t0))
		gctx, gcancel := context.WithTimeout(ctx, 30*time.Second)
		waitUntil(gctx, 5*time.Millisecond, func() bool { _, ok := rec.at(gRoom, platform[i]); return ok })
		gcancel()
		if at, ok := rec.at(gRoom, platform[i]); ok {
			granted = append(granted, at.Sub(t0))
		}
		time.Sleep(time.Until(t0.Add(time.Second)))
	}
	if st := sample(); st["VmRSS"] > rss {
		rss, hwm = st["VmRSS"], st["VmHWM"]
	}
	slices.Sort(posted)
	slices.Sort(answer)
	slices.Sort(granted)

	mb := func(kb uint64) float64 { return float64(kb) / 1024 }
	b.ReportMetric(mb(rss), "rss_MB")
	b.ReportMetric(mb(hwm), "peak_rss_MB")
	b.ReportMetric(heap, "live_heap_MB")
	b.ReportMetric(float64(total)/loaded.Seconds(), "workflows/s")
	b.ReportMetric(ms(percentile(granted, 0.99)), "probe_grant_p99_ms")
	b.Logf("worker process (max_cached_workflows %d): idle RSS %.0f MB; with %d sleeping workflows RSS %.0f MB "+
		"(max of 11 samples), peak RSS %.0f MB (VmHWM; max sampled while loading %.0f MB), live heap after the last "+
		"GC %.0f MB (%d GCs) (target: < 600 MB)", cfg.Temporal.MaxCachedWorkflows, mb(idle["VmRSS"]), total, mb(rss),
		mb(hwm), mb(peakDuring), heap, gcs)
	b.Logf("loading: %d webhooks from %d senders in %s (%d refused and sent again; answer p50 %.0f ms, p99 %.0f ms), all asleep "+
		"per visibility after %s; Nexudus reads while loading %d", total, senders, sentIn.Round(time.Second),
		refused.Load(), ms(percentile(posted, .5)), ms(percentile(posted, .99)), loaded.Round(time.Second), loadReads)
	b.Logf("with %d asleep, %d room bookings of linked customers, one a second: webhook answered p50 %.0f ms, "+
		"p99 %.0f ms; granted (POST → Salto group) %d, p50 %.0f ms, p99 %.0f ms, max %.0f ms (target: < 1000 ms)",
		total, probes, ms(percentile(answer, .5)), ms(percentile(answer, .99)), len(granted),
		ms(percentile(granted, .5)), ms(percentile(granted, .99)), ms(percentile(granted, 1)))
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
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

// freeAddr is a loopback address free a moment ago, for the worker process's webhook listener.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().String()
}
