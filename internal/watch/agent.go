package watch

import (
	"context"
	"log/slog"
	"sync/atomic"

	"github.com/kintsugi-ir/kintsugi/internal/watch/alert"
	"github.com/kintsugi-ir/kintsugi/internal/watch/judge"
)

// Sender delivers alerts (alert.Dispatcher).
type Sender interface {
	Send(ctx context.Context, a *alert.Alert) error
}

// Options are what the caller passes to the agent besides its
// configuration.
type Options struct {
	Log  *slog.Logger
	Send Sender
	// Judge judges file content (default: judge.Damage, scan's damage
	// detector).
	Judge judge.Judge
	// Ready is called once the agent watches (marks placed, canaries out).
	Ready func()
	// Version goes into the start alert.
	Version string
}

// Stats counts what the agent did.
type Stats struct {
	Events    atomic.Int64 // fanotify events read
	Watched   atomic.Int64 // of those, in watched trees
	Judged    atomic.Int64 // content judgements
	Decisions atomic.Int64
	Denied    atomic.Int64 // opens refused
	Lost      atomic.Int64 // queue overflows
	Procs     atomic.Int64 // fork, exec and exit events of the machine
}
