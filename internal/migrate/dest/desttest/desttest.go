// Package desttest is the conformance suite for dest.Destination: local
// and s3 run it from their tests, so that migrate can count on the same
// promotion and cleanup guarantees everywhere. Only tests import it.
package desttest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/kintsugi-ir/kintsugi/internal/migrate/dest"
)

// Target is a destination under test plus a way to see what it holds.
type Target struct {
	Dest dest.Destination
	// Leftovers lists temporaries and incomplete uploads.
	Leftovers func(t *testing.T) []string
	// BigSize is a size that takes the destination's large-object path.
	BigSize int64
}

// Run runs the suite; open returns a fresh, empty destination.
func Run(t *testing.T, open func(t *testing.T) Target) {
	tests := []struct {
		name string
		fn   func(t *testing.T, tg Target)
	}{
		{"SmallCommit", func(t *testing.T, tg Target) { testCommit(t, tg, 1000) }},
		{"EmptyCommit", func(t *testing.T, tg Target) { testCommit(t, tg, 0) }},
		{"BigCommit", func(t *testing.T, tg Target) { testCommit(t, tg, tg.BigSize) }},
		{"SmallMismatch", func(t *testing.T, tg Target) { testMismatch(t, tg, 1000) }},
		{"BigMismatch", func(t *testing.T, tg Target) { testMismatch(t, tg, tg.BigSize) }},
		{"SmallHashedByWriter", func(t *testing.T, tg Target) { testHashed(t, tg, 1000) }},
		{"BigHashedByWriter", func(t *testing.T, tg Target) { testHashed(t, tg, tg.BigSize) }},
		{"SmallAbort", func(t *testing.T, tg Target) { testAbort(t, tg, 1000) }},
		{"BigAbort", func(t *testing.T, tg Target) { testAbort(t, tg, tg.BigSize) }},
		{"BigCrashCleanup", testCrashCleanup},
		{"Replace", testReplace},
		{"RemoveAndStatMissing", testRemove},
		{"CleanupRefusesForeignNames", testForeign},
		{"Sweep", testSweep},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, open(t))
		})
	}
}

func data(n int64, seed uint64) ([]byte, string) {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, 1))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	h := sha256.Sum256(b)
	return b, hex.EncodeToString(h[:])
}

var meta = dest.Meta{ModTime: time.Date(2020, 1, 2, 3, 4, 5, 6000, time.UTC), Mode: 0o640}

// write creates key and writes b in uneven pieces.
func write(t *testing.T, d dest.Destination, key string, b []byte) (dest.Upload, string) {
	t.Helper()
	return writeMeta(t, d, key, b, meta)
}

func writeMeta(t *testing.T, d dest.Destination, key string, b []byte, meta dest.Meta) (dest.Upload, string) {
	t.Helper()
	ctx := context.Background()
	temp := d.TempName(key, "test")
	u, err := d.Create(ctx, key, temp, int64(len(b)), meta)
	if err != nil {
		t.Fatal(err)
	}
	for p := b; len(p) > 0; {
		k := min(len(p), 1+len(p)/3, 3<<20)
		if _, err := u.Write(p[:k]); err != nil {
			t.Fatal(err)
		}
		p = p[k:]
	}
	return u, temp
}

