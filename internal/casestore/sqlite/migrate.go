package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/kintsugi-ir/kintsugi/internal/casestore"
)

// MigrateJob returns the job for (source, dest, ruleset), creating it.
func (s *Store) MigrateJob(ctx context.Context, source []byte, dest, ruleset string) (casestore.MigrateJob, error) {
	j := casestore.MigrateJob{Source: source, Dest: dest, RuleSet: ruleset}
	_, err := s.db.ExecContext(ctx, `INSERT INTO migrate_jobs(source, dest, ruleset, created) VALUES (?, ?, ?, ?) ON CONFLICT(source, dest, ruleset) DO NOTHING`,
		source, dest, ruleset, time.Now().UnixNano())
	if err != nil {
		return j, fmt.Errorf("migrate job: %w", err)
	}
	var created int64
	err = s.db.QueryRowContext(ctx, `SELECT id, created FROM migrate_jobs WHERE source = ? AND dest = ? AND ruleset = ?`, source, dest, ruleset).Scan(&j.ID, &created)
	if err != nil {
		return j, fmt.Errorf("migrate job: %w", err)
	}
	j.Created = fromNanos(created)
	return j, nil
}

// PutMigrateEntries upserts journal entries in one transaction.
func (s *Store) PutMigrateEntries(ctx context.Context, es []casestore.MigrateEntry) error {
	if len(es) == 0 {
		return nil
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `INSERT INTO migrate_files(job_id, path, state, temp, dest_key, size, mtime, ctime, dev, ino, mode, sha256,
			verdict, reason, findings, scanned_at, from_scan, verify, verified_at, notes, attempts, updated)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT(job_id, path) DO UPDATE SET state=excluded.state, temp=excluded.temp, dest_key=excluded.dest_key, size=excluded.size,
			mtime=excluded.mtime, ctime=excluded.ctime, dev=excluded.dev, ino=excluded.ino, mode=excluded.mode, sha256=excluded.sha256,
			verdict=excluded.verdict, reason=excluded.reason, findings=excluded.findings, scanned_at=excluded.scanned_at, from_scan=excluded.from_scan,
			verify=excluded.verify, verified_at=excluded.verified_at, notes=excluded.notes, attempts=excluded.attempts, updated=excluded.updated`)
		if err != nil {
			return err
		}
		defer st.Close()
		now := time.Now()
		for _, e := range es {
			if e.Verdict != "" && !e.Verdict.Valid() {
				return fmt.Errorf("migrate entry %q: invalid verdict %q", e.Path, e.Verdict)
			}
			if !validMigrateState(e.State) {
				return fmt.Errorf("migrate entry %q: invalid state %q", e.Path, e.State)
			}
			var fs, notes any
			if len(e.Findings) > 0 {
				b, err := json.Marshal(e.Findings)
				if err != nil {
					return err
				}
				fs = string(b)
			}
			if len(e.Notes) > 0 {
				b, _ := json.Marshal(e.Notes)
				notes = string(b)
			}
			if e.Updated.IsZero() {
				e.Updated = now
			}
			_, err := st.ExecContext(ctx, e.JobID, e.Path, e.State, e.Temp, e.DestKey, e.Size, nanos(e.ModTime), nanos(e.ChangeTime), int64(e.Dev), int64(e.Ino),
				e.Mode, e.SHA256, string(e.Verdict), e.Reason, fs, nanos(e.ScannedAt), e.FromScan, e.Verify, nanos(e.VerifiedAt), notes, e.Attempts, nanos(e.Updated))
			if err != nil {
				return fmt.Errorf("migrate entry %q: %w", e.Path, err)
			}
		}
		return nil
	})
}

func validMigrateState(s string) bool {
	switch s {
	case casestore.MigrateCopying, casestore.MigratePromoted, casestore.MigrateVerified, casestore.MigrateRefused, casestore.MigrateFailed, casestore.MigrateSkipped:
		return true
	}
	return false
}

const migrateColumns = `job_id, path, state, temp, dest_key, size, mtime, ctime, dev, ino, mode, sha256, verdict, reason, coalesce(findings, ''),
	scanned_at, from_scan, verify, verified_at, coalesce(notes, ''), attempts, updated`

