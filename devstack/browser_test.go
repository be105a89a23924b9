package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	enumspb "go.temporal.io/api/enums/v1"
	sdkpb "go.temporal.io/api/sdk/v1"
	"go.temporal.io/sdk/client"

	"github.com/nexsalto/nexsalto/access"
	"github.com/nexsalto/nexsalto/codec"
)

// requireBrowserEnv turns a missing Chromium from a skip into a failure: CI sets it, so that the browser test
// cannot silently stop running there.
const requireBrowserEnv = "NEXSALTO_REQUIRE_BROWSER"

// visitorName is the demo's first Nexudus visitor, whose workflow is visitor-1.
const visitorName = "Frank Visser"

// workflowMetadataQuery is the SDK's built-in query of a workflow's current details (not exported by the SDK).
const workflowMetadataQuery = "__temporal_workflow_metadata"

var (
	// decodedInput is how the UI shows visitor-1's decoded input (access.EntitlementInput as JSON).
	decodedInput = regexp.MustCompile(`"Kind":\s*"visitor"`)
	// detailsFetched: the user metadata tab prints when it fetched the current details (the query, then its decoding).
	detailsFetched = regexp.MustCompile(`for freshness\s+[^\n]*\d{4}`)
)

// The Web UI as a person sees it, in headless Chromium: the demo visitor's workflow, found in the workflow list,
// shows its input and the visitor's name decrypted through the codec server the stack configures; the same page
// in a browser whose codec endpoint carries a wrong token gets 401 from the codec server, shows the input as the
// ciphertext Temporal stores, and never the name.
func TestWebUIShowsDecodedPayloadsOnlyWithTheCodecToken(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole dev stack and a browser")
	}
	chromium := chromiumPath()
	if chromium == "" {
		if os.Getenv(requireBrowserEnv) != "" {
			t.Fatalf("%s is set but there is no Chromium (/usr/bin/chromium or chromium in PATH)", requireBrowserEnv)
		}
		t.Skipf("no Chromium (/usr/bin/chromium or chromium in PATH); install it (Debian: apt-get install chromium), or set %s=1 to fail instead", requireBrowserEnv)
	}
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Start(ctx, Options{DataDir: dir, IP: "127.0.0.1", Lead: 10 * time.Minute, Lag: time.Minute, Demo: true,
		LogLevel: "error"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop() })
	if v, ok := s.Nexudus.Visitor(1); !ok || v.FullName != visitorName {
		t.Fatalf("the demo's visitor 1 is %+v, want %s", v, visitorName)
	}
	id := access.Ref{Kind: access.KindVisitor, ID: 1}.WorkflowID()
	// The UI reads a workflow's current details once per page (press R to refresh): wait until the workflow
	// has read the visitor from Nexudus and shows their name there.
	waitFor(t, "the demo visitor's workflow to name the visitor in its details", 60*time.Second, func() bool {
		v, err := s.Client.QueryWorkflow(ctx, id, "", workflowMetadataQuery)
		var md sdkpb.WorkflowMetadata
		return err == nil && v.Get(&md) == nil && strings.Contains(md.GetCurrentDetails(), visitorName)
	})
	stored := storedInput(t, s, id)
	token, err := os.ReadFile(filepath.Join(dir, tokenFileName))
	if err != nil {
		t.Fatal(err)
	}
	endpoint := s.CodecURL + "/" + string(token)
	wrong := s.CodecURL + "/" + strings.Repeat("0", len(token))
	ui := s.Temporal.UIURL()
	b := newBrowser(t, chromium)

	// With the stack's configuration: find the workflow in the list, open it, read the decrypted input, then the
	// current details (markdown with the visitor's name).
	good := b.tab(t, "with-token")
	goodCalls := decodeCalls(t, good, endpoint)
	good.do(t, "open the workflow list", chromedp.Navigate(ui+"/namespaces/default/workflows"))
	good.waitForText(t, "1-list", id, func(text string) bool { return strings.Contains(text, id) })
	good.do(t, "open "+id, chromedp.Click(chromedp.CSS(`a[href*="/workflows/`+id+`/"]`)))
	text := good.waitForText(t, "2-input", "the decoded input", decodedInput.MatchString)
	if strings.Contains(text, stored) {
		t.Errorf("with the codec token the page still shows the stored ciphertext:\n%s", text)
	}
	good.do(t, "open the user metadata", chromedp.Click(chromedp.CSS(`a[href$="/user-metadata"]`)))
	good.waitForText(t, "3-user-metadata", visitorName, func(text string) bool { return strings.Contains(text, visitorName) })
	if loc, _ := chromedp.Run(good, chromedp.Location()); !strings.Contains(loc, "/workflows/"+id+"/") {
		t.Errorf("the workflow list led to %s, not to %s", loc, id)
	}
	if st := goodCalls(); !slices.Contains(st, 200) || slices.ContainsFunc(st, func(c int64) bool { return c != 200 }) {
		t.Errorf("the codec server answered the UI's decode calls with %v, want only 200", st)
	}

	// The same pages in a browser context of their own (its own localStorage) whose codec endpoint, set as a user
	// would in the UI's codec settings, has a wrong token: the codec server refuses, the UI shows what is stored.
	bad := b.tab(t, "wrong-token", chromedp.WithNewBrowserContext())
	badCalls, configuredCalls := decodeCalls(t, bad, wrong), decodeCalls(t, bad, endpoint)
	bad.do(t, "override the codec endpoint", overrideCodecEndpoint(wrong))
	bad.do(t, "open "+id, chromedp.Navigate(ui+"/namespaces/default/workflows/"+id))
	text = bad.waitForText(t, "2-input", "the stored ciphertext after a 401", func(text string) bool {
		return strings.Contains(text, stored) && slices.Contains(badCalls(), 401)
	})
	if strings.Contains(text, visitorName) || decodedInput.MatchString(text) {
		t.Errorf("the page shows decrypted data without the codec token:\n%s", text)
	}
	refused := len(badCalls())
	bad.do(t, "open the user metadata", chromedp.Click(chromedp.CSS(`a[href$="/user-metadata"]`)))
	text = bad.waitForText(t, "3-user-metadata", "the current details fetched, after another 401", func(text string) bool {
		return detailsFetched.MatchString(text) && len(badCalls()) > refused
	})
	if strings.Contains(text, visitorName) {
		t.Errorf("the current details show %s without the codec token:\n%s", visitorName, text)
	}
	if st := badCalls(); slices.ContainsFunc(st, func(c int64) bool { return c != 401 }) {
		t.Errorf("the codec server answered the wrong token with %v, want only 401", st)
	}
	if st := configuredCalls(); len(st) > 0 {
		t.Errorf("the UI called the configured endpoint despite the user's: %v", st)
	}
}

