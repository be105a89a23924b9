package config

import (
	"maps"
	"strings"
	"testing"
)

func without(m map[string]string, keys ...string) map[string]string {
	out := maps.Clone(m)
	for _, k := range keys {
		delete(out, k)
	}
	return out
}

// A configuration file must say how workflow data is protected: keys (file or environment) or an explicit
// disabled: true. The worker and the starter refuse a file that says neither, naming the field.
func TestEncryptionMustBeSaid(t *testing.T) {
	noKeys := without(secrets, EnvEncryptionKeys)
	for _, parse := range []func([]byte, func(string) string) (*Config, error){Parse, ParseClient} {
		_, err := parse([]byte(valid), env(noKeys))
		if err == nil || !strings.Contains(err.Error(), "temporal.encryption: no keys: set temporal.encryption.keys_file or "+
			EnvEncryptionKeys+", or disabled: true") {
			t.Errorf("no keys: %v", err)
		}
	}
	withFile := strings.Replace(valid, "  address: temporal.example:7233", "  address: temporal.example:7233\n  encryption:\n    keys_file: /etc/nexsalto/keys.yaml", 1)
	c, err := Parse([]byte(withFile), env(noKeys))
	if err != nil || !c.Temporal.Encryption.Enabled() {
		t.Fatalf("keys_file: %v", err)
	}
	if c, err = Parse([]byte(valid), env(secrets)); err != nil || c.Temporal.Encryption.Keys != secrets[EnvEncryptionKeys] {
		t.Fatalf("keys from the environment: %v", err)
	}
	disabled := strings.Replace(valid, "  address: temporal.example:7233", "  address: temporal.example:7233\n  encryption: {disabled: true}", 1)
	if c, err = Parse([]byte(disabled), env(noKeys)); err != nil || c.Temporal.Encryption.Enabled() {
		t.Fatalf("disabled: %v", err)
	}
	if _, err = Parse([]byte(disabled), env(secrets)); err == nil || !strings.Contains(err.Error(), "temporal.encryption.disabled: true, but keys are given") {
		t.Errorf("disabled with keys: %v", err)
	}
	// Configurations built in code (tests, the dev stack) decide for themselves.
	c.Temporal.Encryption = Encryption{}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate of a built configuration: %v", err)
	}
}

func TestCodecServerSettings(t *testing.T) {
	token := map[string]string{EnvCodecToken: "0123456789abcdef0123"}
	withCodec := func(codec string) string { return valid + "codec:\n" + codec }
	c, err := Parse([]byte(withCodec("  listen: 127.0.0.1:8093\n  origins: [https://cloud.temporal.io, http://127.0.0.1:8233]\n")),
		env(mergeMaps(secrets, token)))
	if err != nil {
		t.Fatal(err)
	}
	if c.Codec.Token != token[EnvCodecToken] || len(c.Codec.Origins) != 2 {
		t.Errorf("codec %+v", c.Codec)
	}
	if strings.Contains(c.String(), token[EnvCodecToken]) {
		t.Error("String() leaks the codec token")
	}
	for _, bad := range []struct {
		codec string
		env   map[string]string
		want  string
	}{
		{"  listen: 127.0.0.1:8093\n", secrets, "codec.token_file: required with codec.listen"},
		{"  listen: 127.0.0.1:8093\n", mergeMaps(without(secrets, EnvEncryptionKeys), token), "codec.listen: set, but temporal.encryption has no keys"},
		{"  token_file: /t\n", mergeMaps(secrets, map[string]string{EnvCodecToken: "short"}), "codec.token: NEXSALTO_CODEC_TOKEN is shorter than 16"},
		{"  cert_file: /c.pem\n", secrets, "codec.cert_file: cert_file and key_file go together"},
		{"  origins: ['*']\n", secrets, `codec.origins[0]: "*" is not allowed`},
		{"  origins: [https://cloud.temporal.io/]\n", secrets, `codec.origins[0]: "https://cloud.temporal.io/" has more than`},
		{"  origins: [cloud.temporal.io]\n", secrets, "is not an origin"},
		{"  origins: [https://a.example, HTTPS://B.example]\n", secrets, "codec.origins[1]: \"HTTPS://B.example\" must be lower case"},
	} {
		_, err := Parse([]byte(withCodec(bad.codec)), env(bad.env))
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%q: got %v, want %q", bad.codec, err, bad.want)
		}
	}
}

func mergeMaps(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		maps.Copy(out, m)
	}
	return out
}
