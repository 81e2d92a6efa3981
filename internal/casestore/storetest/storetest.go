// Package storetest is the conformance suite for casestore.Store: every
// implementation (sqlite today, postgres later) runs Run from its own tests
// and must pass all of it, so callers never depend on one backend.
package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/kintsugi-ir/kintsugi/internal/casestore"
	"github.com/kintsugi-ir/kintsugi/internal/incident"
)

// Opener returns a fresh, empty store for one subtest.
type Opener func(t *testing.T) casestore.Store

// Run runs the whole suite against the stores open returns.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s casestore.Store)
	}{
		{"Hosts", testHosts},
		{"Runs", testRuns},
		{"FilesRoundTrip", testFilesRoundTrip},
		{"FilesReplace", testFilesReplace},
		{"RawPaths", testRawPaths},
		{"FilesQuery", testFilesQuery},
		{"ConcurrentBatches", testConcurrentBatches},
		{"Triage", testTriage},
		{"HostSummary", testHostSummary},
		{"NotFound", testNotFound},
		{"HuntReplace", testHuntReplace},
		{"HuntQueries", testHuntQueries},
		{"MigrateJournal", testMigrateJournal},
		{"MigrateEntriesPaging", testMigrateEntriesPaging},
		{"WatchAlerts", testWatchAlerts},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() { s.Close() })
			tc.fn(t, s)
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func testHosts(t *testing.T, s casestore.Store) {
	ctx := context.Background()
	a, err := s.Host(ctx, "fs01")
	must(t, err)
	b, err := s.Host(ctx, "fs01")
	must(t, err)
	if a.ID == 0 || a.ID != b.ID {
		t.Fatalf("Host twice: ids %d and %d, want the same non-zero id", a.ID, b.ID)
	}
	_, err = s.Host(ctx, "編集サーバー")
	must(t, err)
	hs, err := s.Hosts(ctx)
	must(t, err)
	if len(hs) != 2 || hs[0].Name != "fs01" || hs[1].Name != "編集サーバー" {
		t.Fatalf("Hosts = %+v", hs)
	}
	if _, err := s.Host(ctx, ""); err == nil {
		t.Fatal("Host(\"\") succeeded; want an error")
	}
}

func testRuns(t *testing.T, s casestore.Store) {
	ctx := context.Background()
	h, err := s.Host(ctx, "fs01")
	must(t, err)
	id, err := s.BeginRun(ctx, incident.Run{HostID: h.ID, Kind: incident.RunScan, Args: []string{"scan", "/mnt"}, RuleSet: "abc"})
	must(t, err)
	id2, err := s.BeginRun(ctx, incident.Run{HostID: h.ID, Kind: incident.RunHunt})
	must(t, err)
	must(t, s.FinishRun(ctx, id, incident.RunDone, json.RawMessage(`{"files":3}`)))
	rs, err := s.Runs(ctx, h.ID, incident.RunScan)
	must(t, err)
	if len(rs) != 1 || rs[0].ID != id || rs[0].Status != incident.RunDone || rs[0].RuleSet != "abc" ||
		len(rs[0].Args) != 2 || string(rs[0].Stats) != `{"files":3}` || rs[0].Finished.IsZero() {
		t.Fatalf("Runs(scan) = %+v", rs)
	}
	all, err := s.Runs(ctx, 0, "")
	must(t, err)
	if len(all) != 2 || all[1].ID != id2 || all[1].Status != incident.RunRunning {
		t.Fatalf("Runs(all) = %+v", all)
	}
	if err := s.FinishRun(ctx, 9999, incident.RunDone, nil); !errors.Is(err, casestore.ErrNotFound) {
		t.Fatalf("FinishRun(unknown) = %v, want ErrNotFound", err)
	}
}

func sampleRecord(host int64, path string, v incident.Verdict) casestore.FileRecord {
	t0 := time.Date(2025, 12, 3, 1, 2, 3, 456789000, time.UTC)
	r := casestore.FileRecord{
		HostID: host, Path: []byte(path), Size: 1234, ModTime: t0, ChangeTime: t0.Add(time.Second),
		Dev: 2049, Ino: 1 << 40, Mode: 0o100644, SHA256: "e3b0", Verdict: v, Reason: "",
		RuleSet: "rs1", Reusable: true, RunID: 1, ScannedAt: t0.Add(time.Hour),
	}
	if v != incident.Clean {
		r.Reason = "because"
		r.Findings = []incident.Finding{
			{Detector: "yara", Rule: "EICAR", Verdict: v, Severity: incident.High, Reason: "matched", Evidence: json.RawMessage(`{"strings":["$a"]}`)},
			{Detector: "archive", Verdict: incident.Unscannable, Reason: "encrypted member", Member: "x.zip!y"},
		}
	}
	return r
}

