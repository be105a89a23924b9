package workflows

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/nexsalto/nexsalto/access"
)

// The fakes below stand in for the activities, registered under the real activity names: a scripted Nexudus
// whose records the tests change over virtual time, an in-memory Salto that keeps users, group membership and
// subscription state, and a recorder of the customer signals the entitlement workflows send.

var t0 = time.Date(2025, 11, 30, 6, 0, 0, 0, time.UTC) // a Sunday, 06:00 UTC

// at is t0's day at hh:mm.
func at(hh, mm int) time.Time { return time.Date(2025, 11, 30, hh, mm, 0, 0, time.UTC) }

const (
	locID      = int64(1)
	coworkerID = int64(42)
	siteID     = "site-1"
)

var customer = access.CustomerKey{LocationID: locID, CoworkerID: coworkerID}

type coworker struct {
	Email, Card string
}

type sentSignal struct {
	At  time.Time
	Sig access.CustomerSignal
}

type saltoCall struct {
	At    time.Time
	Op    string // find, create, tag, add, remove, suspend, subscribe, delete, guest, pin, revoke-guest
	Group string
	User  string
}

type saltoUser struct {
	SiteUserID, PlatformID, Email, Tag string
	Suspended, Guest                   bool
	// Ours: created by EnsureSaltoUser (it carries our alias); users added by a test were there before.
	Ours       bool
	ValidUntil time.Time
}

// world holds every fake; one world can serve several environments in turn (Continue-As-New tests).
type world struct {
	t   *testing.T
	env *testsuite.TestWorkflowEnvironment

	mu sync.Mutex
	// Nexudus
	ents        map[access.Ref]access.Entitlement
	reads       map[access.Ref]int
	coworkers   map[int64]coworker
	coworkerRd  int
	visitorPINs map[int64]string
	problems    []access.Problem
	locations   map[int64]access.Location
	// customer signals sent by entitlement workflows
	sent []sentSignal
	// Salto
	users   map[string]*saltoUser // by site-user id
	members map[string]map[string]bool
	calls   []saltoCall
	nextID  int
	// failures: group → final error for AddToGroup; op → retryable failures left; op → Retry-After
	failAdd    map[string]error
	transient  map[string]int
	retryAfter map[string]time.Duration
	// seats is the site's licence-seat limit (0: unlimited): without a free one, creating a user or
	// subscribing one leaves it suspended, as Salto answers.
	seats int
	// holdChecks counts CheckUserHold calls (kept out of calls, which lists writes and lookups by email).
	holdChecks int

	logs   *recordingLogger
	counts *commandCounts
}

func newWorld(t *testing.T) *world {
	w := &world{
		t:           t,
		ents:        map[access.Ref]access.Entitlement{},
		reads:       map[access.Ref]int{},
		coworkers:   map[int64]coworker{coworkerID: {Email: "ada@example.com", Card: "TAG-0042"}},
		visitorPINs: map[int64]string{},
		locations: map[int64]access.Location{locID: {ID: locID, Name: "Central", SiteID: siteID,
			Policy: access.PolicyKeep}},
		users:      map[string]*saltoUser{},
		members:    map[string]map[string]bool{},
		failAdd:    map[string]error{},
		transient:  map[string]int{},
		retryAfter: map[string]time.Duration{},
		logs:       &recordingLogger{},
		counts:     &commandCounts{},
	}
	w.newEnv(t0)
	return w
}

