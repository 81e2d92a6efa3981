// Package casestore defines the case store: where every kintsugi command
// keeps what it learns about hosts, runs, files and findings, so that scan,
// hunt, migrate and report meet in one place. Store is the interface;
// sqlite/ is the embedded default, and storetest/ is the conformance suite
// every implementation must pass. Only cmd/ (and the server) may import it:
// detectors emit findings to a sink and never see the store.
package casestore

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/kintsugi-ir/kintsugi/internal/incident"
)

// ErrNotFound is returned when a looked-up record does not exist.
var ErrNotFound = errors.New("not found")

// Store is the case store. Every method takes a context; implementations
// must be safe for concurrent use.
type Store interface {
	// Host returns the host with this name, creating it when new.
	Host(ctx context.Context, name string) (incident.Host, error)
	// Hosts lists every host of the case, by name.
	Hosts(ctx context.Context) ([]incident.Host, error)

	// BeginRun records a new run and returns its id.
	BeginRun(ctx context.Context, r incident.Run) (int64, error)
	// FinishRun records how a run ended and its statistics.
	FinishRun(ctx context.Context, id int64, status incident.RunStatus, stats json.RawMessage) error
	// Runs lists the runs of a host (all hosts when hostID is 0) of one
	// kind ("" for all), oldest first.
	Runs(ctx context.Context, hostID int64, kind incident.RunKind) ([]incident.Run, error)

	// PutFiles stores screening results, replacing earlier results for the
	// same host and path together with their findings. One call is one
	// transaction: callers batch the results of parallel workers.
	PutFiles(ctx context.Context, recs []FileRecord) error
	// File returns the stored result for one path of a host.
	File(ctx context.Context, hostID int64, path []byte) (FileRecord, error)
	// Files calls fn for each stored file of a host matching q, in path
	// order. Findings are filled in only when q.WithFindings is set.
	Files(ctx context.Context, hostID int64, q FileQuery, fn func(FileRecord) error) error
	// FileIdentities returns what incremental scans need to decide whether
	// a file changed: every stored file of a host, without findings.
	FileIdentities(ctx context.Context, hostID int64) (map[string]FileIdentity, error)
	// VerdictCounts sums stored files and bytes per verdict for a host.
	VerdictCounts(ctx context.Context, hostID int64) (map[incident.Verdict]Count, error)

	// PutTriage stores quick-triage results (scan --quick) for a host,
	// replacing earlier triage of the same paths. Triage is never a
	// screening verdict and is kept apart from files.
	PutTriage(ctx context.Context, recs []TriageRecord) error
	// Triage calls fn for each stored triage result of a host.
	Triage(ctx context.Context, hostID int64, fn func(TriageRecord) error) error

	// PutHostSummary stores a JSON summary of one kind ("impact", ...)
	// for a host, replacing the earlier one.
	PutHostSummary(ctx context.Context, hostID int64, kind string, data json.RawMessage) error
	// HostSummary returns the summary of one kind for a host.
	HostSummary(ctx context.Context, hostID int64, kind string) (json.RawMessage, error)

	// PutHunt stores a hunt's results for one host (its verdict,
	// detections and logons), replacing what earlier hunts stored for it.
	// One call is one transaction.
	PutHunt(ctx context.Context, h HuntHost, ds []HuntDetection, ls []HuntLogon) error
	// HuntHosts lists the stored hunt verdicts, one per host.
	HuntHosts(ctx context.Context) ([]HuntHost, error)
	// HuntDetections calls fn for the stored detections of a host (all
	// hosts when hostID is 0), oldest first.
	HuntDetections(ctx context.Context, hostID int64, fn func(HuntDetection) error) error
	// HuntLogons returns the stored logon edges reaching a host (all hosts
	// when hostID is 0), oldest first.
	HuntLogons(ctx context.Context, hostID int64) ([]HuntLogon, error)

	// MigrateJob returns the migration job for (source, dest, ruleset),
	// creating it when new: rerunning the same migration resumes its job.
	MigrateJob(ctx context.Context, source []byte, dest, ruleset string) (MigrateJob, error)
	// PutMigrateEntries stores journal entries, replacing earlier entries
	// for the same job and path; one call is one transaction.
	PutMigrateEntries(ctx context.Context, es []MigrateEntry) error
	// MigrateEntry returns the journal entry of one source path of a job.
	MigrateEntry(ctx context.Context, jobID int64, path []byte) (MigrateEntry, error)
	// MigrateEntryByKey returns an entry of a job with this destination
	// key (ErrNotFound when none), to catch two names mapped to one key.
	MigrateEntryByKey(ctx context.Context, jobID int64, key string) (MigrateEntry, error)
	// MigrateEntries calls fn for each entry of a job in path order; with
	// states given, only for entries in one of them.
	MigrateEntries(ctx context.Context, jobID int64, states []string, fn func(MigrateEntry) error) error

	// PutWatchAlert stores one watch agent alert; an alert already
	// stored (same ID) is left as it is.
	PutWatchAlert(ctx context.Context, a WatchAlert) error
	// WatchAlerts calls fn for the stored alerts of a host (all hosts when
	// hostID is 0), oldest first.
	WatchAlerts(ctx context.Context, hostID int64, fn func(WatchAlert) error) error

	// SchemaVersion returns the version of the applied schema.
	SchemaVersion(ctx context.Context) (int, error)
	Close() error
}

