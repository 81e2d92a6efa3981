package migrate

import (
	"context"
	"time"

	"github.com/kintsugi-ir/kintsugi/internal/incident"
)

// Journal states, as stored in the case store.
const (
	StateCopying  = "copying"
	StatePromoted = "promoted"
	StateVerified = "verified"
	StateRefused  = "refused"
	StateFailed   = "failed"
	StateSkipped  = "skipped"
)

// Entry is the journal entry of one source file of the job. Its fields
// mirror casestore.MigrateEntry one to one, so cmd/kintsugi converts
// between them without copying field by field.
type Entry struct {
	JobID      int64
	Path       []byte
	State      string
	Temp       string
	DestKey    string
	Size       int64
	ModTime    time.Time
	ChangeTime time.Time
	Dev, Ino   uint64
	Mode       uint32
	SHA256     string
	Verdict    incident.Verdict
	Reason     string
	Findings   []incident.Finding
	ScannedAt  time.Time
	FromScan   bool
	Verify     string
	VerifiedAt time.Time
	Notes      []string
	Attempts   int
	Updated    time.Time
}

// Journal is the job's record of every file, kept in the case store. The
// migrator writes an entry before each step that leaves something at the
// destination, so that a rerun after a crash finds and finishes or undoes
// it.
type Journal interface {
	// Get returns the entry for a source path (false when none).
	Get(ctx context.Context, path []byte) (Entry, bool, error)
	// ByKey returns an entry with this destination key (false when none).
	ByKey(ctx context.Context, key string) (Entry, bool, error)
	// Put stores an entry durably before returning.
	Put(ctx context.Context, e Entry) error
	// Each calls fn for every entry in path order (only those in states,
	// when given).
	Each(ctx context.Context, states []string, fn func(Entry) error) error
}