// storedInput is the workflow's input as the Temporal service stores it: the data of its encrypted payload,
// base64 as the UI shows a payload that it cannot decode.
func storedInput(t *testing.T, s *Stack, id string) string {
	t.Helper()
	ctx := context.Background()
	plain, err := s.Temporal.NewClient(ctx, client.Options{}) // no codec
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	ev, err := plain.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT).Next()
	if err != nil {
		t.Fatal(err)
	}
	p := ev.GetWorkflowExecutionStartedEventAttributes().GetInput().GetPayloads()
	if len(p) != 1 || string(p[0].GetMetadata()["encoding"]) != codec.EncodingEncrypted {
		t.Fatalf("%s's stored input: %v", id, p)
	}
	return base64.StdEncoding.EncodeToString(p[0].GetData())
}

// chromiumPath is Debian's Chromium, or a chromium in PATH; "" when there is none.
func chromiumPath() string {
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	p, _ := exec.LookPath("chromium")
	return p
}

// browser is one headless Chromium and the screenshots of its tabs.
type browser struct {
	ctx  context.Context
	mu   sync.Mutex
	pngs map[string][]byte // by <tab>-<step>
}

// tab is one page of the browser.
type tab struct {
	context.Context
	b    *browser
	name string
}

func newBrowser(t *testing.T, chromium string) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium), chromedp.DisableGPU, chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1440, 1000),
		// Chromium calls Google's services otherwise: no test should, and this network is closed.
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-sync", true),
	)
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // Chromium's sandbox refuses to run as root
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	b := &browser{ctx: ctx, pngs: map[string][]byte{}}
	// Registered before the browser's cleanup, so it runs after it: the screenshots are taken by then.
	t.Cleanup(func() { b.save(t) })
	t.Cleanup(func() { cancel(); cancelAlloc() }) // waits for the process, before TempDir removes its profile
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v", chromium, err)
	}
	return b
}

