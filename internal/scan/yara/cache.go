//go:build cgo

package yara

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	goyara "github.com/hillu/go-yara/v4"
)

// The compiled-rules cache keeps rule sets compiled by libyara, keyed by
// the digest of their sources and the libyara version, so that later runs
// with the same rules load them in milliseconds instead of compiling for a
// second or more. The cache folder must belong to the user and be closed
// to others: libyara trusts what it loads. Entries unused for cacheMaxAge
// are removed whenever a new one is stored, so rule updates do not pile up
// compiled sets (a signature-base set and its variants take about 16 MB
// each).

const cacheMaxAge = 30 * 24 * time.Hour

// cachePath is where the set compiled from sources with this digest (see
// describe) is cached.
func cachePath(dir, digest string) string {
	return filepath.Join(dir, fmt.Sprintf("rules-%s-%s.yarc", digest, Version()))
}

// countSuffix names the file beside a cached set that holds its number of
// rules, so that the set can be loaded lazily and still be counted.
const countSuffix = ".count"

// safeDir reports whether dir exists, belongs to us, and nobody else may
// write to it.
func safeDir(dir string) bool {
	fi, err := os.Lstat(dir)
	if err != nil || !fi.IsDir() || fi.Mode().Perm()&0o022 != 0 {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == os.Geteuid()
}

// loadCached returns the cached compiled set of srcs, whose digest is
// digest, or nil when there is none to trust; the caller fills in Files
// and Digest. A whole set whose rule count was stored beside it is
// loaded on first use (Rules.whole); if it cannot be loaded then, it is
// dropped and srcs compiled again, which cannot fail, for only sets that
// compiled whole are cached.
func loadCached(dir string, srcs []source, digest string) *Rules {
	if dir == "" || !safeDir(dir) {
		return nil
	}
	p := cachePath(dir, digest)
	fi, err := os.Lstat(p)
	if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o022 != 0 {
		return nil
	}
	now := time.Now()
	os.Chtimes(p, now, now) // last use, for expiry
	r := &Rules{}
	if n, ok := cachedCount(p); ok {
		os.Chtimes(p+countSuffix, now, now)
		r.Count = n
		r.load = func() (*goyara.Rules, error) {
			if rules, err := goyara.LoadRules(p); err == nil {
				return rules, nil
			}
			os.Remove(p)
			os.Remove(p + countSuffix)
			rules, bad, err := compileAll(srcs)
			if err == nil && bad != nil {
				err = bad
			}
			if err != nil {
				return nil, err
			}
			storeCached(dir, digest, &Rules{rules: rules, Count: n})
			return rules, nil
		}
		return r
	}
	rules, err := goyara.LoadRules(p)
	if err != nil {
		os.Remove(p)
		return nil
	}
	r.rules = rules
	r.Count = len(rules.GetRules())
	writeCount(p, r.Count) // the next run loads it lazily
	return r
}

// writeCount stores n, the number of rules of the cached set p, beside it.
func writeCount(p string, n int) {
	if n <= 0 {
		return
	}
	tmp := fmt.Sprintf("%s%s.tmp-%d", p, countSuffix, os.Getpid())
	if os.WriteFile(tmp, []byte(strconv.Itoa(n)+"\n"), 0o600) == nil && os.Rename(tmp, p+countSuffix) == nil {
		return
	}
	os.Remove(tmp)
}

// cachedCount reads the rule count stored beside the cached set p.
func cachedCount(p string) (int, bool) {
	fi, err := os.Lstat(p + countSuffix)
	if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o022 != 0 || fi.Size() > 20 {
		return 0, false
	}
	b, err := os.ReadFile(p + countSuffix)
	if err != nil {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	return n, err == nil && n > 0
}

func storeCached(dir, digest string, r *Rules) {
	if dir == "" {
		return
	}
	if err := os.MkdirAll(dir, 0o700); err != nil || !safeDir(dir) {
		return
	}
	p := cachePath(dir, digest)
	tmp := fmt.Sprintf("%s.tmp-%d", p, os.Getpid())
	if err := r.rules.Save(tmp); err != nil {
		os.Remove(tmp)
		return
	}
	os.Chmod(tmp, 0o600)
	if err := os.Rename(tmp, p); err != nil {
		os.Remove(tmp)
		return
	}
	// The count is written after the set: a count file always describes
	// the set beside it.
	writeCount(p, r.Count)
	expireCache(dir, time.Now().Add(-cacheMaxAge))
}

// expireCache removes compiled sets (and stray temporaries) last used
// before cutoff.
func expireCache(dir string, cutoff time.Time) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		name := e.Name()
		if !strings.HasPrefix(name, "rules-") || !e.Type().IsRegular() {
			continue
		}
		if fi, err := e.Info(); err == nil && fi.ModTime().Before(cutoff) {
			os.Remove(filepath.Join(dir, name))
		}
	}
}
