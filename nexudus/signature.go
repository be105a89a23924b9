package nexudus

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"strings"
	"unicode/utf8"
)

// SignatureHeader carries the HMAC of a webhook body when a secret is configured.
const SignatureHeader = "X-Nexudus-Hook-Signature"

// Signature errors, for errors.Is.
var (
	ErrNoSecret           = errors.New("nexudus: no webhook secret configured")
	ErrSignatureMissing   = errors.New("nexudus: webhook signature missing")
	ErrSignatureMalformed = errors.New("nexudus: webhook signature is not a hex HMAC-SHA256")
	ErrSignatureMismatch  = errors.New("nexudus: webhook signature does not match")
)

// asciiFold returns b as .NET's ASCIIEncoding.GetBytes would encode its text: ASCII
// bytes unchanged, each non-ASCII rune (a surrogate pair too: one rune) and each byte
// that is not valid UTF-8 replaced by '?'. Nexudus hashes this form of the JSON text
// while it sends the UTF-8. An all-ASCII b is returned as is, without copying.
func asciiFold(b []byte) []byte {
	if isASCII(b) {
		return b
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); {
		if b[i] < utf8.RuneSelf {
			out = append(out, b[i])
			i++
			continue
		}
		_, n := utf8.DecodeRune(b[i:]) // n is 1 for an invalid byte
		out = append(out, '?')
		i += n
	}
	return out
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func hmacSHA256(key, msg []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(msg)
	return m.Sum(nil)
}

// Sign returns the signature Nexudus sends for body, as its documented code computes it:
// uppercase hex HMAC-SHA256 with the ASCII-folded secret as key over the ASCII-folded
// body (see asciiFold). For ASCII text this is the HMAC of the bytes themselves.
func Sign(secret, body []byte) string {
	return strings.ToUpper(hex.EncodeToString(hmacSHA256(asciiFold(secret), asciiFold(body))))
}

// SignRawUTF8 returns the uppercase hex HMAC-SHA256 of the raw bytes with the raw secret:
// the variant VerifySignature also accepts, in case Nexudus ever signs the UTF-8 it
// sends. For simulators and tests; Sign is what Nexudus documents.
func SignRawUTF8(secret, body []byte) string {
	return strings.ToUpper(hex.EncodeToString(hmacSHA256(secret, body)))
}

// VerifySignature checks header (the SignatureHeader value) against body. It accepts
// the documented signature (Sign: secret and body ASCII-folded, so a record holding
// "José" verifies) and, failing that, the HMAC of the raw bytes with the raw secret
// (SignRawUTF8), which costs nothing for ASCII text and keeps webhooks flowing if
// Nexudus signs the UTF-8 one day. Uppercase and lowercase hex are accepted; the
// comparisons are constant-time. An empty secret is an error, never a pass.
//
// The folded form cannot tell one non-ASCII character from another: whoever holds a
// signed body can swap "é" for "ü" without breaking its signature. A webhook is a hint
// to re-read the entity, so that is harmless here; do not trust its text for more.
func VerifySignature(secret, body []byte, header string) error {
	v := NewVerifier(secret)
	_, _ = v.Write(body)
	return v.Verify(header)
}

// ParseSignature decodes a SignatureHeader value, so that a receiver can refuse a
// missing or malformed one before it reads the body.
func ParseSignature(header string) ([]byte, error) {
	header = strings.TrimSpace(header)
	if header == "" {
		return nil, ErrSignatureMissing
	}
	got, err := hex.DecodeString(header)
	if err != nil || len(got) != sha256.Size {
		return nil, ErrSignatureMalformed
	}
	return got, nil
}

// Verifier is VerifySignature for a body read in pieces: the receiver writes the body
// into it as it reads it (within its size limit) and needs no second pass.
type Verifier struct {
	noSecret    bool
	folded, raw hash.Hash
	secretASCII bool
	bodyASCII   bool
	tail        []byte // an incomplete UTF-8 sequence at the end of the last Write
	buf         []byte
}

// NewVerifier starts verifying a body signed with secret; Verify with an empty secret
// is ErrNoSecret.
func NewVerifier(secret []byte) *Verifier {
	return &Verifier{noSecret: len(secret) == 0, folded: hmac.New(sha256.New, asciiFold(secret)),
		raw: hmac.New(sha256.New, secret), secretASCII: isASCII(secret), bodyASCII: true}
}

// Write adds the next bytes of the body; it never fails.
func (v *Verifier) Write(p []byte) (int, error) {
	v.raw.Write(p)
	b := p
	if len(v.tail) > 0 {
		b = append(v.tail, p...)
	}
	rest := v.fold(b, false)
	v.tail = append(v.tail[:0:0], rest...)
	return len(p), nil
}

// fold hashes the ASCII-folded form of b (asciiFold's rules) and returns the
// incomplete rune it ends with, unless final: that rune may continue in the next Write.
func (v *Verifier) fold(b []byte, final bool) []byte {
	out := v.buf[:0]
	i := 0
	for i < len(b) {
		if b[i] < utf8.RuneSelf {
			out = append(out, b[i])
			i++
			continue
		}
		v.bodyASCII = false
		if !final && !utf8.FullRune(b[i:]) {
			break
		}
		_, n := utf8.DecodeRune(b[i:]) // n is 1 for an invalid byte
		out = append(out, '?')
		i += n
	}
	v.folded.Write(out)
	v.buf = out[:0]
	return b[i:]
}

// Verify checks header against the body written so far; see VerifySignature.
func (v *Verifier) Verify(header string) error {
	if v.noSecret {
		return ErrNoSecret
	}
	got, err := ParseSignature(header)
	if err != nil {
		return err
	}
	if len(v.tail) > 0 {
		v.fold(v.tail, true)
		v.tail = nil
	}
	if hmac.Equal(got, v.folded.Sum(nil)) {
		return nil
	}
	// For all-ASCII input the raw HMAC is the one just compared.
	if !(v.secretASCII && v.bodyASCII) && hmac.Equal(got, v.raw.Sum(nil)) {
		return nil
	}
	return ErrSignatureMismatch
}