func scanMigrateEntry(sc interface{ Scan(...any) error }) (casestore.MigrateEntry, error) {
	var e casestore.MigrateEntry
	var mtime, ctime, dev, ino, scanned, verified, updated int64
	var fs, notes string
	err := sc.Scan(&e.JobID, &e.Path, &e.State, &e.Temp, &e.DestKey, &e.Size, &mtime, &ctime, &dev, &ino, &e.Mode, &e.SHA256, &e.Verdict, &e.Reason,
		&fs, &scanned, &e.FromScan, &e.Verify, &verified, &notes, &e.Attempts, &updated)
	if err != nil {
		return e, err
	}
	e.ModTime, e.ChangeTime, e.ScannedAt, e.VerifiedAt, e.Updated = fromNanos(mtime), fromNanos(ctime), fromNanos(scanned), fromNanos(verified), fromNanos(updated)
	e.Dev, e.Ino = uint64(dev), uint64(ino)
	if fs != "" {
		if err := json.Unmarshal([]byte(fs), &e.Findings); err != nil {
			return e, fmt.Errorf("migrate entry %q: findings: %w", e.Path, err)
		}
	}
	if notes != "" {
		if err := json.Unmarshal([]byte(notes), &e.Notes); err != nil {
			return e, fmt.Errorf("migrate entry %q: notes: %w", e.Path, err)
		}
	}
	return e, nil
}

// MigrateEntry returns the entry of one path of a job.
func (s *Store) MigrateEntry(ctx context.Context, jobID int64, path []byte) (casestore.MigrateEntry, error) {
	e, err := scanMigrateEntry(s.db.QueryRowContext(ctx, `SELECT `+migrateColumns+` FROM migrate_files WHERE job_id = ? AND path = ?`, jobID, path))
	if errors.Is(err, sql.ErrNoRows) {
		return e, fmt.Errorf("migrate entry %q: %w", path, casestore.ErrNotFound)
	}
	return e, err
}

// MigrateEntryByKey returns an entry of a job with this destination key.
func (s *Store) MigrateEntryByKey(ctx context.Context, jobID int64, key string) (casestore.MigrateEntry, error) {
	e, err := scanMigrateEntry(s.db.QueryRowContext(ctx, `SELECT `+migrateColumns+` FROM migrate_files WHERE job_id = ? AND dest_key = ? ORDER BY path LIMIT 1`, jobID, key))
	if errors.Is(err, sql.ErrNoRows) {
		return e, fmt.Errorf("migrate key %q: %w", key, casestore.ErrNotFound)
	}
	return e, err
}

// MigrateEntries calls fn for each entry of a job (in the given states),
// in path order.
func (s *Store) MigrateEntries(ctx context.Context, jobID int64, states []string, fn func(casestore.MigrateEntry) error) error {
	q := `SELECT ` + migrateColumns + ` FROM migrate_files WHERE job_id = ?`
	args := []any{jobID}
	if len(states) > 0 {
		q += ` AND state IN (?` + strings.Repeat(`, ?`, len(states)-1) + `)`
		for _, st := range states {
			args = append(args, st)
		}
	}
	// Page through in path order so that fn may write to the store and a
	// job of millions of files never sits in memory at once.
	const page = 2000
	var after []byte
	for first := true; ; first = false {
		pq, pargs := q, append([]any(nil), args...)
		if !first {
			pq += ` AND path > ?`
			pargs = append(pargs, after)
		}
		rows, err := s.db.QueryContext(ctx, pq+` ORDER BY path LIMIT ?`, append(pargs, page)...)
		if err != nil {
			return err
		}
		var es []casestore.MigrateEntry
		for rows.Next() {
			e, err := scanMigrateEntry(rows)
			if err != nil {
				rows.Close()
				return err
			}
			es = append(es, e)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, e := range es {
			if err := fn(e); err != nil {
				return err
			}
		}
		if len(es) < page {
			return nil
		}
		after = es[len(es)-1].Path
	}
}