// tab opens a tab; its screenshots are saved as name-<step>.png.
func (b *browser) tab(t *testing.T, name string, opts ...chromedp.ContextOption) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx, opts...)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	return &tab{Context: ctx, b: b, name: name}
}

// do runs the actions with a time limit, keeping a screenshot when they fail.
func (p *tab) do(t *testing.T, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(p, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		p.screenshot("failed")
		t.Fatalf("%s: %s: %v", p.name, what, err)
	}
}

// pageText is the visible text of the page and of its same-origin frames: the UI renders markdown, such as a
// workflow's current details, in iframes of its own /render.
const pageText = `(() => {
	const texts = [];
	const walk = (d) => {
		if (!d || !d.body) return;
		texts.push(d.body.innerText);
		for (const f of d.querySelectorAll("iframe")) { try { walk(f.contentDocument); } catch (e) {} }
	};
	walk(document);
	return texts.join("\n");
})()`

// waitForText polls the page's visible text until ok accepts it (the UI renders as its API calls come back),
// keeps a full-page screenshot of what it showed, and returns the text.
func (p *tab) waitForText(t *testing.T, step, what string, ok func(string) bool) string {
	t.Helper()
	var text string
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(250 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(p, 10*time.Second)
		text, _ = chromedp.Run(ctx, chromedp.Evaluate[string](pageText))
		cancel()
		if ok(text) || time.Now().After(deadline) {
			break
		}
	}
	p.screenshot(step)
	if !ok(text) {
		t.Fatalf("%s, %s: the page never showed %s; it shows:\n%.4000s", p.name, step, what, text)
	}
	return text
}

// screenshot keeps a full-page screenshot (PNG) of the tab, in memory until save.
func (p *tab) screenshot(step string) {
	ctx, cancel := context.WithTimeout(p, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		return
	}
	p.b.mu.Lock()
	p.b.pngs[p.name+"-"+step] = png
	p.b.mu.Unlock()
}

// save writes the screenshots when the test failed, or always under go test -artifacts.
func (b *browser) save(t *testing.T) {
	artifacts := flag.Lookup("test.artifacts")
	keep := artifacts != nil && artifacts.Value.String() == "true"
	if len(b.pngs) == 0 || !t.Failed() && !keep {
		return
	}
	// ArtifactDir is removed after the test unless -artifacts is given: a failure's screenshots must outlive it.
	dir := filepath.Join(os.TempDir(), strings.NewReplacer("/", "_", "\\", "_").Replace(t.Name()))
	if keep {
		dir = t.ArtifactDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Errorf("screenshots: %v", err)
		return
	}
	for name, png := range b.pngs {
		if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
			t.Errorf("screenshot: %v", err)
		}
	}
	t.Logf("screenshots of the browser's pages: %s", dir)
}

// decodeCalls records the statuses of the page's calls to endpoint's /decode (the CORS preflights aside).
func decodeCalls(t *testing.T, ctx context.Context, endpoint string) func() []int64 {
	t.Helper()
	var mu sync.Mutex
	var statuses []int64
	err := chromedp.Listen(ctx, func(ev any) {
		if r, ok := ev.(*network.EventResponseReceived); ok && r.Type != network.ResourceTypePreflight &&
			strings.HasPrefix(r.Response.URL, endpoint+"/decode") {
			mu.Lock()
			statuses = append(statuses, r.Response.Status)
			mu.Unlock()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return func() []int64 {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(statuses)
	}
}

// overrideCodecEndpoint sets, before the UI's scripts run, what its codec settings dialog stores in
// localStorage: an endpoint of the user's that takes the place of the server-configured one (persisted as JSON).
func overrideCodecEndpoint(endpoint string) chromedp.Action[chromedp.Void] {
	quoted, _ := json.Marshal(endpoint) // a JavaScript string literal
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
			Source: `localStorage.setItem("endpoint", JSON.stringify(` + string(quoted) + `));
localStorage.setItem("overrideRemoteCodecConfiguration", "true");`,
		})
		return err
	})
}
