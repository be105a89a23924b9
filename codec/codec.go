// Package codec encrypts every Temporal payload with AES-256-GCM, so that what the Temporal service stores
// (workflow inputs, results, signals, queries, memos, summaries, failure messages) holds no customer's name,
// e-mail, access card or PIN in clear. It is a converter.PayloadCodec: clients and workers put it behind the
// default data converter (DataConverter), and the codec server (package codecserver) lends it to the Web UI.
//
// Keys rotate without downtime: a Codec holds a key set whose first key encrypts and whose every key decrypts.
// Each encrypted payload names its key in the clear metadata (MetadataKeyID), so a key may leave the set only
// once no retained history holds a payload it encrypted. A payload that is not encrypted (written before
// encryption was turned on) passes through Decode unchanged, so old histories still replay.
//
// Search attributes are never encoded by a codec (Temporal must index them): keep personal data out of them.
package codec

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/proto"
)

// Metadata of an encrypted payload. The encoding is what the Temporal Web UI and CLI show for a payload they
// cannot decode; the key id and cipher are in clear so that a decoder knows which key to use.
const (
	EncodingEncrypted = "binary/encrypted"
	MetadataKeyID     = "encryption-key-id"
	MetadataCipher    = "encryption-cipher"
	CipherAES256GCM   = "AES-256-GCM"
)

// KeySize is the length of an AES-256 key.
const KeySize = 32

// Key is one named AES-256 key.
type Key struct {
	ID     string
	Secret []byte
}

// String never shows the secret, so a Key can end up in a log line by mistake and do no harm.
func (k Key) String() string { return "codec.Key{" + k.ID + "}" }

// GoString is String for %#v.
func (k Key) GoString() string { return k.String() }

// Codec encrypts with its active key and decrypts with any key of its set. It is safe for concurrent use.
type Codec struct {
	active string
	ids    []string // in the order given: active first
	aeads  map[string]cipher.AEAD
}

var _ converter.PayloadCodec = (*Codec)(nil)

// New builds a codec from a key set; keys[0] is the active key.
func New(keys []Key) (*Codec, error) {
	if len(keys) == 0 {
		return nil, errors.New("codec: no keys")
	}
	c := &Codec{active: keys[0].ID, aeads: make(map[string]cipher.AEAD, len(keys))}
	for i, k := range keys {
		if err := checkKeyID(k.ID); err != nil {
			return nil, fmt.Errorf("codec: key %d: %w", i+1, err)
		}
		if _, dup := c.aeads[k.ID]; dup {
			return nil, fmt.Errorf("codec: key id %q is listed twice", k.ID)
		}
		if len(k.Secret) != KeySize {
			return nil, fmt.Errorf("codec: key %q has %d bytes, want %d (AES-256)", k.ID, len(k.Secret), KeySize)
		}
		block, err := aes.NewCipher(k.Secret)
		if err != nil {
			return nil, fmt.Errorf("codec: key %q: %w", k.ID, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("codec: key %q: %w", k.ID, err)
		}
		c.aeads[k.ID] = aead
		c.ids = append(c.ids, k.ID)
	}
	return c, nil
}

// ActiveKeyID is the id of the key that encrypts.
func (c *Codec) ActiveKeyID() string { return c.active }

// KeyIDs are the ids of every key that decrypts, the active one first.
func (c *Codec) KeyIDs() []string { return slices.Clone(c.ids) }

// Encode encrypts each payload, metadata included (its encoding says what the data is), with the active key.
func (c *Codec) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	aead := c.aeads[c.active]
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		plain, err := proto.Marshal(p)
		if err != nil {
			return nil, fmt.Errorf("codec: encode payload: %w", err)
		}
		nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
		if _, err := rand.Read(nonce); err != nil {
			return nil, fmt.Errorf("codec: nonce: %w", err)
		}
		out[i] = &commonpb.Payload{
			Metadata: map[string][]byte{
				converter.MetadataEncoding: []byte(EncodingEncrypted),
				MetadataKeyID:              []byte(c.active),
				MetadataCipher:             []byte(CipherAES256GCM),
			},
			// nonce || ciphertext || tag; the key id is authenticated too, so it cannot be swapped.
			Data: aead.Seal(nonce, nonce, plain, additionalData(c.active)),
		}
	}
	return out, nil
}

// Decode decrypts each encrypted payload with the key it names; any other payload is returned as it is.
func (c *Codec) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if string(p.GetMetadata()[converter.MetadataEncoding]) != EncodingEncrypted {
			out[i] = p
			continue
		}
		id := string(p.GetMetadata()[MetadataKeyID])
		aead, ok := c.aeads[id]
		if !ok {
			return nil, fmt.Errorf("codec: payload encrypted with key %q, which is not in the key set (%s)",
				id, strings.Join(c.ids, ", "))
		}
		if cph := string(p.GetMetadata()[MetadataCipher]); cph != "" && cph != CipherAES256GCM {
			return nil, fmt.Errorf("codec: payload encrypted with cipher %q, want %s", cph, CipherAES256GCM)
		}
		data := p.GetData()
		if len(data) < aead.NonceSize()+aead.Overhead() {
			return nil, fmt.Errorf("codec: encrypted payload of %d bytes is too short", len(data))
		}
		plain, err := aead.Open(nil, data[:aead.NonceSize()], data[aead.NonceSize():], additionalData(id))
		if err != nil {
			return nil, fmt.Errorf("codec: payload does not decrypt with key %q (altered, or another key of that name)", id)
		}
		var dec commonpb.Payload
		if err := proto.Unmarshal(plain, &dec); err != nil {
			return nil, fmt.Errorf("codec: decrypted payload: %w", err)
		}
		out[i] = &dec
	}
	return out, nil
}

func additionalData(keyID string) []byte { return []byte("nexsalto-codec-v1/" + keyID) }

// checkKeyID keeps ids short and printable: they are stored in clear with every payload.
func checkKeyID(id string) error {
	if id == "" || len(id) > 64 {
		return fmt.Errorf("key id %q: 1 to 64 characters", id)
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return fmt.Errorf("key id %q: only letters, digits, '-', '_' and '.'", id)
		}
	}
	return nil
}

// DataConverter is the default data converter with every payload encrypted by c.
func DataConverter(c *Codec) converter.DataConverter {
	return converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), c)
}

// FailureConverter moves a failure's message and stack trace into its encoded attributes, so that error
// texts (which may quote a name or an e-mail) are encrypted by dc too; the server sees "Encoded failure".
func FailureConverter(dc converter.DataConverter) converter.FailureConverter {
	return temporal.NewDefaultFailureConverter(temporal.DefaultFailureConverterOptions{
		DataConverter: dc, EncodeCommonAttributes: true})
}
