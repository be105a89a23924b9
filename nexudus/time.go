package nexudus

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	// Business time zones must resolve even on hosts without a zoneinfo
	// database (scratch containers).
	_ "time/tzdata"
)

// Time is a Nexudus date-time. Nexudus writes them with a zone ("2026-11-30T09:00:00Z")
// or without one ("2026-11-30T09:00:00"); Zoned records which form arrived. A zone-less
// value keeps its wall clock in a UTC time.Time: what that wall clock means (UTC or the
// business' local time) is decided by ResolveInstant, not here.
type Time struct {
	time.Time
	Zoned bool
}

// NewTime wraps an instant; it is sent to Nexudus as UTC with an explicit "Z".
func NewTime(t time.Time) Time { return Time{Time: t, Zoned: true} }

// WallClock wraps the wall clock of t without its zone, the form Nexudus uses for the
// *Local fields (FromTimeLocal, ToTimeLocal).
func WallClock(t time.Time) Time {
	return Time{Time: time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)}
}

// zonedLayouts carry an explicit zone; the rest are wall clocks.
var (
	zonedLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.9999999Z0700", "2006-01-02T15:04Z07:00"}
	wallLayouts  = []string{"2006-01-02T15:04:05.9999999", "2006-01-02T15:04", "2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02"}
)

// ParseTime parses the date-time forms Nexudus and its documentation use: RFC 3339 with
// "Z" or an offset, zone-less ISO forms with or without seconds and fractions, a bare
// date, and the legacy .NET "/Date(ms)/" form. An empty string gives the zero Time.
func ParseTime(s string) (Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Time{}, nil
	}
	if strings.HasPrefix(s, "/Date(") && strings.HasSuffix(s, ")/") {
		return parseDotNetDate(s)
	}
	for _, l := range zonedLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return Time{Time: t, Zoned: true}, nil
		}
	}
	for _, l := range wallLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return Time{Time: t}, nil
		}
	}
	return Time{}, fmt.Errorf("nexudus: unrecognised date-time %q", s)
}

// parseDotNetDate reads "/Date(1700000000000)/" and "/Date(1700000000000+0100)/"; the
// milliseconds are UTC whatever the suffix says.
func parseDotNetDate(s string) (Time, error) {
	inner := strings.TrimSuffix(strings.TrimPrefix(s, "/Date("), ")/")
	if i := strings.IndexAny(inner[1:], "+-"); i >= 0 {
		inner = inner[:i+1]
	}
	ms, err := strconv.ParseInt(inner, 10, 64)
	if err != nil {
		return Time{}, fmt.Errorf("nexudus: unrecognised date-time %q", s)
	}
	return Time{Time: time.UnixMilli(ms).UTC(), Zoned: true}, nil
}

// UnmarshalJSON accepts a string in any ParseTime form, or null.
func (t *Time) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		*t = Time{}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("nexudus: date-time must be a string, got %s", truncate(string(b), 40))
	}
	v, err := ParseTime(s)
	if err != nil {
		return err
	}
	*t = v
	return nil
}

// MarshalJSON writes null for the zero Time, an instant as UTC with "Z", and a wall
// clock without a zone.
func (t Time) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("null"), nil
	}
	return json.Marshal(t.String())
}

// String formats like MarshalJSON (without quotes); "" for the zero Time.
func (t Time) String() string {
	switch {
	case t.IsZero():
		return ""
	case t.Zoned:
		return t.UTC().Format("2006-01-02T15:04:05.9999999Z")
	default:
		return t.Format("2006-01-02T15:04:05.9999999")
	}
}

// WallIn reads the value's wall clock as a time in loc, ignoring any zone it carried.
// Used for the *Local fields, whose wall clock is the business' local time.
func (t Time) WallIn(loc *time.Location) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	if loc == nil {
		loc = time.UTC
	}
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), loc)
}

