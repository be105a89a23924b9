package nexudus

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// hmacHex is the test's own uppercase hex HMAC-SHA256, so that expected signatures do
// not come from the code under test.
func hmacHex(key, msg string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(msg))
	return strings.ToUpper(hex.EncodeToString(m.Sum(nil)))
}

func TestASCIIFold(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"empty", "", ""},
		{"ASCII unchanged", `[{"Id":1,"FullName":"Ada <Lovelace> & Co?"}]`, `[{"Id":1,"FullName":"Ada <Lovelace> & Co?"}]`},
		{"control and DEL are ASCII", "a\tb\x7f", "a\tb\x7f"},
		{"accents, one ? per character", "José Müller", "Jos? M?ller"},
		{"ñ", "Añil", "A?il"},
		{"euro sign (3 bytes)", "€", "?"},
		{"emoji (4 bytes, a surrogate pair in .NET)", "😀", "?"},
		{"emoji with a variation selector is two runes", "☕️", "??"},
		{"invalid byte", "a\xffb", "a?b"},
		{"truncated sequence: each byte", "x\xe2\x82", "x??"},
		{"mixed", "20 € für José 🚀!", "20 ? f?r Jos? ?!"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			assert.Equal(t, c.want, string(asciiFold([]byte(c.in))))
		})
	}
}

func TestSignatureOfNonASCIIText(t *testing.T) {
	// The body on the wire is UTF-8; Nexudus hashes it with every non-ASCII character as '?'.
	body := []byte(`[{"Id":77,"FullName":"José Müller","CompanyName":"Café 😀 <Ltd> & Co","Notes":"20 € por niño"}]`)
	const folded = `[{"Id":77,"FullName":"Jos? M?ller","CompanyName":"Caf? ? <Ltd> & Co","Notes":"20 ? por ni?o"}]`
	const secret = "s3cret"
	dotnet := hmacHex(secret, folded)
	raw := hmacHex(secret, string(body))
	assert.NotEqual(t, dotnet, raw)
	assert.Equal(t, dotnet, Sign([]byte(secret), body), "Sign is the documented signature")
	assert.Equal(t, raw, SignRawUTF8([]byte(secret), body))

	// A non-ASCII secret is folded as well.
	const accentSecret = "clé-secrète-€"
	dotnetAccent := hmacHex("cl?-secr?te-?", folded)
	assert.Equal(t, dotnetAccent, Sign([]byte(accentSecret), body))

	cases := []struct {
		name   string
		secret string
		body   []byte
		header string
		want   error
	}{
		{"signed the .NET way", secret, body, dotnet, nil},
		{".NET way, lowercase hex", secret, body, strings.ToLower(dotnet), nil},
		{"raw UTF-8 bytes also accepted", secret, body, raw, nil},
		{"non-ASCII secret folded", accentSecret, body, dotnetAccent, nil},
		{"non-ASCII secret, raw bytes and raw key", accentSecret, body, hmacHex(accentSecret, string(body)), nil},
		{"folded body with the raw non-ASCII key is neither form", accentSecret, body, hmacHex(accentSecret, folded), ErrSignatureMismatch},
		{"wrong secret", "other", body, dotnet, ErrSignatureMismatch},
		{"ASCII text changed", secret, []byte(strings.Replace(string(body), `"Id":77`, `"Id":78`, 1)), dotnet, ErrSignatureMismatch},
		{"signature of something else", secret, body, hmacHex(secret, `[{"Id":77}]`), ErrSignatureMismatch},
		{"missing", secret, body, "", ErrSignatureMissing},
		{"malformed", secret, body, "sha256=" + dotnet, ErrSignatureMalformed},
		{"no secret", "", body, dotnet, ErrNoSecret},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := VerifySignature([]byte(c.secret), c.body, c.header)
			if c.want == nil {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, c.want)
			}
		})
	}
}

// The receiver verifies the body as it reads it, in pieces of any size: a multi-byte character split between two
// reads folds to one '?' as it does in one piece, so every split gives VerifySignature's answer.
func TestVerifierInPieces(t *testing.T) {
	secret := []byte("clé")
	body := []byte(`[{"Id":77,"FullName":"José 😀 €","Bad":"` + "\xe2\x82" + `x"}]` + "\xf0\x9f")
	for _, header := range []string{Sign(secret, body), SignRawUTF8(secret, body), Sign(secret, []byte("other")), "", "zz"} {
		want := VerifySignature(secret, body, header)
		for size := 1; size <= len(body); size++ {
			v := NewVerifier(secret)
			for i := 0; i < len(body); i += size {
				_, _ = v.Write(body[i:min(i+size, len(body))])
			}
			assert.Equal(t, want, v.Verify(header), "pieces of %d bytes", size)
		}
	}
	assert.NoError(t, VerifySignature(secret, body, Sign(secret, body)))
	assert.NoError(t, VerifySignature(secret, body, SignRawUTF8(secret, body)))

	sig, err := ParseSignature(" " + strings.ToLower(Sign(secret, body)) + " ")
	assert.NoError(t, err)
	assert.Len(t, sig, 32)
	_, err = ParseSignature("")
	assert.ErrorIs(t, err, ErrSignatureMissing)
	_, err = ParseSignature("abc")
	assert.ErrorIs(t, err, ErrSignatureMalformed)
}
