// Package workhours holds a site's working hours, shared by hunt's
// off-hours rule and the watch agent's account detector: an administrator
// logging on outside them is one of the signs of a stolen account.
package workhours

import (
	"fmt"
	"slices"
	"time"
)

// Hours are working hours: [WorkStart, WorkEnd) o'clock on WorkDays, in
// Location. The zero value of a field means its default: Asia/Tokyo, 8 to
// 19, Monday to Friday.
type Hours struct {
	Location           *time.Location
	WorkStart, WorkEnd int
	WorkDays           []time.Weekday
}

// Fill sets the defaults of zero fields and checks the bounds.
func (h *Hours) Fill() error {
	if h.Location == nil {
		loc, err := time.LoadLocation("Asia/Tokyo")
		if err != nil { // no zoneinfo on the machine
			loc = time.FixedZone("JST", 9*3600)
		}
		h.Location = loc
	}
	if h.WorkStart == 0 && h.WorkEnd == 0 {
		h.WorkStart, h.WorkEnd = 8, 19
	}
	if h.WorkStart < 0 || h.WorkEnd > 24 || h.WorkStart >= h.WorkEnd {
		return fmt.Errorf("working hours %d-%d: want 0 <= start < end <= 24", h.WorkStart, h.WorkEnd)
	}
	if h.WorkDays == nil {
		h.WorkDays = []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday}
	}
	return nil
}

// Contains reports whether t falls in working hours (after Fill).
func (h *Hours) Contains(t time.Time) bool {
	t = t.In(h.Location)
	return slices.Contains(h.WorkDays, t.Weekday()) && t.Hour() >= h.WorkStart && t.Hour() < h.WorkEnd
}
