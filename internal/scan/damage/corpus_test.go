package damage

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/kintsugi-ir/kintsugi/internal/incident"
)

// label is one row of make-corpus's labels.jsonl.
type label struct {
	Path    string `json:"path"`
	Truth   string `json:"truth"`
	Format  string `json:"format"`
	Pattern string `json:"pattern"`
	Source  string `json:"source"`
	Size    int64  `json:"size"`
}

// unchanged reports whether a file labelled encrypted still holds its
// source's bytes in full (a pattern that starts past the end of a small
// file changes nothing): no detector can see such a file, so it is left
// out of recall.
func unchanged(dir string, l label) bool {
	if l.Source == "" {
		return false
	}
	a, err := os.ReadFile(filepath.Join(dir, l.Path))
	if err != nil {
		return false
	}
	b, err := os.ReadFile(filepath.Join(dir, l.Source))
	if err != nil {
		return false
	}
	return len(a) >= len(b) && bytes.Equal(a[:len(b)], b)
}

func readLabels(t testing.TB, dir string) []label {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "labels.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []label
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l label
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatal(err)
		}
		out = append(out, l)
	}
	return out
}

// sharedDir finds ../shared from the repository root.
func sharedDir(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			s := filepath.Join(filepath.Dir(d), "shared")
			if _, err := os.Stat(filepath.Join(s, "corpus", "make-corpus")); err != nil {
				t.Skipf("../shared/corpus/make-corpus not found next to the repository (%s): corpus tests need it", s)
			}
			return s
		}
		if filepath.Dir(d) == d {
			t.Skip("repository root not found")
		}
	}
}

var corpusMu sync.Mutex

// makeCorpus runs make-corpus once per seed and pattern file, caching the
// output under the system temp directory so that one go test run (and the
// next) does not regenerate it.
func makeCorpus(t testing.TB, seed int, patterns string) string {
	t.Helper()
	corpusMu.Lock()
	defer corpusMu.Unlock()
	mk := filepath.Join(sharedDir(t), "corpus", "make-corpus")
	key := fmt.Sprintf("seed%d", seed)
	var pb []byte
	if patterns != "" {
		pb = []byte(patterns)
		key += fmt.Sprintf("-p%08x", fnv32(pb))
	}
	out := filepath.Join(os.TempDir(), "kintsugi-damage-corpus", key)
	if _, err := os.Stat(filepath.Join(out, "labels.jsonl")); err == nil {
		return out
	}
	os.RemoveAll(out)
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		t.Fatal(err)
	}
	tmp := out + ".tmp"
	os.RemoveAll(tmp)
	args := []string{mk, "--out", tmp, "--profile", "test", "--seed", fmt.Sprint(seed)}
	if pb != nil {
		pf := out + ".patterns.json"
		if err := os.WriteFile(pf, pb, 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--patterns", pf)
	}
	// make-corpus needs the system Python with its Debian packages
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		py = "python3"
	}
	cmd := exec.Command(py, args...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make-corpus: %v\n%s", err, b)
	}
	if err := os.Rename(tmp, out); err != nil {
		t.Fatal(err)
	}
	return out
}

func fnv32(b []byte) uint32 {
	h := uint32(2166136261)
	for _, c := range b {
		h ^= uint32(c)
		h *= 16777619
	}
	return h
}

// score is the outcome of classifying a labelled corpus.
type score struct {
	perPattern map[string][2]int // pattern -> {found, total}
	fp         []string          // intact files called encrypted
	suspect    []string          // intact files called suspect
	intact     int
	unchanged  int
	misses     []string
	noEvidence []string
	bytesRead  int64
	bytesBig   int64 // bytes of files over 10 MB
	readBig    int64 // read from files over 10 MB
}

