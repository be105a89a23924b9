package service_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/proxy"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/nexsalto/nexsalto/access"
	"github.com/nexsalto/nexsalto/codec"
	"github.com/nexsalto/nexsalto/config"
	"github.com/nexsalto/nexsalto/nexudus"
	"github.com/nexsalto/nexsalto/workflows"
)

// What the Temporal service stores holds nothing personal in clear: a visitor (name, e-mail, the PIN the grant
// issued) and their host, a customer with an e-mail and an access card, go through their workflows; the raw
// histories, read with a client that has no keys, hold none of it in any payload, failure or other field,
// while the codec decodes every payload and the keyed client queries the state as usual. Then the key rotates:
// a replayer with [new key, old key] replays those histories, one without the old key cannot.
func TestNothingPersonalStoredInClear(t *testing.T) {
	e := newEnv(t, envOptions{lead: time.Second, lag: time.Second, policy: config.PolicyKeep})
	const name, email = "Vera Visitor", "vera.visitor@example.com"
	vid, err := e.nx.CreateVisitor(e.ctx, nexudus.Visitor{BusinessId: business, FullName: name, Email: email,
		CoworkerId: 100, ExpectedArrival: at(time.Now().Add(-time.Minute))})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now().Add(2 * time.Second).Truncate(time.Second)
	bid, err := e.nx.CreateBooking(e.ctx, nexudus.Booking{ResourceId: roomID, CoworkerId: 100, FromTime: at(start),
		ToTime: at(start.Add(time.Hour))})
	if err != nil {
		t.Fatal(err)
	}
	var pin string
	e.eventually("the visitor's PIN issued and written to Nexudus", 15*time.Second, func() bool {
		v, ok := e.nexsim.Visitor(vid)
		for _, m := range e.salto.GroupMembers(site, gVisitors) {
			for _, u := range e.salto.Users(site) {
				if u.User.ID == m {
					pin = e.salto.UserPIN(site, u.ID)
				}
			}
		}
		return ok && pin != "" && string(v.VisitorCode) == pin
	})
	e.eventually("ana granted the room", 15*time.Second, func() bool { return e.inGroup(ana, gRoom) })

	visitorID := access.Ref{Kind: access.KindVisitor, ID: int64(vid)}.WorkflowID()
	ids := []string{visitorID, access.Ref{Kind: access.KindBooking, ID: int64(bid)}.WorkflowID(),
		access.CustomerKey{LocationID: business, CoworkerID: 100}.WorkflowID()}
	plain, err := e.server.NewClient(e.ctx, client.Options{}) // no keys: what the server holds
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	personal := []string{name, email, ana, "Ana Lopez"}
	var decodedText strings.Builder
	histories := map[string]*historypb.History{}
	for _, id := range ids {
		h := rawHistory(t, plain, id)
		histories[id] = h
		raw, _ := protojson.Marshal(h)
		for _, p := range personal { // text with '@' or a space cannot occur in base64 ciphertext
			if strings.Contains(string(raw), p) {
				t.Errorf("%s: %q stored in clear", id, p)
			}
		}
		clear, visible := clearPayloads(t, h)
		if clear > 0 {
			t.Errorf("%s: %d payloads stored without encryption", id, clear)
		}
		// Short secrets (a 6-digit PIN, the access card A100) are searched where they could stand in clear:
		// everything but the ciphertexts, in which such strings occur by chance.
		for _, s := range []string{pin, "A100"} {
			if strings.Contains(visible, s) {
				t.Errorf("%s: %q stored in clear", id, s)
			}
		}
		decodedText.WriteString(decodedHistory(t, e.codec, h))
	}
	// The data is really there, for whoever has the keys: the visitor's name and e-mail. (The PIN, and the
	// customer's e-mail and card, which activities read from Nexudus, are in no history, encrypted or not.)
	for _, want := range []string{name, email} {
		if !strings.Contains(decodedText.String(), want) {
			t.Errorf("%q not in the decoded histories", want)
		}
	}
	for _, absent := range []string{`"` + pin + `"`, `\"` + pin + `\"`, ana, `"A100"`} {
		if strings.Contains(decodedText.String(), absent) {
			t.Errorf("%s is in a decoded history", absent)
		}
	}
	var st access.EntitlementState
	if v, err := e.tc.QueryWorkflow(e.ctx, visitorID, "", access.QueryEntitlement); err != nil || v.Get(&st) != nil ||
		st.Entitlement == nil || st.Entitlement.Visitor == nil || st.Entitlement.Visitor.Name != name {
		t.Errorf("query with the keys: %+v, %v", st, err)
	}
	if v, err := plain.QueryWorkflow(e.ctx, visitorID, "", access.QueryEntitlement); err == nil && v.Get(&st) == nil {
		t.Error("a client without the keys read the visitor's state")
	}

	// The worker's codec server, on a listener of its own, decodes what the Web UI shows: the visitor's input.
	const token = "e2e-codec-token-0123456789"
	e.restartWorker(func(c *config.Config) {
		c.Codec = config.Codec{Listen: "127.0.0.1:0", Token: token, Origins: []string{"http://127.0.0.1:8233"}}
	})
	input, _ := protojson.Marshal(histories[visitorID].Events[0].GetWorkflowExecutionStartedEventAttributes().GetInput())
	for auth, want := range map[string]int{"": http.StatusUnauthorized, "Bearer " + token: http.StatusOK} {
		req, _ := http.NewRequest(http.MethodPost, e.worker.CodecURL()+"/decode", bytes.NewReader(input))
		req.Header.Set("Content-Type", "application/json")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		var ps commonpb.Payloads
		var in access.EntitlementInput
		if resp.StatusCode != want {
			t.Errorf("codec server, Authorization %q: %d %s", auth, resp.StatusCode, body)
		} else if want == http.StatusOK && (protojson.Unmarshal(body, &ps) != nil ||
			converter.GetDefaultDataConverter().FromPayloads(&ps, &in) != nil || in.Ref.WorkflowID() != visitorID) {
			t.Errorf("codec server decoded %s", body)
		}
	}

	// Rotation: key 2 becomes active, key 1 stays to decrypt what it wrote.
	old, err := codec.LoadKeys(e.cfg.Temporal.Encryption.KeysFile, "")
	if err != nil {
		t.Fatal(err)
	}
	k2, _ := codec.GenerateKey("e2e-2")
	for _, id := range ids {
		if err := replay(t, []codec.Key{k2, old[0]}, histories[id]); err != nil {
			t.Errorf("%s with keys [2, 1]: %v", id, err)
		}
		if err := replay(t, []codec.Key{k2}, histories[id]); err == nil {
			t.Errorf("%s replayed without the key that wrote it", id)
		}
	}
}