func testFilesRoundTrip(t *testing.T, s casestore.Store) {
	ctx := context.Background()
	h, err := s.Host(ctx, "fs01")
	must(t, err)
	want := sampleRecord(h.ID, "/mnt/fs01/a.exe", incident.Malicious)
	must(t, s.PutFiles(ctx, []casestore.FileRecord{want}))
	got, err := s.File(ctx, h.ID, want.Path)
	must(t, err)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("File round trip:\n got %+v\nwant %+v", got, want)
	}
	ids, err := s.FileIdentities(ctx, h.ID)
	must(t, err)
	if ids["/mnt/fs01/a.exe"] != want.Identity() {
		t.Fatalf("FileIdentities = %+v, want %+v", ids, want.Identity())
	}
}

func testFilesReplace(t *testing.T, s casestore.Store) {
	ctx := context.Background()
	h, err := s.Host(ctx, "fs01")
	must(t, err)
	must(t, s.PutFiles(ctx, []casestore.FileRecord{sampleRecord(h.ID, "/a", incident.Malicious)}))
	clean := sampleRecord(h.ID, "/a", incident.Clean)
	clean.Size = 99
	must(t, s.PutFiles(ctx, []casestore.FileRecord{clean}))
	got, err := s.File(ctx, h.ID, []byte("/a"))
	must(t, err)
	if got.Verdict != incident.Clean || got.Size != 99 || len(got.Findings) != 0 {
		t.Fatalf("after replace: %+v, want clean, size 99, no findings", got)
	}
	bad := sampleRecord(h.ID, "/b", "nonsense")
	if err := s.PutFiles(ctx, []casestore.FileRecord{sampleRecord(h.ID, "/c", incident.Clean), bad}); err == nil {
		t.Fatal("PutFiles with an invalid verdict succeeded")
	}
	if _, err := s.File(ctx, h.ID, []byte("/c")); !errors.Is(err, casestore.ErrNotFound) {
		t.Fatalf("a failed batch left /c behind (err %v): batches must be atomic", err)
	}
}

func testRawPaths(t *testing.T, s casestore.Store) {
	ctx := context.Background()
	h, err := s.Host(ctx, "fs01")
	must(t, err)
	// "契約書.txt" in Shift-JIS, and bytes that are not valid in any encoding.
	paths := [][]byte{
		append([]byte("/share/"), 0x8c, 0x5f, 0x96, 0xf1, 0x8f, 0x91, '.', 't', 'x', 't'),
		[]byte("/share/\xff\xfe\x00name"),
		[]byte("/share/ファイル.mov"),
	}
	var recs []casestore.FileRecord
	for _, p := range paths {
		r := sampleRecord(h.ID, "", incident.Clean)
		r.Path = p
		recs = append(recs, r)
	}
	must(t, s.PutFiles(ctx, recs))
	for _, p := range paths {
		got, err := s.File(ctx, h.ID, p)
		must(t, err)
		if !bytes.Equal(got.Path, p) {
			t.Fatalf("path %q came back as %q", p, got.Path)
		}
	}
}

func testFilesQuery(t *testing.T, s casestore.Store) {
	ctx := context.Background()
	h, err := s.Host(ctx, "fs01")
	must(t, err)
	other, err := s.Host(ctx, "fs02")
	must(t, err)
	must(t, s.PutFiles(ctx, []casestore.FileRecord{
		sampleRecord(h.ID, "/x/1", incident.Clean),
		sampleRecord(h.ID, "/x/2", incident.Encrypted),
		sampleRecord(h.ID, "/y/3", incident.Malicious),
		sampleRecord(other.ID, "/x/9", incident.Malicious),
	}))
	var got []string
	must(t, s.Files(ctx, h.ID, casestore.FileQuery{Verdicts: []incident.Verdict{incident.Encrypted, incident.Malicious}, WithFindings: true}, func(r casestore.FileRecord) error {
		if len(r.Findings) != 2 {
			return fmt.Errorf("%s: %d findings, want 2", r.Path, len(r.Findings))
		}
		got = append(got, string(r.Path))
		return nil
	}))
	if fmt.Sprint(got) != "[/x/2 /y/3]" {
		t.Fatalf("Files(verdicts) = %v", got)
	}
	got = nil
	must(t, s.Files(ctx, h.ID, casestore.FileQuery{PathPrefix: []byte("/x/")}, func(r casestore.FileRecord) error {
		got = append(got, string(r.Path))
		return nil
	}))
	if fmt.Sprint(got) != "[/x/1 /x/2]" {
		t.Fatalf("Files(prefix) = %v", got)
	}
	counts, err := s.VerdictCounts(ctx, h.ID)
	must(t, err)
	if counts[incident.Clean] != (casestore.Count{Files: 1, Bytes: 1234}) || counts[incident.Malicious].Files != 1 || len(counts) != 3 {
		t.Fatalf("VerdictCounts = %+v", counts)
	}
}

