package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
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
	"syscall"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"gopkg.in/yaml.v3"

	"github.com/nexsalto/nexsalto/access"
	"github.com/nexsalto/nexsalto/config"
	nexudussim "github.com/nexsalto/nexsalto/simulators/nexudus"
	"github.com/nexsalto/nexsalto/simulators/saltoks"
)

// The fault tests run the real worker command (./worker) as a child process: a process can be killed with
// SIGKILL, which an in-process service.Worker cannot, and its memory and goroutines are its own to measure.

// childWorker is the worker command running against a stack started with noWorker.
type childWorker struct {
	t       testing.TB
	bin     string
	args    []string
	env     []string
	logPath string
	// webhook is the receiver's fixed address: Nexudus' webhook URLs stay valid across restarts.
	webhook string
	debug   string // the --debug-listen address, if any

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	starts int
}

// buildWorker builds the worker command into the test's temporary directory (the test runs in e2e/).
func buildWorker(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "worker")
	began := time.Now()
	cmd := exec.Command("go", "build", "-o", bin, "./worker")
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./worker: %v\n%s", err, out)
	}
	t.Logf("built the worker command in %s", time.Since(began).Round(100*time.Millisecond))
	return bin
}

// freeAddr is a loopback address with a port nothing listens on now.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// newChildWorker writes the worker's YAML configuration (the stack's, as config.Load reads it, changed by
// adjust), registers the webhooks at its fixed receiver address and builds the command; start runs it.
func newChildWorker(t testing.TB, s *stack, debug bool, adjust func(*config.Config)) *childWorker {
	t.Helper()
	dir := t.TempDir()
	c := *s.cfg
	c.Locations = slices.Clone(c.Locations)
	for i := range c.Locations {
		l := &c.Locations[i]
		res := make(map[int64][]string, len(l.Resources))
		for k, v := range l.Resources {
			res[k] = v
		}
		l.Resources = res
	}
	c.Webhooks.Listen = freeAddr(t)
	if adjust != nil {
		adjust(&c)
	}
	raw, err := yaml.Marshal(&c) // secrets are yaml:"-": they go through the environment, as in production
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfgPath, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	// Read back as the worker will (config.Load: strict YAML, defaults, validation), secrets as its environment
	// gives them, so that a configuration the command refuses fails here with its reason.
	secrets := map[string]string{config.EnvSaltoClientSecret: s.cfg.Salto.ClientSecret,
		config.EnvSaltoPassword: s.cfg.Salto.Password, config.EnvNexudusPassword: s.cfg.Nexudus.Password,
		config.EnvNexudusWebhookSecret: s.cfg.Nexudus.WebhookSecret}
	if _, err := config.Parse(raw, func(k string) string { return secrets[k] }); err != nil {
		t.Fatalf("the child's configuration: %v\n%s", err, raw)
	}
	w := &childWorker{t: t, bin: buildWorker(t), logPath: filepath.Join(dir, "worker.log"), webhook: c.Webhooks.Listen,
		args: []string{"--config", cfgPath, "--log-level", "info"}}
	if debug {
		w.debug = freeAddr(t)
		w.args = append(w.args, "--debug-listen", w.debug)
	}
	// The test's own environment without anything the worker reads, then the secrets.
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(k, "TEMPORAL_") && !strings.HasPrefix(k, "SALTO_") && !strings.HasPrefix(k, "NEXUDUS_") &&
			!strings.HasPrefix(k, "NEXSALTO_") && !strings.HasPrefix(k, "OTEL_") {
			w.env = append(w.env, kv)
		}
	}
	for k, v := range secrets {
		w.env = append(w.env, k+"="+v)
	}
	s.registerWebhooks(context.Background(), w.webhook)
	t.Cleanup(func() {
		w.stop()
		if t.Failed() {
			w.dumpLog(40)
		}
	})
	return w
}