func readBack(t *testing.T, d dest.Destination, key string) []byte {
	t.Helper()
	rc, err := d.ReadBack(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func noLeftovers(t *testing.T, tg Target) {
	t.Helper()
	if l := tg.Leftovers(t); len(l) > 0 {
		t.Fatalf("leftovers: %v", l)
	}
}

func testCommit(t *testing.T, tg Target, n int64) {
	ctx := context.Background()
	b, sum := data(n, 1)
	u, _ := write(t, tg.Dest, "dir/sub/file.bin", b)
	if _, err := tg.Dest.Stat(ctx, "dir/sub/file.bin"); !errors.Is(err, dest.ErrNotExist) {
		t.Fatalf("object visible before Commit (Stat: %v)", err)
	}
	if err := u.Commit(ctx, n, sum); err != nil {
		t.Fatal(err)
	}
	info, err := tg.Dest.Stat(ctx, "dir/sub/file.bin")
	if err != nil {
		t.Fatal(err)
	}
	if info.Size != n || (info.SHA256 != "" && info.SHA256 != sum) {
		t.Fatalf("Stat = %+v, want size %d and SHA-256 %s", info, n, sum)
	}
	if !info.ModTime.Equal(meta.ModTime) {
		t.Errorf("mtime %v, want %v", info.ModTime, meta.ModTime)
	}
	if got := readBack(t, tg.Dest, "dir/sub/file.bin"); !bytes.Equal(got, b) {
		t.Fatalf("read back %d bytes that differ from the %d written", len(got), n)
	}
	noLeftovers(t, tg)
}

func testMismatch(t *testing.T, tg Target, n int64) {
	ctx := context.Background()
	b, _ := data(n, 2)
	_, other := data(n, 3)
	u, _ := write(t, tg.Dest, "m.bin", b)
	if err := u.Commit(ctx, n, other); !errors.Is(err, dest.ErrMismatch) {
		t.Fatalf("Commit with another SHA-256 = %v, want ErrMismatch", err)
	}
	if err := u.Abort(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := tg.Dest.Stat(ctx, "m.bin"); !errors.Is(err, dest.ErrNotExist) {
		t.Fatalf("mismatched upload visible (Stat: %v)", err)
	}
	u, _ = write(t, tg.Dest, "m2.bin", b)
	_, sum := data(n, 2)
	if err := u.Commit(ctx, n+1, sum); !errors.Is(err, dest.ErrMismatch) {
		t.Fatalf("Commit with another size = %v, want ErrMismatch", err)
	}
	u.Abort(ctx)
	noLeftovers(t, tg)
}

// testHashed: when the writer hashes what it writes (Meta.Hashed), Commit
// still refuses another size, and stores the writer's digest.
func testHashed(t *testing.T, tg Target, n int64) {
	ctx := context.Background()
	hm := meta
	hm.Hashed = true
	b, sum := data(n, 5)
	u, _ := writeMeta(t, tg.Dest, "h1.bin", b, hm)
	if err := u.Commit(ctx, n+1, sum); !errors.Is(err, dest.ErrMismatch) {
		t.Fatalf("Commit with another size = %v, want ErrMismatch", err)
	}
	u.Abort(ctx)
	if _, err := tg.Dest.Stat(ctx, "h1.bin"); !errors.Is(err, dest.ErrNotExist) {
		t.Fatalf("mismatched upload visible (Stat: %v)", err)
	}
	u, _ = writeMeta(t, tg.Dest, "h2.bin", b, hm)
	if err := u.Commit(ctx, n, sum); err != nil {
		t.Fatal(err)
	}
	info, err := tg.Dest.Stat(ctx, "h2.bin")
	if err != nil || info.Size != n || info.SHA256 != sum {
		t.Fatalf("Stat = %+v, %v; want %d bytes with SHA-256 %s", info, err, n, sum)
	}
	rc, err := tg.Dest.ReadBack(ctx, "h2.bin")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(got, b) {
		t.Fatalf("read back %d bytes, not the %d written", len(got), n)
	}
	tg.Dest.Remove(ctx, "h2.bin")
	noLeftovers(t, tg)
}

func testAbort(t *testing.T, tg Target, n int64) {
	ctx := context.Background()
	b, _ := data(n, 4)
	u, _ := write(t, tg.Dest, "a.bin", b)
	if err := u.Abort(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := tg.Dest.Stat(ctx, "a.bin"); !errors.Is(err, dest.ErrNotExist) {
		t.Fatalf("aborted upload visible (Stat: %v)", err)
	}
	noLeftovers(t, tg)
}

// testCrashCleanup leaves an upload as a killed process would (neither
// committed nor aborted) and checks that Cleanup removes every trace.
func testCrashCleanup(t *testing.T, tg Target) {
	ctx := context.Background()
	b, _ := data(tg.BigSize, 5)
	_, temp := write(t, tg.Dest, "c.bin", b[:len(b)-1])
	if err := tg.Dest.Cleanup(ctx, "c.bin", temp); err != nil {
		t.Fatal(err)
	}
	if err := tg.Dest.Cleanup(ctx, "c.bin", temp); err != nil {
		t.Fatalf("second Cleanup: %v", err)
	}
	if _, err := tg.Dest.Stat(ctx, "c.bin"); !errors.Is(err, dest.ErrNotExist) {
		t.Fatalf("crashed upload visible (Stat: %v)", err)
	}
	noLeftovers(t, tg)
}

func testReplace(t *testing.T, tg Target) {
	ctx := context.Background()
	for i, n := range []int64{500, 300} {
		b, sum := data(n, uint64(10+i))
		u, _ := write(t, tg.Dest, "r.txt", b)
		if err := u.Commit(ctx, n, sum); err != nil {
			t.Fatal(err)
		}
		if got := readBack(t, tg.Dest, "r.txt"); !bytes.Equal(got, b) {
			t.Fatalf("version %d not in place", i)
		}
	}
	noLeftovers(t, tg)
}

func testRemove(t *testing.T, tg Target) {
	ctx := context.Background()
	b, sum := data(10, 6)
	u, _ := write(t, tg.Dest, "x/y.txt", b)
	if err := u.Commit(ctx, 10, sum); err != nil {
		t.Fatal(err)
	}
	if err := tg.Dest.Remove(ctx, "x/y.txt"); err != nil {
		t.Fatal(err)
	}
	if err := tg.Dest.Remove(ctx, "x/y.txt"); err != nil {
		t.Fatalf("removing a missing object: %v", err)
	}
	if _, err := tg.Dest.Stat(ctx, "x/y.txt"); !errors.Is(err, dest.ErrNotExist) {
		t.Fatalf("Stat(removed) = %v, want ErrNotExist", err)
	}
}

func testForeign(t *testing.T, tg Target) {
	ctx := context.Background()
	b, sum := data(10, 7)
	u, _ := write(t, tg.Dest, "keep.txt", b)
	if err := u.Commit(ctx, 10, sum); err != nil {
		t.Fatal(err)
	}
	for _, temp := range []string{"keep.txt", "../keep.txt", "/etc/passwd"} {
		if err := tg.Dest.Cleanup(ctx, "keep.txt", temp); err == nil {
			t.Errorf("Cleanup(%q) accepted a name that is not a temporary", temp)
		}
	}
	if _, err := tg.Dest.Stat(ctx, "keep.txt"); err != nil {
		t.Fatalf("Cleanup removed a real object: %v", err)
	}
}

// testSweep leaves two crashed uploads of one job and one of another:
// Sweep removes exactly the job's.
func testSweep(t *testing.T, tg Target) {
	sw, ok := tg.Dest.(dest.Sweeper)
	if !ok {
		t.Skip("this destination needs no sweep: a killed process leaves no request behind")
	}
	ctx := context.Background()
	b, _ := data(tg.BigSize, 8)
	d := tg.Dest
	for _, tag := range []string{"job1", "job1", "job2"} {
		temp := d.TempName("s.bin", tag)
		u, err := d.Create(ctx, "s.bin", temp, int64(len(b)), meta)
		if err != nil {
			t.Fatal(err)
		}
		u.Write(b[:len(b)/2])
	}
	n, err := sw.Sweep(ctx, "job1")
	if err != nil || n < 2 {
		t.Fatalf("Sweep(job1) = %d, %v; want at least 2 removed", n, err)
	}
	if left := tg.Leftovers(t); len(left) == 0 {
		t.Fatal("Sweep(job1) removed the other job's upload too")
	}
	if _, err := sw.Sweep(ctx, "job2"); err != nil {
		t.Fatal(err)
	}
	noLeftovers(t, tg)
}
