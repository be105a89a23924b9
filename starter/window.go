package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// parseWhen reads a --from / --to value: "now", an offset from now ("+7d", "-2h", "+90m"), an RFC 3339
// instant, or a date or date-time without zone ("2026-05-01", "2026-05-01T09:00"), read in the local time
// zone like any command-line tool does.
func parseWhen(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "" || strings.EqualFold(s, "now"):
		return now, nil
	case strings.HasPrefix(s, "+") || strings.HasPrefix(s, "-"):
		d, err := parseOffset(s)
		if err != nil {
			return time.Time{}, err
		}
		return now.Add(d), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time: use now, +7d, -2h, 2026-05-01, 2026-05-01T09:00 or RFC 3339", s)
}

// parseOffset is time.ParseDuration plus a day unit ("7d", "1d12h").
func parseOffset(s string) (time.Duration, error) {
	sign := time.Duration(1)
	if s[0] == '-' {
		sign = -1
	}
	body := s[1:]
	var days time.Duration
	if i := strings.IndexByte(body, 'd'); i >= 0 {
		n, err := strconv.Atoi(body[:i])
		if err != nil {
			return 0, fmt.Errorf("%q is not an offset like +7d or -2h", s)
		}
		days = time.Duration(n) * 24 * time.Hour
		body = body[i+1:]
	}
	var rest time.Duration
	if body != "" {
		d, err := time.ParseDuration(body)
		if err != nil || d < 0 {
			return 0, fmt.Errorf("%q is not an offset like +7d or -2h", s)
		}
		rest = d
	}
	return sign * (days + rest), nil
}
