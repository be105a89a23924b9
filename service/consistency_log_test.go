package service_test

import (
	"bufio"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/nexsalto/nexsalto/config"
	"github.com/nexsalto/nexsalto/internal/logbuf"
	"github.com/nexsalto/nexsalto/nexudus"
)

// Salto's expected 404 2202 in its consistency window right after a user is created is retried without an
// ERROR line (the SDK logs benign failures at DEBUG), and one WARN says what is happening; the customer is
// granted all the same.
func TestConsistencyWindowLogsNoError(t *testing.T) {
	var logs logbuf.Buffer
	e := newEnv(t, envOptions{lead: time.Second, lag: time.Second, policy: config.PolicyKeep, noSync: true,
		saltoConsistency: 2 * time.Second, logTo: &logs})
	now := time.Now()
	if _, err := e.nx.CreateBooking(e.ctx, nexudus.Booking{ResourceId: roomID, CoworkerId: 100, FromTime: at(now), ToTime: at(now.Add(time.Hour))}); err != nil {
		t.Fatal(err)
	}
	e.eventually("ana granted after the consistency window", 30*time.Second, func() bool { return e.inGroup(ana, gRoom) })
	warned := false
	sc := bufio.NewScanner(strings.NewReader(logs.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var rec map[string]any
		if json.Unmarshal(sc.Bytes(), &rec) != nil {
			continue
		}
		line := sc.Text()
		if rec["level"] == "ERROR" && (strings.Contains(line, "2202") || strings.Contains(line, "not found") ||
			strings.Contains(line, "consistency")) {
			t.Errorf("expected consistency-window retry logged at ERROR: %s", line)
		}
		if rec["level"] == "WARN" && strings.Contains(line, "consistency window") && rec["Attempt"] != nil {
			warned = true
		}
	}
	if !warned {
		t.Error("no WARN line, with the attempt, says it was Salto's consistency window")
	}
}
