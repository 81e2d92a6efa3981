package main

import (
	"context"
	"fmt"

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