// ResolveInstant is the one place that decides which instant a pair of Nexudus fields
// (FromTime/FromTimeLocal, ToTime/ToTimeLocal, ...) denotes. The documentation is not
// certain that the unsuffixed field is UTC, so both are read and the explicit one wins:
//
//  1. utc carries a zone ("Z" or an offset): that instant.
//  2. utc is zone-less but the *Local twin shows the same wall clock while loc is not at
//     UTC offset zero: utc was evidently written in local time, so local is read in loc.
//  3. utc is zone-less otherwise: its wall clock is UTC.
//  4. utc is missing: local read in loc, if loc is known.
//
// ok is false when neither field gives an instant.
func ResolveInstant(utc, local Time, loc *time.Location) (instant time.Time, ok bool) {
	switch {
	case !utc.IsZero() && utc.Zoned:
		return utc.UTC(), true
	case !utc.IsZero():
		if !local.IsZero() && loc != nil && utc.Time.Equal(local.Time) {
			l := local.WallIn(loc)
			if _, off := l.Zone(); off != 0 {
				return l.UTC(), true
			}
		}
		return time.Date(utc.Year(), utc.Month(), utc.Day(), utc.Hour(), utc.Minute(), utc.Second(), utc.Nanosecond(), time.UTC), true
	case !local.IsZero() && local.Zoned:
		return local.UTC(), true
	case !local.IsZero() && loc != nil:
		return local.WallIn(loc).UTC(), true
	default:
		return time.Time{}, false
	}
}

// FilterTimeLayout is the layout of from_/to_ range filters (YYYY-MM-DDTHH:mm).
const FilterTimeLayout = "2006-01-02T15:04"

// FormatFilterTime formats t for a from_{Entity}_{Property} / to_{Entity}_{Property}
// filter, in UTC. The filter has minute precision, so t is truncated: an incremental
// sync that passes its last high-water mark sees the boundary minute again and must
// tolerate repeats.
func FormatFilterTime(t time.Time) string {
	return t.UTC().Format(FilterTimeLayout)
}

// windowsZones maps the Windows zone ids a .NET service may report to IANA names.
// Only the common ones; anything else must already be an IANA name.
var windowsZones = map[string]string{
	"UTC":                             "UTC",
	"GMT Standard Time":               "Europe/London",
	"Greenwich Standard Time":         "Atlantic/Reykjavik",
	"W. Europe Standard Time":         "Europe/Berlin",
	"Romance Standard Time":           "Europe/Paris",
	"Central Europe Standard Time":    "Europe/Budapest",
	"Central European Standard Time":  "Europe/Warsaw",
	"E. Europe Standard Time":         "Europe/Chisinau",
	"FLE Standard Time":               "Europe/Kiev",
	"GTB Standard Time":               "Europe/Bucharest",
	"Eastern Standard Time":           "America/New_York",
	"Central Standard Time":           "America/Chicago",
	"Mountain Standard Time":          "America/Denver",
	"Pacific Standard Time":           "America/Los_Angeles",
	"AUS Eastern Standard Time":       "Australia/Sydney",
	"Singapore Standard Time":         "Asia/Singapore",
	"Tokyo Standard Time":             "Asia/Tokyo",
	"India Standard Time":             "Asia/Kolkata",
	"Arabian Standard Time":           "Asia/Dubai",
	"South Africa Standard Time":      "Africa/Johannesburg",
	"E. South America Standard Time":  "America/Sao_Paulo",
	"Argentina Standard Time":         "America/Buenos_Aires",
	"Mexico Standard Time":            "America/Mexico_City",
	"Central Standard Time (Mexico)":  "America/Mexico_City",
	"New Zealand Standard Time":       "Pacific/Auckland",
	"Turkey Standard Time":            "Europe/Istanbul",
	"Russian Standard Time":           "Europe/Moscow",
	"China Standard Time":             "Asia/Shanghai",
	"W. Central Africa Standard Time": "Africa/Lagos",
}

// LoadZone resolves a Nexudus time zone name (IANA, or a common Windows id) to a
// location.
func LoadZone(name string) (*time.Location, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return nil, fmt.Errorf("nexudus: empty time zone")
	}
	if iana, ok := windowsZones[name]; ok {
		name = iana
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("nexudus: unknown time zone %q: %w", name, err)
	}
	return loc, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
