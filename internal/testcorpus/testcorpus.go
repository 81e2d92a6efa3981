// Package testcorpus gives tests the labelled corpus of
// ../shared/corpus/make-corpus: it generates a corpus once per seed and
// profile, caches it under the system temp folder (keyed by the generator's
// content), and skips the test with a clear message when ../shared is
// absent. Only tests import it.
package testcorpus

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// Label is one line of labels.jsonl.
type Label struct {
	Path    string `json:"path"`
	Truth   string `json:"truth"` // intact, encrypted, note, eicar
	Format  string `json:"format"`
	Pattern string `json:"pattern,omitempty"`
	Source  string `json:"source,omitempty"`
	Size    int64  `json:"size"`
}

// Shared returns the path of ../shared relative to the module root, or
// skips t when it is absent.
func Shared(t testing.TB) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..", "..", "shared")
	if _, err := os.Stat(filepath.Join(root, "README.md")); err != nil {
		t.Skipf("../shared is not present next to the repository (%v): this test needs its data and runs in CI", err)
	}
	abs, _ := filepath.Abs(root)
	return abs
}

// Get returns the folder of a corpus for seed and profile ("test" or
// "bench"), generating it on first use, and its labels.
func Get(t testing.TB, profile string, seed int) (string, []Label) {
	t.Helper()
	shared := Shared(t)
	gen := filepath.Join(shared, "corpus", "make-corpus")
	b, err := os.ReadFile(gen)
	if err != nil {
		t.Skipf("make-corpus not found: %v", err)
	}
	sum := sha256.Sum256(b)
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("kintsugi-corpus-%s-%d-%s", profile, seed, hex.EncodeToString(sum[:6])))
	// One generator at a time across test processes.
	lock, err := os.OpenFile(dir+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	defer unix.Flock(int(lock.Fd()), unix.LOCK_UN)
	done := dir + ".complete"
	if _, err := os.Stat(done); err != nil {
		os.RemoveAll(dir)
		args := []string{"--out", dir, "--profile", profile, "--seed", fmt.Sprint(seed)}
		if os.Geteuid() == 0 {
			args = append(args, "--install-deps")
		}
		cmd := exec.Command(gen, args...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("make-corpus %v: %v\n%s", args, err, out)
		}
		if err := os.WriteFile(done, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir, Labels(t, dir)
}

// Labels reads dir/labels.jsonl.
func Labels(t testing.TB, dir string) []Label {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "labels.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var ls []Label
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l Label
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("labels.jsonl: %v", err)
		}
		ls = append(ls, l)
	}
	return ls
}