// newEnv makes a fresh test environment starting at start, with every fake registered.
func (w *world) newEnv(start time.Time) *testsuite.TestWorkflowEnvironment {
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(w.logs)
	env := suite.NewTestWorkflowEnvironment()
	env.SetStartTime(start)
	env.SetWorkerOptions(worker.Options{Interceptors: []interceptor.WorkerInterceptor{&countingInterceptor{c: w.counts}}})
	Register(env)
	env.RegisterActivity(w.LoadEntitlement)
	env.RegisterActivity(w.LoadLocation)
	env.RegisterActivity(w.SignalCustomer)
	env.RegisterActivity(w.EnsureSaltoUser)
	env.RegisterActivity(w.AddToGroup)
	env.RegisterActivity(w.RemoveFromGroup)
	env.RegisterActivity(w.SetSubscription)
	env.RegisterActivity(w.DeleteSaltoUser)
	env.RegisterActivity(w.GrantVisitor)
	env.RegisterActivity(w.RevokeVisitor)
	env.RegisterActivity(w.RecordProblem)
	env.RegisterActivity(w.CheckUserHold)
	env.SetOnTimerFiredListener(func(string) { w.counts.add("timerFired") })
	env.SetOnTimerCanceledListener(func(string) { w.counts.add("timerCanceled") })
	env.SetOnActivityCompletedListener(func(*activity.Info, converter.EncodedValue, error) {
		w.counts.add("activityDone")
	})
	w.env = env
	return env
}

// after runs f at start+d of virtual time (the environment's start).
func (w *world) after(d time.Duration, f func()) { w.env.RegisterDelayedCallback(f, d) }

// afterAt runs f at the absolute virtual instant t (for environments started at t0).
func (w *world) afterAt(t time.Time, f func()) { w.after(t.Sub(t0), f) }

func (w *world) now() time.Time { return w.env.Now().UTC() }

// setEnt changes the Nexudus record behind an entitlement.
func (w *world) setEnt(e access.Entitlement) {
	w.mu.Lock()
	defer w.mu.Unlock()
	e.LocationID, e.CoworkerID = cmp(e.LocationID, locID), cmp(e.CoworkerID, coworkerID)
	w.ents[e.Ref] = e
}

func cmp(v, def int64) int64 {
	if v == 0 {
		return def
	}
	return v
}

func (w *world) edit(ref access.Ref, f func(*access.Entitlement)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	e := w.ents[ref]
	f(&e)
	w.ents[ref] = e
}

func (w *world) readCount(ref access.Ref) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.reads[ref]
}

// ---- Nexudus and configuration ----

func (w *world) LoadEntitlement(_ context.Context, ref access.Ref) (access.Entitlement, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.reads[ref]++
	e, ok := w.ents[ref]
	if !ok {
		return access.Entitlement{Ref: ref, Status: access.StatusDeleted}, nil
	}
	return e, nil
}

func (w *world) LoadLocation(_ context.Context, id int64) (access.Location, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	loc, ok := w.locations[id]
	if !ok {
		return access.Location{}, access.NewFinalError(access.ErrConfig, fmt.Sprintf("location %d unknown", id), nil)
	}
	return loc, nil
}

func (w *world) RecordProblem(_ context.Context, p access.Problem) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.problems = append(w.problems, p)
	return nil
}

func (w *world) SignalCustomer(_ context.Context, s access.CustomerSignal) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.sent = append(w.sent, sentSignal{At: w.now(), Sig: s})
	return nil
}

func (w *world) signals() []sentSignal {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.sent)
}

// ---- Salto ----

func (w *world) call(op, group, user string) {
	w.calls = append(w.calls, saltoCall{At: w.now(), Op: op, Group: group, User: user})
}

// fail returns a retryable error while op has scripted failures left.
func (w *world) fail(op string) error {
	if w.transient[op] == 0 {
		return nil
	}
	w.transient[op]--
	if d := w.retryAfter[op]; d > 0 {
		return temporal.NewApplicationErrorWithOptions("429 too many requests", "SaltoThrottled",
			temporal.ApplicationErrorOptions{NextRetryDelay: d})
	}
	return temporal.NewApplicationError("503 unavailable", "SaltoUnavailable")
}

func (w *world) newUser(email, tag string, guest bool) *saltoUser {
	w.nextID++
	u := &saltoUser{SiteUserID: fmt.Sprintf("su-%d", w.nextID), PlatformID: fmt.Sprintf("pu-%d", w.nextID),
		Email: email, Tag: tag, Guest: guest}
	w.users[u.SiteUserID] = u
	return u
}

