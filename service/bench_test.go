package service_test

// The performance budget of the access workflows, measured on the whole system (embedded Temporal server,
// simulators over HTTP, the real worker). Benchmarks, not tests: they print figures and judge nothing, so they
// never make `go test ./...` flaky. All of them take about 20 minutes on two cores (-bench with a name runs one):
//
//	go test -run '^$' -bench . -benchtime 1x -timeout 30m ./service/
//
// Each does its work once whatever b.N is: the figures are latencies and sizes, not ns/op. Other work on the
// machine shows in every figure: the server, the worker and the simulators share its cores.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"

	"github.com/nexsalto/nexsalto/access"
	"github.com/nexsalto/nexsalto/dispatch"
	"github.com/nexsalto/nexsalto/nexudus"
	nexudussim "github.com/nexsalto/nexsalto/simulators/nexudus"
	"github.com/nexsalto/nexsalto/simulators/saltoks"
)

// grantLog wraps the Salto simulator's handler and records when each user was first added to each access
// group (a successful POST .../access_groups/{group}/users), and every API answer by status.
type grantLog struct {
	mu       sync.Mutex
	added    map[string]map[string]time.Time // group → platform user id → when the add was answered
	statuses map[int]int
}

func newGrantLog() *grantLog {
	return &grantLog{added: map[string]map[string]time.Time{}, statuses: map[int]int{}}
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

func (g *grantLog) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var group, user string
		// /v1.2/sites/{site}/access_groups/{group}/users
		if parts := strings.Split(r.URL.Path, "/"); r.Method == http.MethodPost && len(parts) == 7 &&
			parts[2] == "sites" && parts[4] == "access_groups" && parts[6] == "users" {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			var b struct {
				UserID string `json:"user_id"`
			}
			if json.Unmarshal(body, &b) == nil {
				group, user = parts[5], b.UserID
			}
		}
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		now := time.Now()
		if !strings.HasPrefix(r.URL.Path, "/v1.") {
			return // identity and admin calls
		}
		g.mu.Lock()
		defer g.mu.Unlock()
		g.statuses[sw.status]++
		if group != "" && sw.status >= 200 && sw.status < 300 {
			m := g.added[group]
			if m == nil {
				m = map[string]time.Time{}
				g.added[group] = m
			}
			if _, seen := m[user]; !seen {
				m[user] = now
			}
		}
	})
}

// at is when user was first added to group.
func (g *grantLog) at(group, user string) (time.Time, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	t, ok := g.added[group][user]
	return t, ok
}

// count is how many of users have been added to group.
func (g *grantLog) count(group string, users []string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for _, u := range users {
		if _, ok := g.added[group][u]; ok {
			n++
		}
	}
	return n
}

func (g *grantLog) status(code int) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.statuses[code]
}

func (g *grantLog) resetStatuses() {
	g.mu.Lock()
	defer g.mu.Unlock()
	clear(g.statuses)
}

// benchCustomers seeds n active coworkers (ids from first) in Nexudus and a Salto user with the same email for
// each, and returns the coworker ids and the Salto platform user ids.
func benchCustomers(b testing.TB, e *env, first, n int) (ids []int, platform []string) {
	b.Helper()
	ds := nexudussim.Dataset{}
	for i := range n {
		id := first + i
		email := fmt.Sprintf("bench%d@example.com", id)
		ds.Coworkers = append(ds.Coworkers, nexudussim.Coworker{Base: nexudussim.Base{Id: id},
			FullName: fmt.Sprintf("Bench Customer%d", id), Email: email, Active: true})
		u, err := e.salto.SeedUser(site, saltoks.UserSeed{FirstName: "Bench", LastName: "Customer" + strconv.Itoa(id),
			Email: email, SubscriptionState: "subscribed"})
		if err != nil {
			b.Fatal(err)
		}
		ids = append(ids, id)
		platform = append(platform, u.User.ID)
	}
	if _, err := e.nexsim.Seed(ds); err != nil {
		b.Fatal(err)
	}
	return ids, platform
}

// seedBookings adds one booking per coworker, ids from first, without firing webhooks, and returns them as the
// simulator stores them (what its webhooks would carry).
func seedBookings(b testing.TB, e *env, first int, resource int, coworkers []int, from, to time.Time) []nexudussim.Booking {
	b.Helper()
	var ds nexudussim.Dataset
	for i, cw := range coworkers {
		ds.Bookings = append(ds.Bookings, nexudussim.Booking{Base: nexudussim.Base{Id: first + i}, ResourceId: resource,
			CoworkerId: cw, FromTime: nexudussim.At(from), ToTime: nexudussim.At(to)})
	}
	all, err := e.nexsim.Seed(ds)
	if err != nil {
		b.Fatal(err)
	}
	byID := map[int]nexudussim.Booking{}
	for _, bk := range all.Bookings {
		byID[bk.Id] = bk
	}
	out := make([]nexudussim.Booking, len(coworkers))
	for i := range coworkers {
		out[i] = byID[first+i]
	}
	return out
}

// startAll starts (or signals) the entitlement workflows of refs with at most par calls in flight, as a
// backfill or the change poller would.
func startAll(ctx context.Context, e *env, refs []access.Ref, par int) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, par)
	for range par {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(refs) || ctx.Err() != nil {
					return
				}
				if err := dispatch.StartEntitlement(ctx, e.tc, e.cfg.Temporal.TaskQueue, refs[i]); err != nil {
					errs <- fmt.Errorf("start %s: %w", refs[i].WorkflowID(), err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// bookingWebhook posts what Nexudus sends for a booking action (the record, signed) to the receiver's URL and
// returns the answer's status.
func bookingWebhook(ctx context.Context, hc *http.Client, url string, bk nexudussim.Booking) (int, error) {
	body, err := json.Marshal([]nexudussim.Booking{bk})
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(nexudus.SignatureHeader, nexudus.Sign([]byte(hookSecret), body))
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

// countWorkflows counts the executions a visibility query matches (eventually consistent).
func countWorkflows(ctx context.Context, e *env, query string) (int64, error) {
	r, err := e.tc.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Query: query})
	if err != nil {
		return 0, err
	}
	return r.GetCount(), nil
}

// waitUntil polls cond every interval until it holds (true) or ctx ends (false).
func waitUntil(ctx context.Context, interval time.Duration, cond func() bool) bool {
	for {
		if cond() {
			return true
		}
		select {
		case <-ctx.Done():
			return cond()
		case <-time.After(interval):
		}
	}
}

// percentile of sorted durations (nearest rank).
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*q+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// cpuTime is the CPU time this process has used (server, worker, simulators and benchmark together).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func nexudusReads(e *env) int {
	n := 0
	for call, c := range e.nexsim.Stats().Calls {
		if strings.HasPrefix(call, "GET ") {
			n += c
		}
	}
	return n
}
