package codec

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"

	"gopkg.in/yaml.v3"
)

// keyEntry is one key as a key file lists it. JSON is YAML too, so one decoder reads both.
type keyEntry struct {
	ID  string `yaml:"id"`
	Key string `yaml:"key"`
}

type keyFile struct {
	Keys []keyEntry `yaml:"keys"`
}

// ParseKeys reads a key set, the active key first, in any of these forms:
//
//	keys:                        # YAML (or the same as JSON: {"keys": [{"id": …, "key": …}]})
//	  - {id: 2026-07, key: <base64 of 32 bytes>}
//	  - {id: 2026-01, key: <base64 of 32 bytes>}
//
//	[{"id": "2026-07", "key": "<base64>"}, …]   # a bare list, YAML or JSON
//
//	2026-07:<base64>,2026-01:<base64>           # one line, for an environment variable
//
// Errors name a key by its id or position, never by its material.
func ParseKeys(raw []byte) ([]Key, error) {
	text := strings.TrimSpace(string(raw))
	if text == "" {
		return nil, errors.New("no keys")
	}
	var entries []keyEntry
	if isList(text) {
		for i, item := range strings.Split(text, ",") {
			id, key, ok := strings.Cut(strings.TrimSpace(item), ":")
			if !ok {
				return nil, fmt.Errorf("key %d: want id:base64", i+1)
			}
			entries = append(entries, keyEntry{ID: strings.TrimSpace(id), Key: strings.TrimSpace(key)})
		}
	} else {
		var err error
		if entries, err = decodeYAML(raw); err != nil {
			return nil, err
		}
	}
	if len(entries) == 0 {
		return nil, errors.New("no keys")
	}
	keys := make([]Key, len(entries))
	for i, e := range entries {
		if err := checkKeyID(e.ID); err != nil {
			return nil, fmt.Errorf("key %d: %w", i+1, err)
		}
		secret, err := decodeBase64(e.Key)
		if err != nil {
			return nil, fmt.Errorf("key %q: not base64", e.ID)
		}
		if len(secret) != KeySize {
			return nil, fmt.Errorf("key %q: %d bytes, want %d (openssl rand -base64 32)", e.ID, len(secret), KeySize)
		}
		keys[i] = Key{ID: e.ID, Secret: secret}
	}
	return keys, nil
}

// isList tells the one-line form (id:base64,…) from YAML or JSON, which need braces, brackets or lines.
func isList(text string) bool { return !strings.ContainsAny(text, "{[\n") }

func decodeYAML(raw []byte) ([]keyEntry, error) {
	var node yaml.Node
	// yaml's error texts quote the offending value, which may be key material: only the line is kept.
	malformed := errors.New("malformed key file: want keys: [{id: …, key: <base64>}], the active key first")
	if err := yaml.Unmarshal(raw, &node); err != nil || len(node.Content) == 0 {
		return nil, malformed
	}
	doc := node.Content[0]
	var entries []keyEntry
	switch doc.Kind {
	case yaml.MappingNode:
		var f keyFile
		dec := yaml.NewDecoder(bytes.NewReader(raw))
		dec.KnownFields(true)
		if dec.Decode(&f) != nil {
			return nil, malformed
		}
		entries = f.Keys
	case yaml.SequenceNode:
		if doc.Decode(&entries) != nil {
			return nil, malformed
		}
	default:
		return nil, malformed
	}
	return entries, nil
}

func decodeBase64(s string) ([]byte, error) {
	var err error
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		var b []byte
		if b, err = enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, err
}

// LoadKeys reads the key set from env (the value of an environment variable) when it is set, else from file.
func LoadKeys(file, env string) ([]Key, error) {
	if strings.TrimSpace(env) != "" {
		keys, err := ParseKeys([]byte(env))
		if err != nil {
			return nil, fmt.Errorf("encryption keys from the environment: %w", err)
		}
		return keys, nil
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("encryption keys: %w", err)
	}
	keys, err := ParseKeys(raw)
	if err != nil {
		return nil, fmt.Errorf("encryption keys in %s: %w", file, err)
	}
	return keys, nil
}

// GenerateKey makes a new random key.
func GenerateKey(id string) (Key, error) {
	if err := checkKeyID(id); err != nil {
		return Key{}, err
	}
	secret := make([]byte, KeySize)
	if _, err := rand.Read(secret); err != nil {
		return Key{}, err
	}
	return Key{ID: id, Secret: secret}, nil
}

// NewKeyFile is a key file's content holding one fresh key named id: what a first start or a test writes.
func NewKeyFile(id string) ([]byte, error) {
	k, err := GenerateKey(id)
	if err != nil {
		return nil, err
	}
	return MarshalKeys([]Key{k}), nil
}

// MarshalKeys writes a key set in the key-file form ParseKeys reads.
func MarshalKeys(keys []Key) []byte {
	var b strings.Builder
	b.WriteString("# nexsalto payload encryption keys: the first encrypts, every one decrypts. Keep this file 0600.\nkeys:\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "  - id: %q\n    key: %s\n", k.ID, base64.StdEncoding.EncodeToString(k.Secret))
	}
	return []byte(b.String())
}
