package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/nexsalto/nexsalto/access"
	nexudussim "github.com/nexsalto/nexsalto/simulators/nexudus"
)

// checkCodec asserts what the dev stack promises about payloads: a key file of its own (0600), the demo
// visitor's name and e-mail nowhere in what Temporal stores, and the embedded Web UI configured with the codec
// server, which decrypts a stored payload for the UI's origin with the token of the endpoint's path.
func checkCodec(t *testing.T, s *Stack) {
	t.Helper()
	ctx := context.Background()
	dir := filepath.Dir(s.Config.Temporal.Encryption.KeysFile)
	for _, f := range []string{keysFileName, tokenFileName} {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v, want mode 0600", f, st, err)
		}
	}
	token, _ := os.ReadFile(filepath.Join(dir, tokenFileName))
	endpoint := s.CodecURL + "/" + string(token)

	resp, err := http.Get(s.Temporal.UIURL() + "/api/v1/settings")
	if err != nil {
		t.Fatal(err)
	}
	var settings struct{ Codec struct{ Endpoint string } }
	err = json.NewDecoder(resp.Body).Decode(&settings)
	_ = resp.Body.Close()
	if err != nil || settings.Codec.Endpoint != endpoint {
		t.Fatalf("the Web UI's codec endpoint is %q (%v), want the codec server's", settings.Codec.Endpoint, err)
	}

	var visitor nexudussim.Visitor
	for id := 1; id < 10; id++ {
		if v, ok := s.Nexudus.Visitor(id); ok && v.FullName == "Frank Visser" {
			visitor = v
		}
	}
	id := access.Ref{Kind: access.KindVisitor, ID: int64(visitor.Id)}.WorkflowID()
	plain, err := s.Temporal.NewClient(ctx, client.Options{}) // no codec: what the server stores
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	var events []*historypb.HistoryEvent
	waitFor(t, "the demo visitor's workflow read the visitor", 60*time.Second, func() bool {
		events = events[:0]
		it := plain.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				return false
			}
			events = append(events, ev)
		}
		return len(events) > 5
	})
	raw, _ := protojson.Marshal(&historypb.History{Events: events})
	for _, personal := range []string{visitor.FullName, visitor.Email} {
		if strings.Contains(string(raw), personal) {
			t.Errorf("%q stored in clear in %s's history", personal, id)
		}
	}
	input, _ := protojson.Marshal(events[0].GetWorkflowExecutionStartedEventAttributes().GetInput())
	req, _ := http.NewRequest(http.MethodPost, endpoint+"/decode?preserveStorageRefs=true", strings.NewReader(string(input)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Namespace", s.Config.Temporal.Namespace)
	req.Header.Set("Origin", s.Temporal.UIURL())
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Access-Control-Allow-Origin") != s.Temporal.UIURL() {
		t.Fatalf("decode for the Web UI: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	var decoded commonpb.Payloads
	var in access.EntitlementInput
	if err := protojson.Unmarshal(body, &decoded); err != nil ||
		converter.GetDefaultDataConverter().FromPayloads(&decoded, &in) != nil || in.Ref.WorkflowID() != id {
		t.Fatalf("decoded input %s: %+v, %v", body, in, err)
	}
}