func testConcurrentBatches(t *testing.T, s casestore.Store) {
	ctx := context.Background()
	h, err := s.Host(ctx, "fs01")
	must(t, err)
	const workers, batches, per = 4, 10, 50
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range batches {
				recs := make([]casestore.FileRecord, per)
				for i := range recs {
					recs[i] = sampleRecord(h.ID, fmt.Sprintf("/w%d/b%d/f%d", w, b, i), incident.Encrypted)
				}
				if err := s.PutFiles(ctx, recs); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	counts, err := s.VerdictCounts(ctx, h.ID)
	must(t, err)
	if counts[incident.Encrypted].Files != workers*batches*per {
		t.Fatalf("stored %d files, want %d", counts[incident.Encrypted].Files, workers*batches*per)
	}
}

func testTriage(t *testing.T, s casestore.Store) {
	ctx := context.Background()
	h, err := s.Host(ctx, "fs01")
	must(t, err)
	r := casestore.TriageRecord{HostID: h.ID, Path: []byte("/v.mp4.lockbit"), Size: 10, Verdict: incident.Encrypted, Reason: "head",
		Findings: []incident.Finding{{Detector: "damage", Rule: "head", Verdict: incident.Encrypted, Reason: "random head"}}, RunID: 3}
	must(t, s.PutTriage(ctx, []casestore.TriageRecord{r}))
	r.Size = 11
	must(t, s.PutTriage(ctx, []casestore.TriageRecord{r}))
	var got []casestore.TriageRecord
	must(t, s.Triage(ctx, h.ID, func(r casestore.TriageRecord) error { got = append(got, r); return nil }))
	if len(got) != 1 || got[0].Size != 11 || len(got[0].Findings) != 1 || got[0].Findings[0].Rule != "head" {
		t.Fatalf("Triage = %+v", got)
	}
	if _, err := s.File(ctx, h.ID, r.Path); !errors.Is(err, casestore.ErrNotFound) {
		t.Fatal("triage leaked into files: a quick result must never look like a screening verdict")
	}
}

func testHostSummary(t *testing.T, s casestore.Store) {
	ctx := context.Background()
	h, err := s.Host(ctx, "fs01")
	must(t, err)
	must(t, s.PutHostSummary(ctx, h.ID, "impact", json.RawMessage(`{"count":1}`)))
	must(t, s.PutHostSummary(ctx, h.ID, "impact", json.RawMessage(`{"count":2}`)))
	d, err := s.HostSummary(ctx, h.ID, "impact")
	must(t, err)
	if string(d) != `{"count":2}` {
		t.Fatalf("HostSummary = %s", d)
	}
	if err := s.PutHostSummary(ctx, h.ID, "impact", json.RawMessage(`{`)); err == nil {
		t.Fatal("PutHostSummary accepted invalid JSON")
	}
}

func testNotFound(t *testing.T, s casestore.Store) {
	ctx := context.Background()
	if _, err := s.File(ctx, 1, []byte("/nope")); !errors.Is(err, casestore.ErrNotFound) {
		t.Fatalf("File(missing) = %v, want ErrNotFound", err)
	}
	if _, err := s.HostSummary(ctx, 1, "impact"); !errors.Is(err, casestore.ErrNotFound) {
		t.Fatalf("HostSummary(missing) = %v, want ErrNotFound", err)
	}
}

func testMigrateJournal(t *testing.T, s casestore.Store) {
	ctx := context.Background()
	src := []byte("/mnt/fs01/\x8c\x5f")
	j, err := s.MigrateJob(ctx, src, "s3://bucket/fs01", "rs1")
	must(t, err)
	again, err := s.MigrateJob(ctx, src, "s3://bucket/fs01", "rs1")
	must(t, err)
	other, err := s.MigrateJob(ctx, src, "s3://bucket/fs01", "rs2")
	must(t, err)
	if j.ID == 0 || again.ID != j.ID || other.ID == j.ID || !bytes.Equal(again.Source, src) || again.Created.IsZero() {
		t.Fatalf("MigrateJob: %+v, again %+v, other rule set %+v", j, again, other)
	}
	t0 := time.Date(2025, 12, 3, 1, 2, 3, 456789000, time.UTC)
	want := casestore.MigrateEntry{
		JobID: j.ID, Path: []byte("dir/\x8c\x5f.txt"), State: casestore.MigrateCopying, Temp: ".kintsugi-tmp-1", DestKey: "dir/x.txt",
		Size: 10, ModTime: t0, ChangeTime: t0.Add(time.Second), Dev: 7, Ino: 1 << 40, Mode: 0o100644, Attempts: 1, Updated: t0,
		Notes: []string{"name mapped"},
	}
	must(t, s.PutMigrateEntries(ctx, []casestore.MigrateEntry{want}))
	got, err := s.MigrateEntry(ctx, j.ID, want.Path)
	must(t, err)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("MigrateEntry round trip:\n got %+v\nwant %+v", got, want)
	}
	want.State, want.Temp, want.SHA256, want.Verdict, want.Verify, want.VerifiedAt, want.ScannedAt = casestore.MigrateVerified, "", "ab", incident.Clean, "ok", t0, t0
	refused := casestore.MigrateEntry{JobID: j.ID, Path: []byte("a/eicar.com"), State: casestore.MigrateRefused, DestKey: "a/eicar.com",
		Verdict: incident.Malicious, Reason: "EICAR", FromScan: true, Updated: t0,
		Findings: []incident.Finding{{Detector: "yara", Rule: "eicar", Verdict: incident.Malicious, Reason: "EICAR"}}}
	must(t, s.PutMigrateEntries(ctx, []casestore.MigrateEntry{want, refused}))
	if got, err = s.MigrateEntry(ctx, j.ID, want.Path); err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after update: %+v, %v; want %+v", got, err, want)
	}
	byKey, err := s.MigrateEntryByKey(ctx, j.ID, "dir/x.txt")
	must(t, err)
	if !bytes.Equal(byKey.Path, want.Path) {
		t.Fatalf("MigrateEntryByKey = %q", byKey.Path)
	}
	if _, err := s.MigrateEntryByKey(ctx, other.ID, "dir/x.txt"); !errors.Is(err, casestore.ErrNotFound) {
		t.Fatalf("MigrateEntryByKey(other job) = %v, want ErrNotFound", err)
	}
	var paths []string
	must(t, s.MigrateEntries(ctx, j.ID, nil, func(e casestore.MigrateEntry) error {
		paths = append(paths, string(e.Path))
		if e.State == casestore.MigrateRefused && (len(e.Findings) != 1 || !e.FromScan) {
			return fmt.Errorf("refused entry lost its findings: %+v", e)
		}
		return nil
	}))
	if fmt.Sprint(paths) != fmt.Sprint([]string{"a/eicar.com", "dir/\x8c\x5f.txt"}) {
		t.Fatalf("MigrateEntries = %q", paths)
	}
	paths = nil
	must(t, s.MigrateEntries(ctx, j.ID, []string{casestore.MigrateRefused, casestore.MigrateCopying}, func(e casestore.MigrateEntry) error {
		paths = append(paths, string(e.Path))
		return nil
	}))
	if fmt.Sprint(paths) != "[a/eicar.com]" {
		t.Fatalf("MigrateEntries(refused, copying) = %q", paths)
	}
	if _, err := s.MigrateEntry(ctx, other.ID, want.Path); !errors.Is(err, casestore.ErrNotFound) {
		t.Fatalf("entry leaked into another job: %v", err)
	}
	bad := want
	bad.State = "teleported"
	if err := s.PutMigrateEntries(ctx, []casestore.MigrateEntry{bad}); err == nil {
		t.Fatal("PutMigrateEntries accepted an unknown state")
	}
}

func testMigrateEntriesPaging(t *testing.T, s casestore.Store) {
	ctx := context.Background()
	j, err := s.MigrateJob(ctx, []byte("/src"), "/dst", "rs")
	must(t, err)
	const n = 4500
	es := make([]casestore.MigrateEntry, n)
	for i := range es {
		es[i] = casestore.MigrateEntry{JobID: j.ID, Path: []byte(fmt.Sprintf("d/%05d", i)), State: casestore.MigrateVerified, DestKey: fmt.Sprintf("d/%05d", i)}
	}
	must(t, s.PutMigrateEntries(ctx, es))
	i := 0
	must(t, s.MigrateEntries(ctx, j.ID, nil, func(e casestore.MigrateEntry) error {
		if string(e.Path) != fmt.Sprintf("d/%05d", i) {
			return fmt.Errorf("entry %d: %q out of order", i, e.Path)
		}
		i++
		// Writing while iterating must work (resume updates entries).
		if i%1000 == 0 {
			e.State = casestore.MigrateFailed
			return s.PutMigrateEntries(ctx, []casestore.MigrateEntry{e})
		}
		return nil
	}))
	if i != n {
		t.Fatalf("MigrateEntries visited %d of %d", i, n)
	}
}
