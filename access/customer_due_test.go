package access

import (
	"testing"
	"time"
)

func TestChangeDue(t *testing.T) {
	at := func(h, m int) time.Time { return time.Date(2026, 12, 1, h, m, 0, 0, time.UTC) }
	for _, tc := range []struct {
		name                  string
		instant, learned, now time.Time
		want                  time.Time
	}{
		{"on time", at(8, 45), at(7, 0), at(8, 45), at(8, 45)},
		{"timer fired late", at(8, 45), at(7, 0), at(8, 52), at(8, 45)},
		{"booked after its grant instant", at(8, 45), at(9, 30), at(9, 30), at(9, 30)},
		{"cancelled before its end", at(10, 15), at(9, 20), at(9, 20), at(9, 20)},
		{"no instant", time.Time{}, time.Time{}, at(9, 0), at(9, 0)},
		{"learned, no instant", time.Time{}, at(8, 59), at(9, 0), at(8, 59)},
	} {
		if got := ChangeDue(tc.instant, tc.learned, tc.now); !got.Equal(tc.want) {
			t.Errorf("%s: due %s, want %s", tc.name, got.Format(time.TimeOnly), tc.want.Format(time.TimeOnly))
		}
	}
}