func classifyCorpus(t testing.TB, dir string, opts Options) score {
	t.Helper()
	labels := readLabels(t, dir)
	sc := score{perPattern: map[string][2]int{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 2)
	for _, l := range labels {
		if l.Truth != "intact" && l.Truth != "encrypted" {
			continue
		}
		if l.Truth == "encrypted" && unchanged(dir, l) {
			sc.unchanged++
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func(l label) {
			defer wg.Done()
			defer func() { <-sem }()
			p := filepath.Join(dir, l.Path)
			f, err := os.Open(p)
			if err != nil {
				t.Error(err)
				return
			}
			defer f.Close()
			st, _ := f.Stat()
			cr := &countingReaderAt{r: f}
			res, err := Classify(context.Background(), cr, st.Size(), filepath.Base(p), opts)
			if err != nil {
				t.Errorf("%s: %v", l.Path, err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			sc.bytesRead += cr.n
			if st.Size() > 10<<20 {
				sc.bytesBig += st.Size()
				sc.readBig += cr.n
			}
			desc := fmt.Sprintf("%s [%s] -> %s %s: %s", l.Path, l.Pattern, res.Verdict, res.Evidence.Check, res.Reason)
			if l.Truth == "intact" {
				sc.intact++
				switch res.Verdict {
				case incident.Encrypted:
					sc.fp = append(sc.fp, desc)
				case incident.Suspect:
					sc.suspect = append(sc.suspect, desc)
				}
				return
			}
			c := sc.perPattern[l.Pattern]
			c[1]++
			if res.Verdict == incident.Encrypted {
				c[0]++
				if res.Evidence.Check == "" || len(res.Evidence.Blocks) == 0 && res.Evidence.Probes == 0 {
					sc.noEvidence = append(sc.noEvidence, desc)
				}
			} else {
				sc.misses = append(sc.misses, desc)
			}
			sc.perPattern[l.Pattern] = c
		}(l)
	}
	wg.Wait()
	sort.Strings(sc.misses)
	sort.Strings(sc.fp)
	return sc
}

func (sc score) table() string {
	var b strings.Builder
	var keys []string
	for k := range sc.perPattern {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fmt.Fprintf(&b, "%-32s %8s %8s %8s\n", "pattern", "found", "files", "recall")
	for _, k := range keys {
		c := sc.perPattern[k]
		fmt.Fprintf(&b, "%-32s %8d %8d %7.1f%%\n", k, c[0], c[1], 100*float64(c[0])/float64(c[1]))
	}
	fmt.Fprintf(&b, "%-32s %8d %8d (encrypted / suspect among intact)\n", "intact", len(sc.fp), sc.intact)
	fmt.Fprintf(&b, "suspect among intact: %d\n", len(sc.suspect))
	if sc.unchanged > 0 {
		fmt.Fprintf(&b, "labelled encrypted but unchanged (left out): %d\n", sc.unchanged)
	}
	return b.String()
}

func (sc score) check(t *testing.T) {
	t.Helper()
	for k, c := range sc.perPattern {
		if c[0]*100 < c[1]*99 {
			t.Errorf("pattern %s: recall %d/%d below 99%%", k, c[0], c[1])
		}
	}
	for _, m := range sc.misses {
		t.Logf("miss: %s", m)
	}
	for _, f := range sc.fp {
		t.Errorf("false positive: %s", f)
	}
	for _, f := range sc.suspect {
		t.Logf("suspect: %s", f)
	}
	for _, f := range sc.noEvidence {
		t.Errorf("verdict without evidence: %s", f)
	}
}

// countingReaderAt counts the bytes read.
type countingReaderAt struct {
	r interface {
		ReadAt([]byte, int64) (int, error)
	}
	mu sync.Mutex
	n  int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.mu.Lock()
	c.n += int64(n)
	c.mu.Unlock()
	return n, err
}

// corpusDirs returns the corpora to test: KINTSUGI_DAMAGE_CORPUS (a
// comma-separated list of make-corpus outputs) when set, else fresh
// make-corpus outputs for seeds 1 and 2.
func corpusDirs(t *testing.T) map[string]string {
	if env := os.Getenv("KINTSUGI_DAMAGE_CORPUS"); env != "" {
		m := map[string]string{}
		for _, d := range strings.Split(env, ",") {
			m[filepath.Base(d)] = d
		}
		return m
	}
	if testing.Short() {
		t.Skip("corpus generation skipped in -short mode")
	}
	return map[string]string{"seed1": makeCorpus(t, 1, ""), "seed2": makeCorpus(t, 2, "")}
}

func TestCorpus(t *testing.T) {
	for name, dir := range corpusDirs(t) {
		for _, quick := range []bool{false, true} {
			mode := "full"
			if quick {
				mode = "quick"
			}
			t.Run(name+"/"+mode, func(t *testing.T) {
				sc := classifyCorpus(t, dir, Options{Quick: quick})
				t.Logf("%s %s mode:\n%s", name, mode, sc.table())
				if quick && sc.bytesBig > 0 {
					t.Logf("quick read %.2f%% of the bytes of files over 10 MB", 100*float64(sc.readBig)/float64(sc.bytesBig))
				}
				sc.check(t)
			})
		}
	}
}

// heldOutPatterns are make-corpus patterns not among its defaults, after
// public analyses of other families (Black Basta's stripes at another
// size, LockBit 3.0's 128 KiB chunks, Play's 1,064-byte footer, Qilin's
// blob and trailer) and a few no family is known to use. All start at
// offset 0.
const heldOutPatterns = `[
 {"name": "lockbit3-128k-gap384k", "mode": "stripes", "start": 0, "chunk": 131072, "skip": 393216, "footer": 0, "ext": "RANDOM9"},
 {"name": "basta-128-skip-256", "mode": "stripes", "start": 0, "chunk": 128, "skip": 256, "footer": 0, "ext": ".basta"},
 {"name": "head-256-footer1064", "mode": "head", "size": 256, "footer": 1064, "ext": ".PLAY"},
 {"name": "percent-10-in-3-qilin", "mode": "percent", "percent": 10, "chunks": 3, "footer": 512, "marker": "QLN-END-OF-KEY-BLOB", "ext": ""},
 {"name": "percent-30-in-2", "mode": "percent", "percent": 30, "chunks": 2, "footer": 0, "ext": ""},
 {"name": "stripes-16-skip-240", "mode": "stripes", "start": 0, "chunk": 16, "skip": 240, "footer": 0, "ext": ".x"},
 {"name": "head-16", "mode": "head", "size": 16, "footer": 0, "ext": ""},
 {"name": "full-nofooter-keep", "mode": "full", "footer": 0, "ext": ""},
 {"name": "stripes-512k-skip-2m", "mode": "stripes", "start": 0, "chunk": 524288, "skip": 2097152, "footer": 256, "ext": "RANDOM6"}
]`

// laterPatterns leave the head intact: only structure and raw regions can
// see them, so the bar is lower (see the design notes on blind spots).
const laterPatterns = `[
 {"name": "start4k-16k-skip-48k", "mode": "stripes", "start": 4096, "chunk": 16384, "skip": 49152, "footer": 0, "ext": ""},
 {"name": "start64k-64k-skip-1m", "mode": "stripes", "start": 65536, "chunk": 65536, "skip": 1048576, "footer": 0, "ext": ".enc"},
 {"name": "start512-64-skip-192", "mode": "stripes", "start": 512, "chunk": 64, "skip": 192, "footer": 0, "ext": ""}
]`

func TestCorpusHeldOutPatterns(t *testing.T) {
	if os.Getenv("KINTSUGI_DAMAGE_CORPUS") != "" || testing.Short() {
		t.Skip("held-out make-corpus patterns run only on generated corpora (not in -short mode)")
	}
	t.Run("from-offset-0", func(t *testing.T) {
		dir := makeCorpus(t, 11, heldOutPatterns)
		for _, quick := range []bool{false, true} {
			sc := classifyCorpus(t, dir, Options{Quick: quick})
			t.Logf("quick=%v:\n%s", quick, sc.table())
			sc.check(t)
		}
	})
	t.Run("head-intact", func(t *testing.T) {
		dir := makeCorpus(t, 12, laterPatterns)
		sc := classifyCorpus(t, dir, Options{})
		t.Logf("full mode:\n%s", sc.table())
		for k, c := range sc.perPattern {
			if c[0]*100 < c[1]*80 {
				t.Errorf("pattern %s: recall %d/%d below 80%%", k, c[0], c[1])
			}
		}
		for _, f := range sc.fp {
			t.Errorf("false positive: %s", f)
		}
	})
}
