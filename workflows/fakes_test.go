package workflows

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/interceptor"
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
	// the DueSince and ServeBy of each successful group add
	dues, serveBys []time.Time
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