func (w *world) EnsureSaltoUser(_ context.Context, req access.EnsureUserRequest) (access.SaltoUser, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.coworkerRd++
	cw, ok := w.coworkers[req.Customer.CoworkerID]
	if !ok || cw.Email == "" {
		return access.SaltoUser{}, access.NewFinalError(access.ErrMissingEmail, "coworker has no email", nil)
	}
	var u *saltoUser
	if req.Known != nil {
		w.call("get", "", req.Known.SiteUserID)
		u = w.users[req.Known.SiteUserID]
	}
	if u == nil {
		w.call("find", "", cw.Email)
		for _, id := range workflow.DeterministicKeys(w.users) {
			if w.users[id].Email == cw.Email {
				u = w.users[id]
			}
		}
	}
	if u == nil && !req.Subscribe {
		return access.SaltoUser{}, nil
	}
	if u == nil {
		free := w.seatFree()
		u = w.newUser(cw.Email, cw.Card, false)
		u.Ours, u.Suspended = true, !free
		w.call("create", "", u.SiteUserID)
	}
	if u.Tag != cw.Card {
		u.Tag = cw.Card
		w.call("tag", "", u.SiteUserID)
	}
	if u.Suspended && req.Subscribe {
		u.Suspended = !w.seatFree()
		w.call("subscribe", "", u.SiteUserID)
	}
	return access.SaltoUser{SiteID: req.SiteID, SiteUserID: u.SiteUserID, PlatformUserID: u.PlatformID,
		Suspended: u.Suspended, Created: u.Ours}, nil
}

// seatFree says whether a user could be subscribed now: subscribed non-guest users hold the seats.
func (w *world) seatFree() bool {
	used := 0
	for _, u := range w.users {
		if !u.Guest && !u.Suspended {
			used++
		}
	}
	return w.seats <= 0 || used < w.seats
}

func (w *world) AddToGroup(_ context.Context, c access.GroupChange) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.fail("add"); err != nil {
		w.call("add-failed", c.GroupID, c.PlatformUserID)
		return err
	}
	if err := w.failAdd[c.GroupID]; err != nil {
		w.call("add-failed", c.GroupID, c.PlatformUserID)
		return err
	}
	w.call("add", c.GroupID, c.PlatformUserID)
	if w.members[c.GroupID] == nil {
		w.members[c.GroupID] = map[string]bool{}
	}
	w.members[c.GroupID][c.PlatformUserID] = true
	return nil
}

func (w *world) RemoveFromGroup(_ context.Context, c access.GroupChange) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.fail("remove"); err != nil {
		w.call("remove-failed", c.GroupID, c.PlatformUserID)
		return err
	}
	w.call("remove", c.GroupID, c.PlatformUserID)
	delete(w.members[c.GroupID], c.PlatformUserID)
	return nil
}

func (w *world) SetSubscription(_ context.Context, c access.SubscriptionChange) (access.SaltoUser, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	u := w.users[c.SiteUserID]
	if u == nil {
		return access.SaltoUser{}, access.NewFinalError(access.ErrSaltoNotFound, "user not found", nil)
	}
	op := "subscribe"
	if c.Suspended {
		op = "suspend"
		u.Suspended = true
	} else if u.Suspended && w.seatFree() {
		u.Suspended = false
	}
	w.call(op, "", c.SiteUserID)
	return access.SaltoUser{SiteID: c.SiteID, SiteUserID: u.SiteUserID, PlatformUserID: u.PlatformID,
		Suspended: u.Suspended, Created: u.Ours}, nil
}

// CheckUserHold reports the groups outside Owned the user is in.
func (w *world) CheckUserHold(_ context.Context, r access.HoldRequest) (access.UserHold, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.holdChecks++
	u := w.users[r.SiteUserID]
	switch {
	case u == nil:
		return access.UserHold{Gone: true}, nil
	case u.Ours:
		return access.UserHold{Ours: true}, nil
	}
	var hold access.UserHold
	for _, g := range workflow.DeterministicKeys(w.members) {
		if w.members[g][u.PlatformID] && !slices.Contains(r.Owned, g) {
			hold.Foreign = append(hold.Foreign, g+" ("+g+")")
		}
	}
	return hold, nil
}

