package storetest

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/kintsugi-ir/kintsugi/internal/casestore"
)

// testWatchAlerts: alerts are kept per host, oldest first, and storing an
// alert twice keeps one copy.
func testWatchAlerts(t *testing.T, s casestore.Store) {
	ctx := context.Background()
	a, err := s.Host(ctx, "fs01")
	must(t, err)
	b, err := s.Host(ctx, "fs02")
	must(t, err)
	t0 := time.Date(2024, 3, 9, 2, 0, 0, 0, time.UTC)
	put := func(id string, host int64, at time.Time) {
		must(t, s.PutWatchAlert(ctx, casestore.WatchAlert{ID: id, HostID: host, Time: at, Kind: "ransomware", Rule: "ransomware-behaviour",
			Severity: "critical", Title: "Ransomware behaviour: process tree stopped", Summary: "lock (pid 4242)",
			Data: json.RawMessage(`{"id":"` + id + `"}`)}))
	}
	put("w2", a.ID, t0.Add(time.Minute))
	put("w1", a.ID, t0)
	put("w3", b.ID, t0.Add(2*time.Minute))
	put("w1", a.ID, t0) // again
	var ids []string
	must(t, s.WatchAlerts(ctx, a.ID, func(w casestore.WatchAlert) error {
		ids = append(ids, w.ID)
		if w.Severity != "critical" || w.Kind != "ransomware" || string(w.Data) != `{"id":"`+w.ID+`"}` || w.HostID != a.ID {
			t.Errorf("alert = %+v", w)
		}
		return nil
	}))
	if len(ids) != 2 || ids[0] != "w1" || ids[1] != "w2" {
		t.Fatalf("alerts of fs01 = %v, want w1 w2", ids)
	}
	var all int
	must(t, s.WatchAlerts(ctx, 0, func(w casestore.WatchAlert) error {
		all++
		if w.ID == "w1" && !w.Time.Equal(t0) {
			t.Errorf("time = %v", w.Time)
		}
		return nil
	}))
	if all != 3 {
		t.Fatalf("all alerts = %d, want 3", all)
	}
	if err := s.PutWatchAlert(ctx, casestore.WatchAlert{ID: "bad", HostID: a.ID, Data: json.RawMessage(`{`)}); err == nil {
		t.Fatal("invalid JSON accepted")
	}
}
