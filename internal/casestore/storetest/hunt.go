package storetest

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/kintsugi-ir/kintsugi/internal/casestore"
)

var huntT0 = time.Date(2024, 3, 9, 17, 0, 0, 0, time.UTC)

func huntResult(host, run int64, accessed bool, n int) (casestore.HuntHost, []casestore.HuntDetection, []casestore.HuntLogon) {
	h := casestore.HuntHost{HostID: host, RunID: run, Accessed: accessed, Encrypted: true, Exfiltrated: false,
		FirstSeen: huntT0, LastSeen: huntT0.Add(time.Hour), Evidence: n, Data: json.RawMessage(`{"host":"fs01"}`)}
	var ds []casestore.HuntDetection
	for i := range n {
		ds = append(ds, casestore.HuntDetection{HostID: host, RunID: run, Time: huntT0.Add(time.Duration(n-i) * time.Minute),
			RuleID: "exfil-tool", Engine: "builtin", Title: "Exfiltration tool run", Severity: "high", Category: "exfiltration",
			Account: "CORP\\admin", Source: "10.0.0.5", Data: json.RawMessage(`{"details":"rclone copy"}`)})
	}
	ls := []casestore.HuntLogon{{HostID: host, RunID: run, Account: "admin", Source: "10.0.0.66", Kinds: []string{"network", "rdp"},
		First: huntT0, Last: huntT0.Add(time.Minute), Count: 3, Privileged: true, Suspicious: accessed}}
	return h, ds, ls
}

// testHuntReplace: a later hunt replaces a host's verdict, detections and
// logons, and leaves other hosts alone.
func testHuntReplace(t *testing.T, s casestore.Store) {
	ctx := context.Background()
	a, err := s.Host(ctx, "fs01")
	must(t, err)
	b, err := s.Host(ctx, "fs02")
	must(t, err)
	putHunt(t, s, a.ID, 1, true, 3)
	putHunt(t, s, b.ID, 1, true, 2)
	putHunt(t, s, a.ID, 2, false, 1)

	hs, err := s.HuntHosts(ctx)
	must(t, err)
	if len(hs) != 2 {
		t.Fatalf("HuntHosts = %d, want 2", len(hs))
	}
	got := hs[slices.IndexFunc(hs, func(h casestore.HuntHost) bool { return h.HostID == a.ID })]
	if got.RunID != 2 || got.Accessed || !got.Encrypted || got.Exfiltrated || got.Evidence != 1 ||
		!got.FirstSeen.Equal(huntT0) || !got.LastSeen.Equal(huntT0.Add(time.Hour)) || string(got.Data) != `{"host":"fs01"}` || got.Updated.IsZero() {
		t.Fatalf("replaced verdict = %+v", got)
	}
	var n int
	must(t, s.HuntDetections(ctx, a.ID, func(casestore.HuntDetection) error { n++; return nil }))
	if n != 1 {
		t.Fatalf("detections of replaced host = %d, want 1", n)
	}
	ls, err := s.HuntLogons(ctx, b.ID)
	must(t, err)
	if len(ls) != 1 || !ls[0].Suspicious || !slices.Equal(ls[0].Kinds, []string{"network", "rdp"}) || ls[0].Count != 3 || !ls[0].Privileged {
		t.Fatalf("logons of the other host = %+v", ls)
	}
	if err := s.PutHunt(ctx, casestore.HuntHost{HostID: a.ID, Data: json.RawMessage(`{`)}, nil, nil); err == nil {
		t.Fatal("PutHunt accepted invalid JSON")
	}
}

// testHuntQueries: detections come back oldest first, for one host or all.
func testHuntQueries(t *testing.T, s casestore.Store) {
	ctx := context.Background()
	a, err := s.Host(ctx, "web01")
	must(t, err)
	b, err := s.Host(ctx, "db02")
	must(t, err)
	putHunt(t, s, a.ID, 7, true, 4)
	putHunt(t, s, b.ID, 7, true, 2)
	var times []time.Time
	var d0 casestore.HuntDetection
	must(t, s.HuntDetections(ctx, 0, func(d casestore.HuntDetection) error {
		if len(times) == 0 {
			d0 = d
		}
		times = append(times, d.Time)
		return nil
	}))
	if len(times) != 6 || !slices.IsSortedFunc(times, func(x, y time.Time) int { return x.Compare(y) }) {
		t.Fatalf("all detections = %v", times)
	}
	if d0.RuleID != "exfil-tool" || d0.Account != "CORP\\admin" || d0.Severity != "high" || string(d0.Data) != `{"details":"rclone copy"}` || d0.RunID != 7 {
		t.Fatalf("detection = %+v", d0)
	}
	all, err := s.HuntLogons(ctx, 0)
	must(t, err)
	if len(all) != 2 {
		t.Fatalf("all logons = %d", len(all))
	}
}

func putHunt(t *testing.T, s casestore.Store, host, run int64, accessed bool, n int) {
	t.Helper()
	h, ds, ls := huntResult(host, run, accessed, n)
	must(t, s.PutHunt(context.Background(), h, ds, ls))
}
