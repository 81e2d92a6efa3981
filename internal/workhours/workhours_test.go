package workhours

import (
	"testing"
	"time"
)

func TestHours(t *testing.T) {
	var h Hours
	if err := h.Fill(); err != nil {
		t.Fatal(err)
	}
	jst := time.FixedZone("JST", 9*3600)
	cases := []struct {
		t    time.Time
		want bool
	}{
		{time.Date(2025, 12, 1, 8, 0, 0, 0, jst), true},       // Monday 08:00
		{time.Date(2025, 12, 1, 18, 59, 0, 0, jst), true},     // Monday 18:59
		{time.Date(2025, 12, 1, 19, 0, 0, 0, jst), false},     // Monday 19:00
		{time.Date(2025, 12, 1, 7, 59, 0, 0, jst), false},     // Monday 07:59
		{time.Date(2025, 12, 6, 10, 0, 0, 0, jst), false},     // Saturday
		{time.Date(2025, 12, 1, 1, 30, 0, 0, time.UTC), true}, // 10:30 in Tokyo
	}
	for _, c := range cases {
		if got := h.Contains(c.t); got != c.want {
			t.Errorf("%v: in working hours %v, want %v", c.t, got, c.want)
		}
	}
	bad := Hours{WorkStart: 19, WorkEnd: 8}
	if err := bad.Fill(); err == nil {
		t.Error("19-8 accepted")
	}
}
