package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/kintsugi-ir/kintsugi/internal/demo"
	"github.com/kintsugi-ir/kintsugi/internal/migrate/dest/local"
	"github.com/kintsugi-ir/kintsugi/internal/migrate/dest/s3/s3test"
	"github.com/kintsugi-ir/kintsugi/internal/migrate/manifest"
)

// migrateTree is a source tree for migrate tests and what should arrive.
type migrateTree struct {
	dir     string
	clean   map[string][]byte // relative path -> content of every file that must migrate
	refused map[string]bool
}

// randomText is n bytes of log-like text: distinct per seed, and plain
// enough that the ransomware-damage detector calls it intact (random
// bytes would rightly look encrypted).
func randomText(r *rand.Rand, n int) []byte {
	words := []string{"render", "frame", "shot", "colour", "grade", "subtitle", "export", "proxy", "編集", "納品", "字幕", "確認", "client", "timeline", "audio", "mix"}
	var b bytes.Buffer
	for b.Len() < n {
		fmt.Fprintf(&b, "%06d %s %s %s %d\n", r.IntN(1000000), words[r.IntN(len(words))], words[r.IntN(len(words))], words[r.IntN(len(words))], r.IntN(1<<30))
	}
	return b.Bytes()
}

// newMigrateTree writes a tree: small and multi-MB files in nested
// folders, an empty file, a Japanese name, the EICAR test file.
func newMigrateTree(t *testing.T, seed uint64, big int) *migrateTree {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 2))
	mt := &migrateTree{dir: t.TempDir(), clean: map[string][]byte{}, refused: map[string]bool{}}
	add := func(rel string, b []byte) {
		p := filepath.Join(mt.dir, rel)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		mt.clean[rel] = b
	}
	for i := range 24 {
		add(fmt.Sprintf("docs/d%d/file%02d.txt", i%4, i), randomText(r, 1+r.IntN(200<<10)))
	}
	for i := range big {
		add(fmt.Sprintf("video/clip%d.log", i), randomText(r, 5<<20+r.IntN(2<<20)))
	}
	add("empty", nil)
	add("編集/字幕.srt", []byte("1\n00:00:01,000 --> 00:00:02,000\nこんにちは\n"))
	p := filepath.Join(mt.dir, "tools", "eicar.com")
	os.MkdirAll(filepath.Dir(p), 0o755)
	os.WriteFile(p, demo.EICAR(), 0o644)
	mt.refused["tools/eicar.com"] = true
	return mt
}

func newSignKey(t *testing.T) string {
	t.Helper()
	k := filepath.Join(t.TempDir(), "migrate.key")
	if r := kintsugi(t, nil, "key", "generate", "-o", k); r.code != 0 || !strings.Contains(r.stdout, "key id:") {
		t.Fatalf("key generate: %+v", r)
	}
	return k
}

// localFiles lists the files under dir; temporaries are counted apart.
func localFiles(t *testing.T, dir string) (map[string][]byte, int) {
	t.Helper()
	out := map[string][]byte{}
	temps := 0
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return nil
		}
		if strings.HasPrefix(fi.Name(), local.TempPrefix) {
			temps++
			return nil
		}
		b, _ := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		out[rel] = b
		return nil
	})
	return out, temps
}

