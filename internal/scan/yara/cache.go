//go:build cgo

package yara

import (
	"fmt"
	"os"
	"path/filepath"
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

func cachePath(dir string, srcs []source) string {
	_, digest := describe(srcs)
	return filepath.Join(dir, fmt.Sprintf("rules-%s-%s.yarc", digest, Version()))
}

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

func loadCached(dir string, srcs []source) *Rules {
	if dir == "" || !safeDir(dir) {
		return nil
	}
	p := cachePath(dir, srcs)
	fi, err := os.Lstat(p)
	if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o022 != 0 {
		return nil
	}
	rules, err := goyara.LoadRules(p)
	if err != nil {
		os.Remove(p)
		return nil
	}
	now := time.Now()
	os.Chtimes(p, now, now) // last use, for expiry
	r := &Rules{rules: rules}
	r.Files, r.Digest = describe(srcs)
	r.Count = len(rules.GetRules())
	return r
}

func storeCached(dir string, srcs []source, r *Rules) {
	if dir == "" {
		return
	}
	if err := os.MkdirAll(dir, 0o700); err != nil || !safeDir(dir) {
		return
	}
	p := cachePath(dir, srcs)
	tmp := fmt.Sprintf("%s.tmp-%d", p, os.Getpid())
	if err := r.rules.Save(tmp); err != nil {
		os.Remove(tmp)
		return
	}
	os.Chmod(tmp, 0o600)
	if err := os.Rename(tmp, p); err != nil {
		os.Remove(tmp)
	}
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
