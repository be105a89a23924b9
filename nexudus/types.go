package nexudus

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
)

// Secret holds a value that must never reach a log line (access PIN codes, visitor
// codes). fmt and slog print it redacted; JSON carries the real value because Nexudus
// needs it. Use Reveal where the value itself is needed.
type Secret string

const redacted = "[redacted]"

// Reveal returns the secret value.
func (s Secret) Reveal() string { return string(s) }

// String prints "[redacted]" for a non-empty secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString keeps %#v redacted too.
func (s Secret) GoString() string { return strconv.Quote(s.String()) }

// LogValue keeps slog redacted.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// IDList is a list of entity ids. Nexudus' plural "...Ids" fields (FloorPlanDeskIds,
// CoworkerContractIds) are documented without a type; on the wire they have been seen as
// a comma-separated string, so that is what IDList sends. It accepts a comma-separated
// string, an array of numbers or numeric strings, or null.
type IDList []int

// MarshalJSON writes "1,2,3" (null for an empty list).
func (l IDList) MarshalJSON() ([]byte, error) {
	if len(l) == 0 {
		return []byte("null"), nil
	}
	return json.Marshal(l.String())
}

// String formats the ids comma-separated.
func (l IDList) String() string {
	parts := make([]string, len(l))
	for i, id := range l {
		parts[i] = strconv.Itoa(id)
	}
	return strings.Join(parts, ",")
}

// Contains reports whether id is in the list.
func (l IDList) Contains(id int) bool {
	for _, v := range l {
		if v == id {
			return true
		}
	}
	return false
}

// UnmarshalJSON accepts "1,2", "1;2", [1,2], ["1","2"] and null.
func (l *IDList) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || bytes.Equal(b, []byte("null")) {
		*l = nil
		return nil
	}
	switch b[0] {
	case '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		ids, err := ParseIDList(s)
		if err != nil {
			return err
		}
		*l = ids
		return nil
	case '[':
		var raw []json.RawMessage
		if err := json.Unmarshal(b, &raw); err != nil {
			return err
		}
		out := make(IDList, 0, len(raw))
		for _, r := range raw {
			var n json.Number
			if err := json.Unmarshal(r, &n); err != nil {
				var s string
				if json.Unmarshal(r, &s) != nil {
					return fmt.Errorf("nexudus: id list element %s is not an id", truncate(string(r), 20))
				}
				n = json.Number(strings.TrimSpace(s))
			}
			id, err := strconv.Atoi(string(n))
			if err != nil {
				return fmt.Errorf("nexudus: id list element %q is not an id", string(n))
			}
			out = append(out, id)
		}
		*l = out
		return nil
	default:
		return fmt.Errorf("nexudus: id list must be a string or an array, got %s", truncate(string(b), 20))
	}
}

// ParseIDList parses "1,2,3" (commas or semicolons, spaces ignored).
func ParseIDList(s string) (IDList, error) {
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' || r == ' ' })
	if len(fields) == 0 {
		return nil, nil
	}
	out := make(IDList, 0, len(fields))
	for _, f := range fields {
		id, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("nexudus: id list element %q is not an id", f)
		}
		out = append(out, id)
	}
	return out, nil
}