// Histories recorded before encryption replay on a worker that encrypts: plain payloads pass the codec as they are.
func TestRecordedPlainHistoriesReplayWithEncryption(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "workflows", "testdata", "histories", "*.json"))
	if len(files) == 0 {
		t.Fatal("no recorded histories")
	}
	k, _ := codec.GenerateKey("k1")
	c, _ := codec.New([]codec.Key{k})
	dc := codec.DataConverter(c)
	r, err := worker.NewWorkflowReplayerWithOptions(worker.WorkflowReplayerOptions{DataConverter: dc,
		FailureConverter: codec.FailureConverter(dc)})
	if err != nil {
		t.Fatal(err)
	}
	workflows.Register(r)
	for _, f := range files {
		if err := r.ReplayWorkflowHistoryFromJSONFile(nil, f); err != nil {
			t.Errorf("%s: %v", filepath.Base(f), err)
		}
	}
}

func rawHistory(t *testing.T, c client.Client, id string) *historypb.History {
	t.Helper()
	h := &historypb.History{}
	it := c.GetWorkflowHistory(context.Background(), id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatalf("history of %s: %v", id, err)
		}
		h.Events = append(h.Events, ev)
	}
	if len(h.Events) == 0 {
		t.Fatalf("no history for %s", id)
	}
	return h
}

// clearPayloads counts the payloads of h that are not encrypted (search attributes aside: Temporal indexes
// them, so they hold ids only) and returns h as text with every ciphertext left out.
func clearPayloads(t *testing.T, h *historypb.History) (int, string) {
	t.Helper()
	stripped := proto.Clone(h).(*historypb.History)
	clear := 0
	err := proxy.VisitPayloads(context.Background(), stripped, proxy.VisitPayloadsOptions{SkipSearchAttributes: true,
		Visitor: func(_ *proxy.VisitPayloadsContext, ps []*commonpb.Payload) ([]*commonpb.Payload, error) {
			for _, p := range ps {
				if string(p.GetMetadata()[converter.MetadataEncoding]) == codec.EncodingEncrypted {
					p.Data = nil
				} else {
					clear++
					t.Logf("clear payload: %.120s", p.GetData())
				}
			}
			return ps, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	text, _ := protojson.Marshal(stripped)
	return clear, string(text)
}

// decodedHistory is h with every payload decoded by c, as text (payload data as JSON, not base64).
func decodedHistory(t *testing.T, c *codec.Codec, h *historypb.History) string {
	t.Helper()
	var b strings.Builder
	dec := proto.Clone(h).(*historypb.History)
	err := proxy.VisitPayloads(context.Background(), dec, proxy.VisitPayloadsOptions{SkipSearchAttributes: true,
		Visitor: func(_ *proxy.VisitPayloadsContext, ps []*commonpb.Payload) ([]*commonpb.Payload, error) {
			out, err := c.Decode(ps)
			for _, p := range out {
				b.Write(p.GetData())
				b.WriteByte('\n')
			}
			return out, err
		}})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func replay(t *testing.T, keys []codec.Key, h *historypb.History) error {
	t.Helper()
	c, err := codec.New(keys)
	if err != nil {
		t.Fatal(err)
	}
	dc := codec.DataConverter(c)
	r, err := worker.NewWorkflowReplayerWithOptions(worker.WorkflowReplayerOptions{DataConverter: dc,
		FailureConverter: codec.FailureConverter(dc)})
	if err != nil {
		t.Fatal(err)
	}
	workflows.Register(r)
	// Quiet: the replay that must fail would print its panic.
	return r.ReplayWorkflowHistory(sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)), h)
}
