package config

import (
	"net/url"
	"strconv"
	"strings"
)

// Environment variables of payload encryption and the codec server; secrets, like the others.
const (
	// EnvEncryptionKeys holds the key set itself (the key file's YAML or JSON, or id:base64,id:base64); it
	// overrides temporal.encryption.keys_file.
	EnvEncryptionKeys = "NEXSALTO_ENCRYPTION_KEYS"
	// EnvCodecToken is the codec server's bearer token; it overrides codec.token_file.
	EnvCodecToken = "NEXSALTO_CODEC_TOKEN"
)

// MinCodecTokenLength keeps codec tokens out of guessing range (openssl rand -hex 16 gives 32).
const MinCodecTokenLength = 16

// Encryption says how workflow data is protected in Temporal. A configuration file must say it: either keys
// (every payload, failure message and stack trace encrypted with AES-256-GCM before it leaves the process)
// or disabled: true (names, e-mails and visitor PINs readable by whoever can read the Temporal namespace).
type Encryption struct {
	// KeysFile lists the keys, the active (encrypting) key first: keys: [{id: …, key: <base64 of 32 bytes>}].
	KeysFile string `yaml:"keys_file"`
	// Disabled stores payloads in clear; it must be said explicitly.
	Disabled bool `yaml:"disabled"`
	// Keys is the key set from NEXSALTO_ENCRYPTION_KEYS (preferred over KeysFile when both are set).
	Keys string `yaml:"-"`
}

// Enabled reports whether payloads are encrypted: keys are configured and encryption is not disabled.
func (e Encryption) Enabled() bool { return !e.Disabled && (e.KeysFile != "" || e.Keys != "") }

// Codec is the codec server: /encode and /decode for the Temporal Web UI and CLI, so that people with the
// token see decrypted payloads. The worker serves it on its own listener when Listen is set; `starter
// codec-server` serves it alone.
type Codec struct {
	// Listen is the codec server's address, e.g. 127.0.0.1:8093; empty: no codec server in the worker.
	Listen string `yaml:"listen"`
	// Origins are the Web UIs allowed to call it from a browser (CORS), e.g. https://cloud.temporal.io or
	// http://127.0.0.1:8233: scheme, host and port, no path.
	Origins []string `yaml:"origins"`
	// TokenFile holds the bearer token every call must carry; NEXSALTO_CODEC_TOKEN overrides it.
	TokenFile string `yaml:"token_file"`
	// CertFile and KeyFile serve HTTPS (browsers only call a codec server on https://, or on localhost).
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// Token is the bearer token from NEXSALTO_CODEC_TOKEN.
	Token string `yaml:"-"`
}

func (c *Config) applyEncryptionEnv(getenv func(string) string) {
	if v := getenv(EnvEncryptionKeys); v != "" {
		c.Temporal.Encryption.Keys = v
	}
	if v := getenv(EnvCodecToken); v != "" {
		c.Codec.Token = v
	}
}

// validateEncryption checks temporal.encryption and codec. fromFile: a configuration file must say how
// payloads are protected; one built in code (tests, the dev stack) may leave encryption unset.
func (c *Config) validateEncryption(bad func(field, format string, args ...any), fromFile bool) {
	e := c.Temporal.Encryption
	switch {
	case e.Disabled && (e.KeysFile != "" || e.Keys != ""):
		bad("temporal.encryption.disabled", "true, but keys are given (keys_file or %s): remove one", EnvEncryptionKeys)
	case fromFile && !e.Disabled && !e.Enabled():
		bad("temporal.encryption", "no keys: set temporal.encryption.keys_file or %s, or disabled: true to "+
			"store workflow data (names, e-mails, visitor PINs) readable in Temporal", EnvEncryptionKeys)
	}
	k := c.Codec
	if k.Listen != "" {
		if !e.Enabled() {
			bad("codec.listen", "set, but temporal.encryption has no keys: there is nothing to decode")
		}
		if k.Token == "" && k.TokenFile == "" {
			bad("codec.token_file", "required with codec.listen (or %s): every call must carry the token", EnvCodecToken)
		}
	}
	if k.Token != "" && len(k.Token) < MinCodecTokenLength {
		bad("codec.token", "%s is shorter than %d characters", EnvCodecToken, MinCodecTokenLength)
	}
	if (k.CertFile == "") != (k.KeyFile == "") {
		bad("codec.cert_file", "cert_file and key_file go together")
	}
	for i, o := range k.Origins {
		if problem := checkOrigin(o); problem != "" {
			bad("codec.origins["+strconv.Itoa(i)+"]", "%q %s", o, problem)
		}
	}
}

// checkOrigin says what is wrong with a CORS origin, "" when nothing is: a browser sends exactly
// scheme://host[:port], so anything else (a path, a trailing slash, "*") would never match or match too much.
func checkOrigin(o string) string {
	u, err := url.Parse(o)
	switch {
	case o == "*":
		return "is not allowed: name each Web UI (the token's calls carry credentials)"
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
		return "is not an origin: want scheme://host[:port], e.g. https://cloud.temporal.io"
	case u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		return "has more than scheme://host[:port] (no path, not even a trailing slash)"
	case strings.ToLower(o) != o:
		return "must be lower case, as browsers send it"
	}
	return ""
}
