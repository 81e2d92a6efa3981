//go:build cgo

package yara

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	goyara "github.com/hillu/go-yara/v4"

	"github.com/kintsugi-ir/kintsugi/internal/scan/rulepack"
)

// Rules is a compiled rule set ready to scan with.
type Rules struct {
	// rules is the whole set; use whole(), which loads it on first use
	// when it comes from the cache (load is then set).
	rules   *goyara.Rules
	load    func() (*goyara.Rules, error)
	once    sync.Once
	loadErr error
	// srcs are the sources compiled, kept to build per-class variants
	// (see prune.go).
	srcs     []source
	cacheDir string
	parse    sync.Once // parsed is filled once, by the first variant built
	parsed   [][]ruleSpan
	mu       sync.Mutex
	variants map[fileClass]*variant
	// Digest identifies the exact rule sources (built-in and external),
	// so that incremental scans notice a change of rules.
	Digest string
	// Files lists the external rule files compiled, in order.
	Files []string
	// Count is the number of rules.
	Count int
	// Skipped lists external files left out because they did not compile
	// (only with Options.SkipBroken).
	Skipped []CompileError
}

// Compile compiles the built-in pack (when opts.BuiltIn) and every .yar /
// .yara file under opts.Paths. Each external file gets its own namespace
// (its path), so rule names from different sets never collide.
func Compile(opts Options) (*Rules, error) {
	var srcs []source
	if opts.BuiltIn {
		for _, f := range rulepack.Files() {
			if len(opts.BuiltInFiles) > 0 && !slices.Contains(opts.BuiltInFiles, f.Name) {
				continue
			}
			srcs = append(srcs, source{name: "kintsugi/" + f.Name, ns: "kintsugi", text: f.Source, builtin: true})
		}
	}
	for _, p := range opts.Paths {
		files, err := ruleFiles(p)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, fmt.Errorf("rules %s: %w", f, err)
			}
			srcs = append(srcs, source{name: f, ns: f, text: string(b)})
		}
	}
	if len(srcs) == 0 {
		return nil, errors.New("no YARA rules to compile")
	}
	// A cache hit skips compiling: a rescan of an unchanged tree with
	// signature-base would otherwise spend most of its time here.
	files, digest := describe(srcs)
	if r := loadCached(opts.CacheDir, srcs, digest); r != nil {
		r.Files, r.Digest = files, digest
		r.srcs, r.cacheDir = srcs, opts.CacheDir
		return r, nil
	}
	r := &Rules{}
	for {
		rules, bad, err := compileAll(srcs)
		if err != nil {
			return nil, err
		}
		if bad == nil {
			r.rules = rules
			break
		}
		if bad.builtin || !opts.SkipBroken {
			return nil, bad
		}
		// Leave the broken file out and start again: a YARA compiler
		// cannot be used after an error.
		r.Skipped = append(r.Skipped, *bad)
		keep := srcs[:0:0]
		for _, s := range srcs {
			if s.name != bad.File {
				keep = append(keep, s)
			}
		}
		srcs = keep
		if len(srcs) == 0 {
			return nil, errors.New("no YARA rule file compiled")
		}
	}
	if len(r.Skipped) > 0 {
		files, digest = describe(srcs) // of the files that compiled
	}
	r.Files, r.Digest = files, digest
	r.Count = len(r.rules.GetRules())
	r.srcs, r.cacheDir = srcs, opts.CacheDir
	if len(r.Skipped) == 0 {
		storeCached(opts.CacheDir, digest, r)
	}
	return r, nil
}

// whole returns the whole set. A set found in the compiled-rules cache is
// only loaded here, when the first file needs it: a rescan of an unchanged
// tree then never pays for loading signature-base (most of its time
// before).
func (r *Rules) whole() (*goyara.Rules, error) {
	r.once.Do(func() {
		if r.load != nil {
			r.rules, r.loadErr = r.load()
		}
	})
	return r.rules, r.loadErr
}

// variant is the rule set for one class of files: the whole set less the
// rules that cannot match that class, built once the class has earned it.
type variant struct {
	seen    int64       // bytes of this class scanned with the whole set
	started bool        // a caller is building it
	ready   atomic.Bool // rules may be used
	rules   *goyara.Rules
}

// variantMinBytes is how many bytes of a class are scanned with the whole
// set before its variant is built. Loading a variant from the cache costs
// about a quarter of a CPU-second with signature-base and saves a share of
// the scanning time of every later byte, so it pays only for classes with
// volume: a tree of small files keeps the whole set, a tree of video gets
// its variant after the first few files. A variable for the tests.
var variantMinBytes int64 = 256 << 20

// forClass returns the rules to scan a file of class c and size bytes
// with: the class's variant when it is ready, else the whole set. The
// caller whose file makes the class cross variantMinBytes builds the
// variant; the others go on with the whole set meanwhile (same matches).
func (r *Rules) forClass(c fileClass, size int64) (*goyara.Rules, error) {
	all, err := r.whole()
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	if r.variants == nil {
		r.variants = map[fileClass]*variant{}
	}
	v := r.variants[c]
	if v == nil {
		v = &variant{}
		r.variants[c] = v
	}
	if v.ready.Load() {
		r.mu.Unlock()
		return v.rules, nil
	}
	v.seen += size
	build := !v.started && v.seen >= variantMinBytes
	if build {
		v.started = true
	}
	r.mu.Unlock()
	if !build {
		return all, nil
	}
	v.rules = r.buildVariant(c, all)
	v.ready.Store(true)
	return v.rules, nil
}

