package yara

import "time"

// Options select the rules to compile and how to scan with them.
type Options struct {
	// BuiltIn includes kintsugi's own rule pack.
	BuiltIn bool
	// BuiltInFiles, when set, limits the pack to these files of it (for
	// example "ransom_notes.yar"): fewer rules, a faster scan.
	BuiltInFiles []string
	// Paths are external rule files or folders (.yar, .yara).
	Paths []string
	// SkipBroken leaves out external files that do not compile (they are
	// listed in Rules.Skipped) instead of failing.
	SkipBroken bool
	// CacheDir keeps compiled rule sets between runs ("" for none). It
	// must be private to the user (mode 0700 or stricter).
	CacheDir string
	// Timeout is the base time limit for one file; larger files get one
	// more second per 20 MB. A file that hits it is unscannable.
	Timeout time.Duration
}