// FileIdentity is what tells an unchanged file from a changed one without
// reading it: if all of it matches, the earlier verdict still holds.
type FileIdentity struct {
	Size       int64
	ModTime    time.Time
	ChangeTime time.Time
	Dev, Ino   uint64
	RuleSet    string
	Verdict    incident.Verdict
	Reason     string
	// Reusable is false when the verdict came from a transient condition
	// (read error, time limit, file changed while read): such files are
	// always examined again.
	Reusable bool
	SHA256   string
}

// FileRecord is the screening result for one file of a host.
type FileRecord struct {
	HostID int64
	// Path is the file's absolute path as raw bytes: names need not be
	// UTF-8 (Shift-JIS from old Windows shares) and are kept exact.
	Path       []byte
	Size       int64
	ModTime    time.Time
	ChangeTime time.Time
	Dev, Ino   uint64
	Mode       uint32
	SHA256     string
	SHA1       string
	MD5        string
	Verdict    incident.Verdict
	Reason     string
	RuleSet    string
	Reusable   bool
	RunID      int64
	ScannedAt  time.Time
	Findings   []incident.Finding
}

// Identity returns the parts of r that incremental scans compare.
func (r FileRecord) Identity() FileIdentity {
	return FileIdentity{
		Size: r.Size, ModTime: r.ModTime, ChangeTime: r.ChangeTime, Dev: r.Dev, Ino: r.Ino,
		RuleSet: r.RuleSet, Verdict: r.Verdict, Reason: r.Reason, Reusable: r.Reusable, SHA256: r.SHA256,
	}
}

// FileQuery selects stored files.
type FileQuery struct {
	// Verdicts restricts to these verdicts; empty means all.
	Verdicts []incident.Verdict
	// PathPrefix restricts to paths starting with these bytes.
	PathPrefix   []byte
	WithFindings bool
}

// Count is a number of files and their total size.
type Count struct {
	Files int64 `json:"files"`
	Bytes int64 `json:"bytes"`
}

// TriageRecord is a quick-triage result for one file.
type TriageRecord struct {
	HostID    int64
	Path      []byte
	Size      int64
	ModTime   time.Time
	Verdict   incident.Verdict
	Reason    string
	RunID     int64
	ScannedAt time.Time
	Findings  []incident.Finding
}

// MigrateJob is one migration: a source tree, a destination and the rule
// set that screens it. Its id keys the journal.
type MigrateJob struct {
	ID      int64
	Source  []byte
	Dest    string
	RuleSet string
	Created time.Time
}

// Journal states of a migrated file. A file is "copying" from the moment
// its temporary name is chosen until it is promoted under its final name;
// "verified" once the stored copy was read back and matched.
const (
	MigrateCopying  = "copying"
	MigratePromoted = "promoted"
	MigrateVerified = "verified"
	MigrateRefused  = "refused"
	MigrateFailed   = "failed"
	MigrateSkipped  = "skipped"
)

// MigrateEntry is the journal entry of one source file of a job.
type MigrateEntry struct {
	JobID int64
	// Path is the path relative to the job's source, raw bytes.
	Path  []byte
	State string
	// Temp is the temporary name (or upload) in use while copying.
	Temp string
	// DestKey is where the file goes, relative to the destination.
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
	// FromScan is set when the verdict came from an earlier scan of the
	// unchanged file and the file was refused without being read.
	FromScan   bool
	Verify     string
	VerifiedAt time.Time
	// Notes are remarks for the manifest (name mappings, retries ...).
	Notes    []string
	Attempts int
	Updated  time.Time
}
