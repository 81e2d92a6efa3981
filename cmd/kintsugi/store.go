package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/kintsugi-ir/kintsugi/internal/casestore"
	"github.com/kintsugi-ir/kintsugi/internal/casestore/sqlite"
)

// openStore opens the case store the user chose (--case, KINTSUGI_CASE,
// else ./kintsugi.db).
func (g *globals) openStore(ctx context.Context) (casestore.Store, error) {
	s, err := sqlite.Open(ctx, g.casePath)
	if err != nil {
		return nil, withHint(fmt.Errorf("cannot open the case store: %w", err),
			"choose another case file with --case PATH or KINTSUGI_CASE")
	}
	return s, nil
}

// ruleCacheDir is where compiled YARA rule sets are kept between runs:
// $KINTSUGI_RULE_CACHE, else the user's cache folder. "off" disables it.
func ruleCacheDir(g *globals) string {
	if d := g.getenv("KINTSUGI_RULE_CACHE"); d != "" {
		if d == "off" {
			return ""
		}
		return d
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(d, "kintsugi", "yara")
}
