package migrate

import (
	"context"

	"github.com/kintsugi-ir/kintsugi/internal/source"
)

// quarantine keeps a refused file for analysts when --quarantine is set.
func (m *Migrator) quarantine(ctx context.Context, ent source.Entry, e *Entry) {
	if m.cfg.Quarantine == "" {
		return
	}
}