// buildVariant loads (from the cache) or compiles the variant of class c;
// all, the whole set, when no rule can be left out or compiling fails.
func (r *Rules) buildVariant(c fileClass, all *goyara.Rules) *goyara.Rules {
	r.parse.Do(func() {
		r.parsed = make([][]ruleSpan, len(r.srcs))
		for i, s := range r.srcs {
			r.parsed[i] = parseRules(s.text)
		}
	})
	srcs := make([]source, len(r.srcs))
	left := 0
	for i, s := range r.srcs {
		srcs[i] = s
		if r.parsed[i] != nil {
			var n int
			srcs[i].text, n = pruned(s.text, r.parsed[i], c)
			srcs[i].pruned = n > 0
			left += n
		}
	}
	if left == 0 {
		return all
	}
	_, digest := describe(srcs)
	if cached := loadCached(r.cacheDir, srcs, digest); cached != nil {
		if rules, err := cached.whole(); err == nil {
			return rules
		}
	}
	rules, bad, err := compileAll(srcs)
	if err != nil || bad != nil {
		return all // keep the whole set: slower, same verdicts
	}
	storeCached(r.cacheDir, digest, &Rules{rules: rules})
	return rules
}

// describe lists the external files of srcs and digests all of them.
func describe(srcs []source) ([]string, string) {
	var files []string
	h := sha256.New()
	for _, s := range srcs {
		if !s.builtin {
			files = append(files, s.name)
		}
		// Written piecewise: through fmt the whole text would be copied
		// into a formatting buffer first.
		fmt.Fprintf(h, "%s\x00%d\x00", s.ns, len(s.text))
		io.WriteString(h, s.text)
	}
	return files, hex.EncodeToString(h.Sum(nil))[:16]
}

type source struct {
	name, ns, text string
	builtin        bool
	// pruned marks text that differs from the file on disk (a variant).
	pruned bool
}

// CompileError reports a rule file that does not compile.
type CompileError struct {
	File    string
	Line    int
	Message string
	builtin bool
}

func (e *CompileError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("rules %s:%d: %s", e.File, e.Line, e.Message)
	}
	return fmt.Sprintf("rules %s: %s", e.File, e.Message)
}

// compileAll compiles srcs; on a compile error it returns which file and
// line failed.
func compileAll(srcs []source) (*goyara.Rules, *CompileError, error) {
	c, err := goyara.NewCompiler()
	if err != nil {
		return nil, nil, fmt.Errorf("yara compiler: %w", err)
	}
	defer c.Destroy()
	for _, v := range externals {
		if err := c.DefineVariable(v, ""); err != nil {
			return nil, nil, fmt.Errorf("yara external %s: %w", v, err)
		}
	}
	// Rule files may include others relative to themselves; only files
	// inside the same directory tree are allowed.
	c.SetIncludeCallback(func(name, filename, namespace string) []byte {
		base := filepath.Dir(filename)
		p := filepath.Clean(filepath.Join(base, name))
		if !strings.HasPrefix(p, base+string(filepath.Separator)) {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil
		}
		return b
	})
	for _, s := range srcs {
		if err := addSource(c, s); err != nil {
			ce := &CompileError{File: s.name, Message: err.Error(), builtin: s.builtin}
			for _, m := range c.Errors {
				ce.Line, ce.Message = m.Line, m.Text
				break
			}
			return nil, ce, nil
		}
	}
	rules, err := c.GetRules()
	if err != nil {
		return nil, nil, fmt.Errorf("yara: %w", err)
	}
	return rules, nil, nil
}

// addSource adds one file: external files by descriptor, so that YARA
// knows their name for includes and messages.
func addSource(c *goyara.Compiler, s source) error {
	if s.builtin || s.pruned {
		return c.AddString(s.text, s.ns)
	}
	f, err := os.Open(s.name)
	if err != nil {
		return err
	}
	defer f.Close()
	return c.AddFile(f, s.ns)
}

// externals are the external variables LOKI and THOR define, so that
// signature-base style rule sets compile; each is set per file at scan time.
var externals = []string{"filename", "filepath", "extension", "filetype", "owner"}

// ruleFiles returns the .yar/.yara files at p (a file or a folder,
// searched recursively), sorted.
func ruleFiles(p string) ([]string, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("rules %s: %w", p, err)
	}
	if !fi.IsDir() {
		return []string{p}, nil
	}
	var out []string
	err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			switch strings.ToLower(filepath.Ext(path)) {
			case ".yar", ".yara":
				out = append(out, path)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("rules %s: %w", p, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("rules %s: no .yar or .yara files", p)
	}
	sort.Strings(out)
	return out, nil
}

// Export writes the built-in pack.
func Export(w io.Writer) error { return rulepack.Export(w) }