// start runs the worker and returns once its receiver answers /healthz (Temporal reachable), with how long
// that took from the exec.
func (w *childWorker) start() time.Duration {
	w.t.Helper()
	w.mu.Lock()
	w.starts++
	log, err := os.OpenFile(w.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		w.mu.Unlock()
		w.t.Fatal(err)
	}
	fmt.Fprintf(log, "===== start %d at %s =====\n", w.starts, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(w.bin, w.args...)
	cmd.Env, cmd.Stdout, cmd.Stderr = w.env, log, log
	began := time.Now()
	if err := cmd.Start(); err != nil {
		w.mu.Unlock()
		w.t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); _ = log.Close(); close(exited) }()
	w.cmd, w.exited = cmd, exited
	w.mu.Unlock()

	hc := &http.Client{Timeout: time.Second}
	deadline := began.Add(30 * time.Second)
	for {
		resp, err := hc.Get("http://" + w.webhook + "/healthz")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(began)
			}
		}
		select {
		case <-exited:
			w.t.Fatalf("the worker exited at start %d: %v", w.starts, cmd.ProcessState)
		default:
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("the worker answered no /healthz within 30 s of start %d (last: %v)", w.starts, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// kill sends SIGKILL (no shutdown, no drain: a crash or an OOM kill) and waits until the process is gone.
func (w *childWorker) kill() {
	w.t.Helper()
	w.mu.Lock()
	cmd, exited := w.cmd, w.exited
	w.mu.Unlock()
	if err := syscall.Kill(cmd.Process.Pid, syscall.SIGKILL); err != nil {
		w.t.Fatal(err)
	}
	<-exited
}

// stop ends the worker as an operator does (SIGTERM, then SIGKILL after 15 s).
func (w *childWorker) stop() {
	w.mu.Lock()
	cmd, exited := w.cmd, w.exited
	w.mu.Unlock()
	if cmd == nil {
		return
	}
	select {
	case <-exited:
		return
	default:
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
	}
}

func (w *childWorker) pid() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.cmd.Process.Pid
}

// rssKB is the process's resident set (VmRSS) in kB.
func (w *childWorker) rssKB() (int, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(w.pid()) + "/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			return strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", w.pid())
}

var goroutineTotal = regexp.MustCompile(`^goroutine profile: total (\d+)`)

// goroutines reads the total from the debug listener's goroutine profile.
func (w *childWorker) goroutines() (int, error) {
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + w.debug + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil && err != io.EOF {
		return 0, err
	}
	m := goroutineTotal.FindStringSubmatch(line)
	if m == nil {
		return 0, fmt.Errorf("goroutine profile starts %q", line)
	}
	return strconv.Atoi(m[1])
}

var memStatLine = regexp.MustCompile(`^# (\w+) = (\d+)`) // "# HeapInuse = 123", "# Stack = 123 / 456"