func (w *world) DeleteSaltoUser(_ context.Context, r access.DeleteUserRequest) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.call("delete", "", r.SiteUserID)
	if u := w.users[r.SiteUserID]; u != nil {
		for _, m := range w.members {
			delete(m, u.PlatformID)
		}
	}
	delete(w.users, r.SiteUserID)
	return nil
}

func (w *world) GrantVisitor(_ context.Context, g access.VisitorGrant) (access.VisitorAccess, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var u *saltoUser
	if g.Existing != nil {
		u = w.users[g.Existing.SiteUserID]
	}
	if u == nil {
		u = w.newUser(g.Email, "", g.Email == "")
		w.call("guest", g.GroupID, u.SiteUserID)
		if g.PIN {
			// Salto generates the PIN; it goes straight to the Nexudus visitor record.
			w.visitorPINs[g.Visitor.ID] = fmt.Sprintf("%06d", 731900+w.nextID)
			w.call("pin", "", u.SiteUserID)
		}
		if w.members[g.GroupID] == nil {
			w.members[g.GroupID] = map[string]bool{}
		}
		w.members[g.GroupID][u.PlatformID] = true
	}
	u.ValidUntil = g.ValidUntil
	return access.VisitorAccess{SiteID: g.SiteID, SiteUserID: u.SiteUserID, PlatformUserID: u.PlatformID,
		PINIssued: g.PIN, ValidUntil: g.ValidUntil}, nil
}

func (w *world) RevokeVisitor(_ context.Context, r access.VisitorRevoke) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.call("revoke-guest", r.GroupID, r.Access.SiteUserID)
	delete(w.members[r.GroupID], r.Access.PlatformUserID)
	delete(w.users, r.Access.SiteUserID)
	return nil
}

// ---- observations ----

// callsOf returns the Salto calls of the given operations.
func (w *world) callsOf(ops ...string) []saltoCall {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []saltoCall
	for _, c := range w.calls {
		if len(ops) == 0 || slices.Contains(ops, c.Op) {
			out = append(out, c)
		}
	}
	return out
}

func (w *world) isMember(group, platformID string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.members[group][platformID]
}

func (w *world) userByEmail(email string) *saltoUser {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, id := range workflow.DeterministicKeys(w.users) {
		if w.users[id].Email == email {
			u := *w.users[id]
			return &u
		}
	}
	return nil
}

func (w *world) problemList() []access.Problem {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.problems)
}

// addUser puts an existing user in the fake Salto (the customer already has one).
func (w *world) addUser(email, tag string) *saltoUser {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.newUser(email, tag, false)
}

func queryEntitlement(t *testing.T, env *testsuite.TestWorkflowEnvironment) access.EntitlementState {
	t.Helper()
	v, err := env.QueryWorkflow(access.QueryEntitlement)
	if err != nil {
		t.Fatalf("query: %v", err)
	}
	var st access.EntitlementState
	if err := v.Get(&st); err != nil {
		t.Fatalf("query result: %v", err)
	}
	return st
}

func queryCustomer(t *testing.T, env *testsuite.TestWorkflowEnvironment) access.CustomerState {
	t.Helper()
	v, err := env.QueryWorkflow(access.QueryCustomer)
	if err != nil {
		t.Fatalf("query: %v", err)
	}
	var st access.CustomerState
	if err := v.Get(&st); err != nil {
		t.Fatalf("query result: %v", err)
	}
	return st
}

func actions(h []access.Change) []access.Action {
	out := make([]access.Action, len(h))
	for i, c := range h {
		out[i] = c.Action
	}
	return out
}

func asJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

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

type (
	activityInfo = activity.Info
	ctxT         = context.Context
)

// continuedInput is the input a customer run that ended in Continue-As-New hands to the next run.
func continuedInput(t *testing.T, w *world) access.CustomerInput {
	t.Helper()
	var can *workflow.ContinueAsNewError
	if err := w.env.GetWorkflowError(); !errors.As(err, &can) {
		t.Fatalf("want Continue-As-New, got %v", err)
	}
	var next access.CustomerInput
	if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &next); err != nil {
		t.Fatal(err)
	}
	return next
}
