package domain

import (
	"testing"
	"time"
)

// dayNumber must floor, not truncate, before 1970: otherwise the last hour of
// 1969-12-31 and the first of 1970-01-01 would be the same day. The public
// API only reaches it with midnights or post-2000 times, hence this test.
func TestDayNumberFloors(t *testing.T) {
	tests := []struct {
		in   time.Time
		want int64
	}{
		{time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC), 0},
		{time.Date(1970, 1, 1, 23, 59, 59, 0, time.UTC), 0},
		{time.Date(1969, 12, 31, 23, 0, 0, 0, time.UTC), -1},
		{time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC), -1},
		{time.Date(1969, 12, 30, 23, 59, 59, 0, time.UTC), -2},
		{time.Date(2026, 1, 5, 12, 0, 0, 0, time.FixedZone("X", -11*3600)), 20458}, // 23:00 UTC on the 5th
	}
	for _, tt := range tests {
		if got := dayNumber(tt.in); got != tt.want {
			t.Errorf("dayNumber(%v) = %d, want %d", tt.in, got, tt.want)
		}
	}
}
