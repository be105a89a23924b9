package nexudus

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// Webhook bodies come from the network: whatever the bytes, ParseWebhook answers a record or an error, never a
// panic, and a record it accepts is valid UTF-8 and names the entity it is about by an id within Nexudus' range
// (or, for an access-control update, possibly none).
func FuzzParseWebhook(f *testing.F) {
	f.Add(uint8(0), []byte(`[{"Id":7,"CoworkerId":100,"ResourceId":10,"FromTime":"2026-12-01T10:00:00Z"}]`))
	f.Add(uint8(1), []byte(`[{"Id":1,"Email":"josé@example.com","FullName":"José Müller 😀"}]`))
	f.Add(uint8(2), []byte(`{"Id":3}`))
	f.Add(uint8(3), []byte(`[]`))
	f.Add(uint8(4), []byte(`[{"Id":"x"}]`))
	f.Add(uint8(5), []byte(`[{"Id":5},{"Id":6}]`))
	f.Add(uint8(6), []byte("\x00\xff["))
	f.Add(uint8(1), []byte("[{\"Id\":1,\"FullName\":\"Jos\xe9\"}]"))
	f.Add(uint8(3), []byte(`[{"id":7,"ResourceId":10}]`))
	f.Add(uint8(3), []byte(`[{"Id":2147483648,"ResourceId":10}]`))
	all := Actions()
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		action := all[int(which)%len(all)]
		rec, err := ParseWebhook(action, body)
		if err != nil {
			return
		}
		// An "Access control updated" body may name no record (it is then ignored); every other one names its
		// entity.
		if rec.Id <= 0 && rec.Kind != KindAccessControl {
			t.Errorf("accepted a record without an id: %v from %q", rec, body)
		}
		if rec.Action != action {
			t.Errorf("record of action %s parsed as %s", action, rec.Action)
		}
		if !utf8.Valid(body) {
			t.Errorf("accepted a body that is not UTF-8: %q", body)
		}
		for _, id := range []int{rec.Id, rec.CoworkerId, rec.BusinessId} {
			if id < 0 || id > MaxID {
				t.Errorf("accepted an id outside 0..%d: %v from %q", MaxID, rec, body)
			}
		}
	})
}

// Whatever the secret, body and header, VerifySignature answers without a panic; the documented signature of
// a body always verifies, and a changed one never does.
func FuzzVerifySignature(f *testing.F) {
	f.Add([]byte("secret"), []byte(`[{"Id":1}]`), "")
	f.Add([]byte("clé"), []byte(`[{"FullName":"José €"}]`), "00")
	f.Add([]byte{}, []byte("x"), "ZZ")
	f.Fuzz(func(t *testing.T, secret, body []byte, header string) {
		_ = VerifySignature(secret, body, header)
		if len(secret) == 0 {
			return
		}
		good := Sign(secret, body)
		if err := VerifySignature(secret, body, good); err != nil {
			t.Fatalf("the documented signature does not verify: %v", err)
		}
		// As the receiver reads it: in pieces, here of 1 to 7 bytes.
		v, size := NewVerifier(secret), len(header)%7+1
		for i := 0; i < len(body); i += size {
			_, _ = v.Write(body[i:min(i+size, len(body))])
		}
		if err := v.Verify(good); err != nil {
			t.Fatalf("the documented signature does not verify in pieces of %d bytes: %v", size, err)
		}
		if err := VerifySignature(secret, body, strings.ToLower(good)); err != nil {
			t.Fatalf("a lower-case signature does not verify: %v", err)
		}
		bad := []byte(good)
		bad[0] = map[bool]byte{true: '1', false: '0'}[bad[0] == '0']
		if string(bad) != SignRawUTF8(secret, body) && VerifySignature(secret, body, string(bad)) == nil {
			t.Fatalf("a changed signature verifies")
		}
	})
}