// memStats reads the runtime.MemStats that end the debug listener's heap profile text (no GC is forced): where
// the resident memory goes, heap objects against free spans kept, stacks and the runtime's own.
func (w *childWorker) memStats() (map[string]uint64, error) {
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Get("http://" + w.debug + "/debug/pprof/heap?debug=1")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	stats := map[string]uint64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		if m := memStatLine.FindStringSubmatch(sc.Text()); m != nil {
			v, _ := strconv.ParseUint(m[2], 10, 64)
			stats[m[1]] = v
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if _, ok := stats["HeapInuse"]; !ok {
		return nil, errors.New("the heap profile has no runtime.MemStats")
	}
	return stats, nil
}

// saveHeapProfile writes the worker's heap profile (after a GC) to path, for `go tool pprof -base`.
func (w *childWorker) saveHeapProfile(path string) error {
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Get("http://" + w.debug + "/debug/pprof/heap?gc=1")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// dumpLog keeps the worker's whole log (every start of it) where it outlives the test's temporary directory,
// and prints its warnings, errors and starts, and its last lines.
func (w *childWorker) dumpLog(tail int) {
	raw, err := os.ReadFile(w.logPath)
	if err != nil {
		w.t.Logf("worker log: %v", err)
		return
	}
	kept := filepath.Join(os.TempDir(), strings.NewReplacer("/", "_", " ", "_").Replace(w.t.Name())+"-worker.log")
	if err := os.WriteFile(kept, raw, 0o600); err != nil {
		kept = err.Error()
	}
	all := strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
	var notable []string
	for i, l := range all {
		if i >= len(all)-tail || strings.HasPrefix(l, "=====") || strings.Contains(l, "level=WARN") ||
			strings.Contains(l, "level=ERROR") {
			notable = append(notable, l)
		}
	}
	if len(notable) > 300 {
		notable = append([]string{"…"}, notable[len(notable)-300:]...)
	}
	w.t.Logf("worker log (all of it in %s): starts, warnings, errors and the last %d lines:\n%s", kept, tail,
		strings.Join(notable, "\n"))
}

// explainCustomer logs the activity events of a customer workflow's history: when a Salto call was scheduled,
// started, timed out (an attempt that died with a killed worker) and completed.
func explainCustomer(t testing.TB, s *stack, coworker int) {
	t.Helper()
	id := access.CustomerKey{LocationID: loc1, CoworkerID: int64(coworker)}.WorkflowID()
	it := s.tc.GetWorkflowHistory(context.Background(), id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var lines []string
	types := map[int64]string{}
	for it.HasNext() && len(lines) < 40 {
		ev, err := it.Next()
		if err != nil {
			lines = append(lines, err.Error())
			break
		}
		what := ""
		switch ev.GetEventType() {
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			types[ev.GetEventId()] = ev.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName()
			what = types[ev.GetEventId()]
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED:
			a := ev.GetActivityTaskStartedEventAttributes()
			what = fmt.Sprintf("%s attempt %d", types[a.GetScheduledEventId()], a.GetAttempt())
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
			what = types[ev.GetActivityTaskTimedOutEventAttributes().GetScheduledEventId()]
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
			what = types[ev.GetActivityTaskCompletedEventAttributes().GetScheduledEventId()]
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
		default:
			continue
		}
		lines = append(lines, fmt.Sprintf("  %s %s %s", ev.GetEventTime().AsTime().Format("15:04:05.000"),
			strings.TrimPrefix(ev.GetEventType().String(), "EVENT_TYPE_"), what))
	}
	t.Logf("%s:\n%s", id, strings.Join(lines, "\n"))
}

// Rooms that only the fault tests book, each mapped to an access group of its own: a customer's bookings of
// different rooms then show in Salto separately, so every booking's grant and revoke can be seen.
var faultRooms = []struct {
	resource int64
	group    string
}{
	{41, "5a170000-0000-4000-8000-0000000000f1"}, {42, "5a170000-0000-4000-8000-0000000000f2"},
	{43, "5a170000-0000-4000-8000-0000000000f3"}, {44, "5a170000-0000-4000-8000-0000000000f4"},
}

// seedFaultWorld adds the fault rooms and their groups, and the customers first…first+n-1; those for which
// withUser says so already have a Salto user with their email (found by the link, not created).
func seedFaultWorld(t testing.TB, s *stack, first, n int, withUser func(i int) bool) []int {
	t.Helper()
	var ds nexudussim.Dataset
	for _, r := range faultRooms {
		ds.Resources = append(ds.Resources, nexudussim.Resource{Base: nexudussim.Base{Id: int(r.resource)},
			BusinessId: int(loc1), Name: "Fault room " + strconv.Itoa(int(r.resource)), ResourceTypeId: 1})
		if _, err := s.salto.SeedAccessGroup(site1, saltoks.GroupSeed{ID: r.group, Name: "Fault " + r.group[len(r.group)-2:],
			CustomerReference: "fault", Schedules: always}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.nexudus.Seed(ds); err != nil {
		t.Fatal(err)
	}
	return s.seedCustomersAt(site1, first, n, withUser)
}

// mapFaultRooms maps each fault room to its group at location 1 of a child's configuration.
func mapFaultRooms(c *config.Config) {
	for _, r := range faultRooms {
		c.Locations[0].Resources[r.resource] = []string{r.group}
	}
}
