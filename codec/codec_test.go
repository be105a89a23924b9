package codec

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
)

func key(t *testing.T, id string) Key {
	t.Helper()
	k, err := GenerateKey(id)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newCodec(t *testing.T, keys ...Key) *Codec {
	t.Helper()
	c, err := New(keys)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

type visitor struct{ Name, Email, PIN string }

var vera = visitor{Name: "Vera Visitor", Email: "vera@example.com", PIN: "482913"}

// Every payload leaves encrypted (nothing of the value readable, the key named in clear) and comes back equal.
func TestRoundTrip(t *testing.T) {
	c := newCodec(t, key(t, "k1"))
	dc := DataConverter(c)
	p, err := dc.ToPayload(vera)
	if err != nil {
		t.Fatal(err)
	}
	if enc := string(p.Metadata[converter.MetadataEncoding]); enc != EncodingEncrypted {
		t.Errorf("encoding %q", enc)
	}
	if id := string(p.Metadata[MetadataKeyID]); id != "k1" {
		t.Errorf("key id %q", id)
	}
	for _, secret := range []string{vera.Name, vera.Email, vera.PIN, "json/plain"} {
		if bytes.Contains(p.Data, []byte(secret)) || strings.Contains(p.String(), secret) {
			t.Errorf("%q readable in the encrypted payload", secret)
		}
	}
	var got visitor
	if err := dc.FromPayload(p, &got); err != nil || got != vera {
		t.Fatalf("decoded %+v, %v", got, err)
	}
	// A fresh nonce each time: the same value never encrypts to the same bytes.
	q, _ := dc.ToPayload(vera)
	if bytes.Equal(p.Data, q.Data) {
		t.Error("two encryptions of one value are equal")
	}
	// Several payloads at once, nil among them (a nil result).
	ps, err := dc.ToPayloads(vera, nil, 42)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	var none *visitor
	if err := dc.FromPayloads(ps, &got, &none, &n); err != nil || n != 42 || none != nil {
		t.Fatalf("payloads: %v %v %d", err, none, n)
	}
}

// A payload encrypted with key 1 still decodes once key 2 is active; a key that left the set is an error that
// names it; a plain payload (recorded before encryption) passes through unchanged.
func TestKeyRotation(t *testing.T) {
	k1, k2 := key(t, "2026-01"), key(t, "2026-07")
	old := newCodec(t, k1)
	enc, err := old.Encode([]*commonpb.Payload{plain(t, vera)})
	if err != nil {
		t.Fatal(err)
	}
	rotated := newCodec(t, k2, k1)
	if rotated.ActiveKeyID() != "2026-07" || strings.Join(rotated.KeyIDs(), ",") != "2026-07,2026-01" {
		t.Errorf("active %s, ids %v", rotated.ActiveKeyID(), rotated.KeyIDs())
	}
	var got visitor
	if err := DataConverter(rotated).FromPayload(enc[0], &got); err != nil || got != vera {
		t.Fatalf("old payload after rotation: %+v, %v", got, err)
	}
	fresh, _ := rotated.Encode([]*commonpb.Payload{plain(t, vera)})
	if id := string(fresh[0].Metadata[MetadataKeyID]); id != "2026-07" {
		t.Errorf("new payloads encrypted with %q, want the active key", id)
	}

	retired := newCodec(t, k2)
	_, err = retired.Decode(enc)
	if err == nil || !strings.Contains(err.Error(), `"2026-01"`) || !strings.Contains(err.Error(), "not in the key set") {
		t.Errorf("unknown key: %v", err)
	}

	p := plain(t, vera)
	out, err := retired.Decode([]*commonpb.Payload{p})
	if err != nil || out[0] != p {
		t.Errorf("a plain payload changed: %v", err)
	}
}

// Tampering is detected: another key of the same name, changed bytes, or a key id swapped in the metadata.
func TestTamperingIsAnError(t *testing.T) {
	k1, k2 := key(t, "a"), key(t, "b")
	c := newCodec(t, k1, k2)
	enc, _ := c.Encode([]*commonpb.Payload{plain(t, vera)})
	impostor := newCodec(t, Key{ID: "a", Secret: k2.Secret})
	if _, err := impostor.Decode(enc); err == nil {
		t.Error("decoded with another key of the same id")
	}
	flipped := &commonpb.Payload{Metadata: enc[0].Metadata, Data: bytes.Clone(enc[0].Data)}
	flipped.Data[len(flipped.Data)-1] ^= 1
	if _, err := c.Decode([]*commonpb.Payload{flipped}); err == nil {
		t.Error("altered data decoded")
	}
	swapped := &commonpb.Payload{Metadata: map[string][]byte{}, Data: enc[0].Data}
	for k, v := range enc[0].Metadata {
		swapped.Metadata[k] = v
	}
	swapped.Metadata[MetadataKeyID] = []byte("b")
	if _, err := newCodec(t, Key{ID: "b", Secret: k1.Secret}).Decode([]*commonpb.Payload{swapped}); err == nil {
		t.Error("decoded under another key id")
	}
	short := &commonpb.Payload{Metadata: enc[0].Metadata, Data: []byte("x")}
	if _, err := c.Decode([]*commonpb.Payload{short}); err == nil {
		t.Error("a truncated payload decoded")
	}
}

// Failure messages and stack traces travel in the encoded attributes: the server sees "Encoded failure".
func TestFailuresAreEncrypted(t *testing.T) {
	dc := DataConverter(newCodec(t, key(t, "k1")))
	fc := FailureConverter(dc)
	f := fc.ErrorToFailure(temporal.NewApplicationError("no Salto user for vera@example.com", "NotFound"))
	if strings.Contains(f.String(), "vera@example.com") {
		t.Errorf("the message is readable: %s", f)
	}
	back := fc.FailureToError(f)
	var app *temporal.ApplicationError
	if !errors.As(back, &app) || !strings.Contains(app.Error(), "vera@example.com") || app.Type() != "NotFound" {
		t.Errorf("decoded %v", back)
	}
}

func TestNewRefusesBadKeys(t *testing.T) {
	good := key(t, "ok")
	for _, c := range []struct {
		keys []Key
		want string
	}{
		{nil, "no keys"},
		{[]Key{good, good}, "listed twice"},
		{[]Key{{ID: "short", Secret: make([]byte, 16)}}, "16 bytes, want 32"},
		{[]Key{{ID: "has space", Secret: good.Secret}}, "only letters"},
		{[]Key{{ID: "", Secret: good.Secret}}, "1 to 64"},
	} {
		if _, err := New(c.keys); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: got %v, want %q", c.keys, err, c.want)
		}
	}
}

// The three forms of a key set read alike; errors never quote key material.
func TestParseKeys(t *testing.T) {
	k1, k2 := key(t, "2026-07"), key(t, "2026-01")
	b1, b2 := base64.StdEncoding.EncodeToString(k1.Secret), base64.StdEncoding.EncodeToString(k2.Secret)
	for name, raw := range map[string]string{
		"file":     string(MarshalKeys([]Key{k1, k2})),
		"json":     fmt.Sprintf(`{"keys": [{"id": "2026-07", "key": %q}, {"id": "2026-01", "key": %q}]}`, b1, b2),
		"list":     fmt.Sprintf(`[{"id": "2026-07", "key": %q}, {"id": "2026-01", "key": %q}]`, b1, b2),
		"env":      fmt.Sprintf("2026-07:%s, 2026-01:%s", b1, b2),
		"urlsafe":  "2026-07:" + base64.RawURLEncoding.EncodeToString(k1.Secret) + ",2026-01:" + b2,
		"yamllist": fmt.Sprintf("- id: 2026-07\n  key: %s\n- id: 2026-01\n  key: %s\n", b1, b2),
	} {
		keys, err := ParseKeys([]byte(raw))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if len(keys) != 2 || keys[0].ID != "2026-07" || !bytes.Equal(keys[0].Secret, k1.Secret) ||
			keys[1].ID != "2026-01" || !bytes.Equal(keys[1].Secret, k2.Secret) {
			t.Errorf("%s: got %v", name, keys)
		}
	}
	short := base64.StdEncoding.EncodeToString([]byte("sixteen byte key"))
	for raw, want := range map[string]string{
		"":                                     "no keys",
		"k1:" + short:                          `key "k1": 16 bytes`,
		"k1:" + b1 + ",k1x" + b2:               "key 2: want id:base64",
		"k1:%%%" + b1[:10]:                     `key "k1": not base64`,
		"keys:\n  - {id: k1, key: " + b1 + "":  "malformed",
		"keys:\n  - {id: k1, kee: " + b1 + "}": "malformed",
		"keys: []":                             "no keys",
	} {
		_, err := ParseKeys([]byte(raw))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want %q", raw, err, want)
		}
		if err != nil && (strings.Contains(err.Error(), b1[:10]) || strings.Contains(err.Error(), b2[:10])) {
			t.Errorf("key material in the error %q", err)
		}
	}
	if s := fmt.Sprintf("%v %+v %#v", k1, k1, []Key{k1}); strings.Contains(s, b1[:8]) || strings.Contains(s, "Secret") {
		t.Errorf("a key prints its secret: %s", s)
	}
}

func plain(t *testing.T, v any) *commonpb.Payload {
	t.Helper()
	p, err := converter.GetDefaultDataConverter().ToPayload(v)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