// s3Files lists the objects under prefix; temporaries and incomplete
// uploads are counted apart.
func s3Files(t *testing.T, srv *s3test.Server, prefix string) (map[string][]byte, int) {
	t.Helper()
	out := map[string][]byte{}
	temps := 0
	for u := range srv.Client.ListIncompleteUploads(context.Background(), srv.Bucket, prefix+"/", true) {
		if u.Err != nil {
			t.Fatal(u.Err)
		}
		t.Logf("incomplete upload: %s (%s, initiated %s)", u.Key, u.UploadID, u.Initiated.Format(time.RFC3339Nano))
		temps++
	}
	for k := range srv.Objects(t, prefix+"/") {
		rel := strings.TrimPrefix(k, prefix+"/")
		if strings.HasPrefix(rel, ".kintsugi-tmp/") {
			t.Logf("temporary object: %s", k)
			temps++
			continue
		}
		o, err := srv.Client.GetObject(context.Background(), srv.Bucket, k, minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(o)
		o.Close()
		if err != nil {
			t.Fatal(err)
		}
		out[rel] = b
	}
	return out, temps
}

// checkPartial is the invariant that must hold at every moment, also right
// after a kill -9: whatever sits under a final name is a complete, correct
// copy of a clean source file. It returns the number of such files.
func checkPartial(t *testing.T, mt *migrateTree, got map[string][]byte) int {
	t.Helper()
	for rel, b := range got {
		want, ok := mt.clean[rel]
		if !ok {
			t.Errorf("destination holds %q, which is not a clean source file", rel)
			continue
		}
		if !bytes.Equal(b, want) {
			t.Errorf("CORRUPT: %q at the destination has %d bytes that differ from the %d-byte source", rel, len(b), len(want))
		}
	}
	return len(got)
}

func checkComplete(t *testing.T, mt *migrateTree, got map[string][]byte, temps int) {
	t.Helper()
	checkPartial(t, mt, got)
	for rel := range mt.clean {
		if _, ok := got[rel]; !ok {
			t.Errorf("LOST: %q never arrived", rel)
		}
	}
	if temps > 0 {
		t.Errorf("%d temporaries or incomplete uploads left after the job completed", temps)
	}
}

type migrateSummary struct {
	Counts       manifest.Counts `json:"job_counts"`
	MigratedNow  int64           `json:"migrated_this_run"`
	Unchanged    int64           `json:"unchanged"`
	Recovered    int64           `json:"recovered"`
	Manifest     string          `json:"manifest"`
	KeyID        string          `json:"key_id"`
	VerifyMethod string          `json:"verify_method"`
	BytesCopied  int64           `json:"bytes_copied"`
}

func parseSummary(t *testing.T, r result) migrateSummary {
	t.Helper()
	var s migrateSummary
	if err := json.Unmarshal([]byte(strings.TrimSpace(r.stdout)), &s); err != nil {
		t.Fatalf("summary %q: %v (stderr %s)", r.stdout, err, r.stderr)
	}
	return s
}

func readManifest(t *testing.T, path string) []manifest.Record {
	t.Helper()
	var recs []manifest.Record
	rep, err := manifest.Verify(mustOpen(t, path), manifest.VerifyOptions{Each: func(_ int64, r *manifest.Record) error {
		recs = append(recs, *r)
		return nil
	}})
	if err != nil || !rep.OK() {
		t.Fatalf("manifest %s: %v %+v", path, err, rep)
	}
	return recs
}

func mustOpen(t *testing.T, p string) *os.File {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestMigrateLocalEndToEnd(t *testing.T) {
	mt := newMigrateTree(t, 1, 1)
	sjis := string([]byte{0x8c, 0x5f, 0x96, 0xf1}) + ".txt"
	os.WriteFile(filepath.Join(mt.dir, sjis), []byte("shift-jis name"), 0o600)
	mt.clean[sjis] = []byte("shift-jis name")
	old := time.Date(2018, 5, 6, 7, 8, 9, 0, time.UTC)
	os.Chtimes(filepath.Join(mt.dir, sjis), old, old)
	os.Symlink("docs", filepath.Join(mt.dir, "link-to-docs"))
	syscall.Mkfifo(filepath.Join(mt.dir, "pipe"), 0o644)
	mt.refused["pipe"] = true
	key := newSignKey(t)
	env := caseEnv(t)
	dst := filepath.Join(t.TempDir(), "clean")
	man := filepath.Join(t.TempDir(), "fs01.jsonl")
	q := filepath.Join(t.TempDir(), "quarantine")

	// Without a key: refused, with advice, before anything is written.
	r := kintsugi(t, env, "migrate", mt.dir, dst)
	if r.code != 2 || !strings.Contains(r.stderr, "--sign-key") || !strings.Contains(r.stderr, "kintsugi key generate") {
		t.Fatalf("no key: %+v", r)
	}
	if _, err := os.Stat(dst); err == nil {
		t.Fatal("migrate without a key created the destination")
	}
	// The plan names the destination to be and creates nothing.
	r = kintsugi(t, env, "migrate", "--dry-run", mt.dir, dst)
	if r.code != 0 || !strings.Contains(r.stdout, "to read, screen, copy and verify") || !strings.Contains(r.stdout, dst) {
		t.Fatalf("dry run: %+v", r)
	}
	if _, err := os.Stat(dst); err == nil {
		t.Fatal("--dry-run created the destination")
	}

	r = kintsugi(t, env, "migrate", "--sign-key", key, "--manifest", man, "--quarantine", q, "--format", "jsonl", mt.dir, dst)
	if r.code != 1 {
		t.Fatalf("migrate: exit %d, want 1 (EICAR refused)\n%s%s", r.code, r.stdout, r.stderr)
	}
	s := parseSummary(t, r)
	if s.Counts.Migrated != int64(len(mt.clean)) || s.Counts.Refused != 2 || s.Counts.Skipped != 1 || s.Counts.Failed != 0 {
		t.Fatalf("counts %+v", s.Counts)
	}
	got, temps := localFiles(t, dst)
	checkComplete(t, mt, got, temps)
	fi, err := os.Stat(filepath.Join(dst, sjis))
	if err != nil || !fi.ModTime().Equal(old) || fi.Mode().Perm() != 0o600 {
		t.Fatalf("Shift-JIS file: %v, mtime and mode not kept (%v)", err, fi)
	}
	recs := readManifest(t, man)
	byPath := map[string]manifest.Record{}
	for _, rec := range recs {
		p, _ := rec.SourcePath()
		byPath[p] = rec
	}
	if e := byPath["tools/eicar.com"]; e.Status != "refused" || e.Verdict != "malicious" || len(e.Findings) == 0 || e.Findings[0].Detector != "yara" {
		t.Errorf("EICAR record %+v", e)
	}
	if e := byPath["pipe"]; e.Status != "refused" || e.Verdict != "unscannable" {
		t.Errorf("FIFO record %+v", e)
	}
	if e := byPath[sjis]; e.Status != "migrated" || e.PathB64 == "" || e.Verify == nil || e.Verify.Result != "ok" || e.Mapping != nil {
		t.Errorf("Shift-JIS record %+v", e)
	}
	if e := byPath["link-to-docs"]; e.Status != "skipped" {
		t.Errorf("link record %+v", e)
	}
	if ents, _ := os.ReadDir(q); len(ents) != 1 || !strings.HasSuffix(ents[0].Name(), ".zip") {
		t.Errorf("quarantine holds %v, want the EICAR archive", ents)
	}

	// The auditor's checks.
	r = kintsugi(t, nil, "manifest", "verify", "--key", key+".pub", man, dst)
	if r.code != 0 || !strings.Contains(r.stdout, ": OK") || !strings.Contains(r.stdout, "by your key") {
		t.Fatalf("verify: %+v", r)
	}
	other := newSignKey(t)
	if r := kintsugi(t, nil, "manifest", "verify", "--key", other+".pub", man); r.code != 1 || !strings.Contains(r.stdout, "NOT the key you gave") {
		t.Fatalf("verify with another key: %+v", r)
	}
	// A manifest edited by hand is caught.
	b, _ := os.ReadFile(man)
	edited := filepath.Join(t.TempDir(), "edited.jsonl")
	os.WriteFile(edited, bytes.Replace(b, []byte(`"verdict":"malicious"`), []byte(`"verdict":"clean"`), 1), 0o644)
	if r := kintsugi(t, nil, "manifest", "verify", "--key", key+".pub", edited); r.code != 1 || !strings.Contains(r.stdout, "chain broken") {
		t.Fatalf("hand-edited manifest: %+v", r)
	}
	// A file changed at the destination afterwards is caught with DST.
	victim := filepath.Join(dst, "docs", "d0", "file00.txt")
	os.WriteFile(victim, []byte("tampered"), 0o644)
	if r := kintsugi(t, nil, "manifest", "verify", "--format", "jsonl", man, dst); r.code != 1 || !strings.Contains(r.stdout, "docs/d0/file00.txt") {
		t.Fatalf("tampered destination: %+v", r)
	}
	os.WriteFile(victim, mt.clean["docs/d0/file00.txt"], 0o644)

	// Rerun: nothing read again, nothing copied, same manifest content.
	r = kintsugi(t, env, "migrate", "--sign-key", key, "--manifest", man, "--format", "jsonl", mt.dir, dst)
	s2 := parseSummary(t, r)
	if r.code != 1 || s2.MigratedNow != 0 || s2.BytesCopied != 0 || s2.Unchanged != int64(len(mt.clean))+1 || s2.Counts != s.Counts {
		t.Fatalf("rerun: exit %d %+v", r.code, s2)
	}
}

func TestMigrateS3EndToEnd(t *testing.T) {
	srv := s3test.Start(t)
	mt := newMigrateTree(t, 2, 1)
	sjis := string([]byte{0x8c, 0x5f, 0x96, 0xf1}) + ".txt"
	os.WriteFile(filepath.Join(mt.dir, sjis), []byte("sjis"), 0o644)
	key := newSignKey(t)
	env := append(caseEnv(t), srv.Env()...)
	man := filepath.Join(t.TempDir(), "m.jsonl")
	dst := "s3://" + srv.Bucket + "/fs02"
	r := kintsugi(t, env, "migrate", "--sign-key", key, "--manifest", man, "--format", "jsonl", "--s3-single-put-max", "3M", "--s3-part-size", "5M", mt.dir, dst)
	if r.code != 1 {
		t.Fatalf("migrate: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	got, temps := s3Files(t, srv, "fs02")
	if string(got["契約.txt"]) != "sjis" {
		t.Fatalf("Shift-JIS name not mapped to UTF-8: %v", keysOf(got))
	}
	delete(got, "契約.txt")
	checkComplete(t, mt, got, temps)
	for _, rec := range readManifest(t, man) {
		if p, _ := rec.SourcePath(); p == sjis && (rec.Mapping == nil || rec.DestKey != "契約.txt" || !strings.Contains(rec.Mapping.Reason, "Shift-JIS")) {
			t.Errorf("mapping not recorded: %+v", rec)
		}
	}
	info, err := srv.Client.StatObject(context.Background(), srv.Bucket, "fs02/video/clip0.log", minio.StatObjectOptions{})
	if err != nil || len(info.UserMetadata["Kintsugi-Sha256"]) != 64 || info.UserMetadata["Kintsugi-Mtime"] == "" {
		t.Fatalf("multipart object metadata: %v %v", err, info.UserMetadata)
	}
	r = kintsugi(t, env, "manifest", "verify", "--key", key+".pub", man, dst)
	if r.code != 0 || !strings.Contains(r.stdout, "read back") {
		t.Fatalf("verify with DST: %+v", r)
	}
	// An object replaced behind kintsugi's back is caught.
	if _, err := srv.Client.PutObject(context.Background(), srv.Bucket, "fs02/empty", strings.NewReader("x"), 1, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	if r := kintsugi(t, env, "manifest", "verify", man, dst); r.code != 1 || !strings.Contains(r.stdout, "empty") {
		t.Fatalf("verify after tampering: %+v", r)
	}
}

func keysOf[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

// TestMigrateCrashResume kills migrate with SIGKILL at random moments,
// also in the middle of multi-MB uploads, and reruns it: after every kill
// the destination holds only complete, correct files under final names,
// and the final rerun completes the job with nothing lost, nothing
// corrupt, no temporaries, and no verified file copied again.
func TestMigrateCrashResume(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("KINTSUGI_CRASH_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("seed %d (KINTSUGI_CRASH_SEED to repeat)", seed)
	r := rand.New(rand.NewPCG(seed, 3))
	mt := newMigrateTree(t, 3, 2)
	key := newSignKey(t)
	srv := s3test.Start(t)
	const roundsPerDest = 11
	totalKills, midUpload, kept := 0, 0, 0
	for round := range 2 * roundsPerDest {
		isS3 := round >= roundsPerDest
		name := fmt.Sprintf("local-%d", round)
		if isS3 {
			name = fmt.Sprintf("s3-%d", round-roundsPerDest)
		}
		t.Run(name, func(t *testing.T) {
			env := caseEnv(t)
			dst := filepath.Join(t.TempDir(), "dst")
			prefix := "crash" + strconv.Itoa(round)
			if isS3 {
				env = append(env, srv.Env()...)
				dst = "s3://" + srv.Bucket + "/" + prefix
			}
			list := func() (map[string][]byte, int) {
				if isS3 {
					return s3Files(t, srv, prefix)
				}
				return localFiles(t, dst)
			}
			common := []string{"--format", "jsonl", "--s3-single-put-max", "2M", "--s3-part-size", "5M", mt.dir, dst}
			args := append([]string{"migrate", "--sign-key", key, "--manifest", filepath.Join(t.TempDir(), "m.jsonl")}, common...)
			kills := 1 + r.IntN(3)
			for k := range kills {
				cmd := exec.Command(binary, append([]string{args[0], "--bwlimit", "5M"}, args[1:]...)...)
				cmd.Env = append(os.Environ(), env...)
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				time.Sleep(time.Duration(30+r.IntN(900)) * time.Millisecond)
				cmd.Process.Signal(syscall.SIGKILL)
				err := cmd.Wait()
				if ee, ok := err.(*exec.ExitError); !ok || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
					// It finished before the kill: still a valid round.
					t.Logf("kill %d: the run had already ended (%v)", k, err)
					continue
				}
				totalKills++
				got, temps := list()
				if temps > 0 {
					midUpload++
				}
				kept += checkPartial(t, mt, got)
			}
			plan := kintsugi(t, env, append([]string{"migrate", "--dry-run"}, common...)...)
			done := int64(-1)
			for _, l := range strings.Split(strings.TrimSpace(plan.stdout), "\n") {
				var p struct {
					Plan *struct {
						Done     int64 `json:"done"`
						ReadBack int64 `json:"read_back"`
					} `json:"plan"`
				}
				if json.Unmarshal([]byte(l), &p) == nil && p.Plan != nil {
					done = p.Plan.Done + p.Plan.ReadBack
				}
			}
			if done < 0 {
				t.Fatalf("dry run: %+v", plan)
			}
			t0 := time.Now()
			res := kintsugi(t, env, args...)
			t.Logf("%d kills, resume took %s", kills, time.Since(t0))
			if res.code != 1 {
				t.Fatalf("resume: exit %d, want 1\n%s%s", res.code, res.stdout, res.stderr)
			}
			s := parseSummary(t, res)
			if s.Counts.Migrated != int64(len(mt.clean)) || s.Counts.Refused != 1 || s.Counts.Failed != 0 {
				t.Fatalf("resume counts %+v", s.Counts)
			}
			if want := int64(len(mt.clean)) - done; s.MigratedNow != want {
				t.Errorf("resume copied %d files; %d were copied before it, so it should have copied %d", s.MigratedNow, done, want)
			}
			got, temps := list()
			checkComplete(t, mt, got, temps)
			if v := kintsugi(t, env, "manifest", "verify", "--key", key+".pub", s.Manifest, dst); v.code != 0 {
				t.Fatalf("manifest verify after resume: %+v", v)
			}
		})
	}
	t.Logf("%d kill -9 at random moments (%d while uploads were in flight), %d complete files found under final names right after the kills; 0 lost, 0 corrupt unless reported above",
		totalKills, midUpload, kept)
	if totalKills < 20 {
		t.Errorf("only %d kills landed while migrate ran; want at least 20", totalKills)
	}
}

// TestMigrateDestinationFull migrates 14 MB into an 8 MB tmpfs: the files
// that do not fit fail with the reason, nothing partial stays behind, the
// exit status says the job is not complete; once there is room, the same
// command completes it.
func TestMigrateDestinationFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs (CI runs as root)")
	}
	mt := newMigrateTree(t, 4, 2)
	dst := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", dst).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", dst).Run() })
	key := newSignKey(t)
	env := caseEnv(t)
	args := []string{"migrate", "--sign-key", key, "--manifest", filepath.Join(t.TempDir(), "m.jsonl"), mt.dir, dst}
	r := kintsugi(t, env, args...)
	if r.code != 2 || !strings.Contains(r.stderr, "could not be migrated") || !strings.Contains(r.stdout, "no space left on device") {
		t.Fatalf("full destination: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	got, temps := localFiles(t, dst)
	checkPartial(t, mt, got)
	if temps > 0 || len(got) == len(mt.clean) {
		t.Fatalf("%d temporaries left, %d of %d files arrived", temps, len(got), len(mt.clean))
	}
	if out, err := exec.Command("mount", "-o", "remount,size=64m", dst).CombinedOutput(); err != nil {
		t.Fatalf("remount: %v %s", err, out)
	}
	if r := kintsugi(t, env, args...); r.code != 1 {
		t.Fatalf("after making room: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	got, temps = localFiles(t, dst)
	checkComplete(t, mt, got, temps)
}

// TestMigratePermissionDenied runs migrate as an unprivileged user: an
// unreadable source file is refused as unscannable, an unwritable
// destination folder fails the files that go there; both with the system's
// reason, the rest migrates.
func TestMigratePermissionDenied(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run as another user (CI runs as root)")
	}
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Fatal("setpriv (util-linux) not found")
	}
	const nobody = 65534
	open := func(dir string) string {
		os.Chmod(filepath.Dir(dir), 0o755)
		os.Chmod(dir, 0o755)
		return dir
	}
	src := open(t.TempDir())
	public := []byte(strings.Repeat("This memo is readable by everyone.\n", 20))
	os.WriteFile(filepath.Join(src, "open.txt"), public, 0o644)
	os.WriteFile(filepath.Join(src, "secret.txt"), []byte("root only"), 0o600)
	os.MkdirAll(filepath.Join(src, "locked"), 0o755)
	os.WriteFile(filepath.Join(src, "locked", "f.txt"), []byte("goes to a folder nobody may write"), 0o644)
	dst := open(t.TempDir())
	os.Chown(dst, nobody, nobody)
	os.Mkdir(filepath.Join(dst, "locked"), 0o755) // root's: not writable for nobody
	work := open(t.TempDir())
	os.Chown(work, nobody, nobody)
	key := filepath.Join(work, "k.key")
	if r := kintsugi(t, nil, "key", "generate", "-o", key); r.code != 0 {
		t.Fatal(r)
	}
	os.Chown(key, nobody, nobody)
	os.Chmod(filepath.Dir(binary), 0o755)
	man := filepath.Join(work, "m.jsonl")
	cmd := exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", binary,
		"migrate", "--case", filepath.Join(work, "case.db"), "--sign-key", key, "--manifest", man, src, dst)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	}
	if code != 2 || !strings.Contains(errb.String(), "1 files could not be migrated") {
		t.Fatalf("exit %d, want 2\n%s%s", code, out.String(), errb.String())
	}
	recs := map[string]manifest.Record{}
	for _, rec := range readManifest(t, man) {
		recs[rec.Path] = rec
	}
	if r := recs["secret.txt"]; r.Status != "refused" || r.Verdict != "unscannable" || !strings.Contains(r.Reason, "permission denied") {
		t.Errorf("unreadable source file: %+v", r)
	}
	if r := recs["locked/f.txt"]; r.Status != "failed" || !strings.Contains(r.Reason, "permission denied") {
		t.Errorf("unwritable destination folder: %+v", r)
	}
	if r := recs["open.txt"]; r.Status != "migrated" {
		t.Errorf("readable file: %+v", r)
	}
	if b, _ := os.ReadFile(filepath.Join(dst, "open.txt")); !bytes.Equal(b, public) {
		t.Errorf("open.txt at the destination: %q", b)
	}
}

// TestMigrateSourceChanging appends to a file all the while migrate runs:
// its copy is never promoted (changed while read, tried again, then
// refused as unscannable); once it stops changing, a rerun migrates it.
func TestMigrateSourceChanging(t *testing.T) {
	mt := newMigrateTree(t, 5, 0)
	growing := filepath.Join(mt.dir, "logs", "growing.log")
	os.MkdirAll(filepath.Dir(growing), 0o755)
	os.WriteFile(growing, bytes.Repeat([]byte("startup\n"), 1<<20), 0o644)
	stop := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		f, _ := os.OpenFile(growing, os.O_APPEND|os.O_WRONLY, 0)
		defer f.Close()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			fmt.Fprintf(f, "event %d\n", i)
			time.Sleep(50 * time.Microsecond)
		}
	}()
	key := newSignKey(t)
	env := caseEnv(t)
	dst := t.TempDir()
	man := filepath.Join(t.TempDir(), "m.jsonl")
	args := []string{"migrate", "--sign-key", key, "--manifest", man, "--workers", "1", mt.dir, dst}
	r := kintsugi(t, env, args...)
	close(stop)
	<-stopped
	if r.code != 1 {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, rec := range readManifest(t, man) {
		if rec.Path == "logs/growing.log" {
			if rec.Status != "refused" || rec.Verdict != "unscannable" || !strings.Contains(rec.Reason, "changed while being read") || len(rec.Notes) < 2 {
				t.Fatalf("growing file: %+v", rec)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(dst, "logs", "growing.log")); err == nil {
		t.Fatal("a file that changed during every read was promoted")
	}
	want, _ := os.ReadFile(growing)
	r = kintsugi(t, env, args...)
	if b, _ := os.ReadFile(filepath.Join(dst, "logs", "growing.log")); r.code != 1 || !bytes.Equal(b, want) {
		t.Fatalf("rerun after the file settled: exit %d, %d of %d bytes\n%s", r.code, len(b), len(want), r.stderr)
	}
}

func TestDemoMigrateSteps(t *testing.T) {
	r := kintsugi(t, nil, "demo")
	if r.code != 0 {
		t.Fatalf("demo exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"== step 7: migrate", "kintsugi_eicar_test_file", "signature: valid, by your key", "manifest-fs01.jsonl: OK", "read back"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
}

func TestMigrateHelpAndUsage(t *testing.T) {
	for _, args := range [][]string{{"migrate", "--help"}, {"manifest", "verify", "--help"}, {"key", "generate", "--help"}} {
		r := kintsugi(t, nil, args...)
		if r.code != 0 || !strings.Contains(r.stdout, "Examples:") {
			t.Errorf("%v: no examples (exit %d)", args, r.code)
		}
	}
	if r := kintsugi(t, nil, "migrate", "--help"); !strings.Contains(r.stdout, "Exit status:") {
		t.Error("migrate --help does not document the exit status")
	}
	src := t.TempDir()
	key := newSignKey(t)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"migrate", src}, "accepts 2 arg"},
		{[]string{"migrate", "--sign-key", key, "/no/such/dir", t.TempDir()}, "cannot migrate /no/such/dir"},
		{[]string{"migrate", "--sign-key", key, src, filepath.Join(src, "inside")}, "overlap"},
		{[]string{"migrate", "--sign-key", key, "--manifest", filepath.Join(src, "m.jsonl"), src, t.TempDir()}, "never writes into the source"},
		{[]string{"migrate", "--sign-key", key, "--bwlimit", "fast", src, t.TempDir()}, "--bwlimit"},
		{[]string{"migrate", "--sign-key", key + ".pub", src, t.TempDir()}, "public key"},
		{[]string{"migrate", "--sign-key", key, src, "ftp://host/x"}, "want a folder or s3://"},
		{[]string{"key", "generate"}, "-o KEY"},
		{[]string{"key", "generate", "-o", key}, "already exists"},
		{[]string{"manifest", "verify", key}, "not a kintsugi manifest"},
	}
	for _, tc := range tests {
		r := kintsugi(t, caseEnv(t), tc.args...)
		if r.code != 2 || !strings.HasPrefix(r.stderr, "kintsugi: ") || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 and %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
	os.Chmod(key, 0o644)
	if r := kintsugi(t, caseEnv(t), "migrate", "--sign-key", key, src, t.TempDir()); r.code != 2 || !strings.Contains(r.stderr, "chmod 600") {
		t.Errorf("readable key: %+v", r)
	}
}
