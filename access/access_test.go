package access

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
)

func TestWorkflowIDs(t *testing.T) {
	for _, k := range Kinds {
		r := Ref{Kind: k, ID: 123}
		got, err := ParseRef(r.WorkflowID())
		if err != nil || got != r {
			t.Errorf("ParseRef(%q) = %v, %v", r.WorkflowID(), got, err)
		}
		if k.WorkflowType() == "" {
			t.Errorf("kind %s has no workflow type", k)
		}
	}
	if id := (Ref{Kind: KindBooking, ID: 7}).WorkflowID(); id != "booking-7" {
		t.Errorf("booking id %q", id)
	}
	if id := (CustomerKey{LocationID: 3, CoworkerID: 42}).WorkflowID(); id != "customer-3-42" {
		t.Errorf("customer id %q", id)
	}
	for _, bad := range []string{"", "booking", "booking-", "booking-x", "lease-1", "booking-0", "customer-3-42"} {
		if _, err := ParseRef(bad); err == nil {
			t.Errorf("ParseRef(%q) accepted", bad)
		}
	}
}

func TestIsFinal(t *testing.T) {
	final := NewFinalError(ErrSaltoValidation, "1101 alias too long", nil)
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"final", final, true},
		{"wrapped final", fmt.Errorf("add to group: %w", final), true},
		{"listed type, retryable flag", temporal.NewApplicationError("no seat", ErrSaltoNoSeat), true},
		{"other non-retryable", temporal.NewNonRetryableApplicationError("bad", "Whatever", nil), true},
		{"throttled", temporal.NewApplicationErrorWithOptions("429", "SaltoThrottled",
			temporal.ApplicationErrorOptions{NextRetryDelay: time.Minute}), false},
		{"plain", errors.New("connection reset"), false},
		{"cancelled", temporal.NewCanceledError(), false},
		{"nil", nil, false},
	} {
		if got := IsFinal(tc.err); got != tc.want {
			t.Errorf("%s: IsFinal = %v, want %v", tc.name, got, tc.want)
		}
	}
	if msg := FinalMessage(final); msg != "SaltoValidation: 1101 alias too long" {
		t.Errorf("FinalMessage %q", msg)
	}
	if msg := FinalMessage(errors.New("x")); msg != "" {
		t.Errorf("FinalMessage of a transient error %q", msg)
	}
}

// SQLite visibility allows 10 Keyword, 3 Datetime and 3 KeywordList custom attributes per namespace.
func TestSearchAttributesFitSQLite(t *testing.T) {
	n := map[enumspb.IndexedValueType]int{}
	for _, typ := range SearchAttributes {
		n[typ]++
	}
	if n[enumspb.INDEXED_VALUE_TYPE_KEYWORD] > 10 || n[enumspb.INDEXED_VALUE_TYPE_DATETIME] > 3 ||
		n[enumspb.INDEXED_VALUE_TYPE_KEYWORD_LIST] > 3 {
		t.Errorf("too many attributes: %v", n)
	}
	if len(SearchAttributes) != 8 {
		t.Errorf("%d attributes registered, want 8", len(SearchAttributes))
	}
}

func TestStateJSONRoundTrip(t *testing.T) {
	until := time.Date(2025, 11, 30, 10, 15, 0, 0, time.UTC)
	st := CustomerState{Customer: CustomerKey{1, 42}, State: StateActive,
		User:    &SaltoUser{SiteID: "s", SiteUserID: "su", PlatformUserID: "pu"},
		Ledger:  map[string]LedgerEntry{"booking-1": {Groups: []string{"a"}, Until: until, AsOf: until.Add(-time.Hour)}},
		Applied: []string{"a"}, Revoked: map[string]time.Time{"booking-0": until},
		History: []Change{{At: until, Action: ActionAdded, Groups: []string{"a"}}}}
	b, err := json.Marshal(CustomerInput{Customer: st.Customer, State: &st})
	if err != nil {
		t.Fatal(err)
	}
	var back CustomerInput
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if got := back.State.Ledger["booking-1"]; !got.Until.Equal(until) || got.Groups[0] != "a" ||
		back.State.User.PlatformUserID != "pu" || !back.State.Revoked["booking-0"].Equal(until) {
		t.Errorf("round trip lost data: %s", b)
	}
}

func TestCreatedAlias(t *testing.T) {
	a := CreatedAlias(" Ana Lopez ", 100)
	if a != "Ana Lopez (nexudus 100)" || !HasCreatedAlias(a, 100) {
		t.Fatalf("alias %q", a)
	}
	for _, tc := range []struct {
		alias string
		id    int64
		want  bool
	}{
		{"Ana L. (nexudus 100)", 100, true}, // renamed in Nexudus since
		{"(nexudus 100)", 100, true},
		{"Ana Lopez (nexudus 1100)", 100, false},
		{"Ana Lopez (nexudus 100)", 10, false},
		{"Ana Lopez", 100, false},
		{"Ana (visitor 100)", 100, false},
	} {
		if got := HasCreatedAlias(tc.alias, tc.id); got != tc.want {
			t.Errorf("HasCreatedAlias(%q, %d) = %v", tc.alias, tc.id, got)
		}
	}
}
