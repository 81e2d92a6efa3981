// Package sqlite is the embedded case store: one SQLite file (by default
// kintsugi.db in the working directory), opened through the pure-Go
// modernc.org/sqlite driver, so kintsugi needs no database server.
package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/kintsugi-ir/kintsugi/internal/casestore"
	"github.com/kintsugi-ir/kintsugi/internal/incident"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Store is the SQLite case store.
type Store struct {
	db   *sql.DB
	path string
}

var _ casestore.Store = (*Store)(nil)

// Open opens (creating if needed) the case store at path and brings its
// schema up to date. A case written by a newer kintsugi is refused rather
// than misread.
func Open(ctx context.Context, path string) (*Store, error) {
	q := url.Values{}
	for _, p := range []string{"busy_timeout(10000)", "journal_mode(WAL)", "foreign_keys(1)", "synchronous(NORMAL)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("case store %s: %w", path, err)
	}
	db.SetMaxOpenConns(4)
	s := &Store{db: db, path: path}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("case store %s: %w", path, err)
	}
	return s, nil
}

// ErrNewerSchema is returned for a case file written by a newer kintsugi.
var ErrNewerSchema = errors.New("case store was written by a newer kintsugi")

func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied INTEGER NOT NULL)`); err != nil {
		return err
	}
	have, err := s.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	if have > len(migrations) {
		return fmt.Errorf("%w (schema %d, this binary knows %d)", ErrNewerSchema, have, len(migrations))
	}
	for v := have + 1; v <= len(migrations); v++ {
		err := s.tx(ctx, func(tx *sql.Tx) error {
			// Another process may have migrated meanwhile.
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, v).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if _, err := tx.ExecContext(ctx, migrations[v-1]); err != nil {
				return fmt.Errorf("migration %d: %w", v, err)
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations(version, applied) VALUES (?, ?)`, v, time.Now().UnixNano())
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// SchemaVersion returns the number of applied migrations.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v sql.NullInt64
	if err := s.db.QueryRowContext(ctx, `SELECT max(version) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, err
	}
	return int(v.Int64), nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

func (s *Store) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// Host returns the named host, creating it when new.
func (s *Store) Host(ctx context.Context, name string) (incident.Host, error) {
	if name == "" {
		return incident.Host{}, errors.New("host name is empty")
	}
	h := incident.Host{Name: name}
	_, err := s.db.ExecContext(ctx, `INSERT INTO hosts(name, created) VALUES (?, ?) ON CONFLICT(name) DO NOTHING`, name, time.Now().UnixNano())
	if err != nil {
		return h, fmt.Errorf("host %q: %w", name, err)
	}
	err = s.db.QueryRowContext(ctx, `SELECT id FROM hosts WHERE name = ?`, name).Scan(&h.ID)
	if err != nil {
		return h, fmt.Errorf("host %q: %w", name, err)
	}
	return h, nil
}

// Hosts lists every host by name.
func (s *Store) Hosts(ctx context.Context) ([]incident.Host, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, name FROM hosts ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var hs []incident.Host
	for rows.Next() {
		var h incident.Host
		if err := rows.Scan(&h.ID, &h.Name); err != nil {
			return nil, err
		}
		hs = append(hs, h)
	}
	return hs, rows.Err()
}

// BeginRun records a new run.
func (s *Store) BeginRun(ctx context.Context, r incident.Run) (int64, error) {
	args, _ := json.Marshal(r.Args)
	if r.Started.IsZero() {
		r.Started = time.Now()
	}
	if r.Status == "" {
		r.Status = incident.RunRunning
	}
	res, err := s.db.ExecContext(ctx, `INSERT INTO runs(host_id, kind, started, status, args, ruleset) VALUES (?, ?, ?, ?, ?, ?)`,
		r.HostID, string(r.Kind), r.Started.UnixNano(), string(r.Status), string(args), r.RuleSet)
	if err != nil {
		return 0, fmt.Errorf("begin run: %w", err)
	}
	return res.LastInsertId()
}

// FinishRun records how a run ended.
func (s *Store) FinishRun(ctx context.Context, id int64, status incident.RunStatus, stats json.RawMessage) error {
	var st any
	if len(stats) > 0 {
		st = string(stats)
	}
	res, err := s.db.ExecContext(ctx, `UPDATE runs SET finished = ?, status = ?, stats = ? WHERE id = ?`, time.Now().UnixNano(), string(status), st, id)
	if err != nil {
		return fmt.Errorf("finish run %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("finish run %d: %w", id, casestore.ErrNotFound)
	}
	return nil
}

// Runs lists runs, oldest first.
func (s *Store) Runs(ctx context.Context, hostID int64, kind incident.RunKind) ([]incident.Run, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, host_id, kind, started, coalesce(finished, 0), status, coalesce(args, ''), coalesce(ruleset, ''), coalesce(stats, '')
		FROM runs WHERE (? = 0 OR host_id = ?) AND (? = '' OR kind = ?) ORDER BY id`, hostID, hostID, string(kind), string(kind))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var rs []incident.Run
	for rows.Next() {
		var r incident.Run
		var started, finished int64
		var args, stats string
		if err := rows.Scan(&r.ID, &r.HostID, &r.Kind, &started, &finished, &r.Status, &args, &r.RuleSet, &stats); err != nil {
			return nil, err
		}
		r.Started, r.Finished = fromNanos(started), fromNanos(finished)
		if args != "" {
			json.Unmarshal([]byte(args), &r.Args)
		}
		if stats != "" {
			r.Stats = json.RawMessage(stats)
		}
		rs = append(rs, r)
	}
	return rs, rows.Err()
}

// PutFiles upserts screening results and their findings in one transaction.
func (s *Store) PutFiles(ctx context.Context, recs []casestore.FileRecord) error {
	if len(recs) == 0 {
		return nil
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		up, err := tx.PrepareContext(ctx, `INSERT INTO files(host_id, path, size, mtime, ctime, dev, ino, mode, sha256, sha1, md5, verdict, reason, ruleset, reusable, run_id, scanned_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT(host_id, path) DO UPDATE SET size=excluded.size, mtime=excluded.mtime, ctime=excluded.ctime, dev=excluded.dev, ino=excluded.ino,
			mode=excluded.mode, sha256=excluded.sha256, sha1=excluded.sha1, md5=excluded.md5, verdict=excluded.verdict, reason=excluded.reason,
			ruleset=excluded.ruleset, reusable=excluded.reusable, run_id=excluded.run_id, scanned_at=excluded.scanned_at
			RETURNING id`)
		if err != nil {
			return err
		}
		defer up.Close()
		del, err := tx.PrepareContext(ctx, `DELETE FROM findings WHERE file_id = ?`)
		if err != nil {
			return err
		}
		defer del.Close()
		ins, err := tx.PrepareContext(ctx, `INSERT INTO findings(file_id, detector, rule, verdict, severity, reason, member, evidence) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer ins.Close()
		for _, r := range recs {
			if !r.Verdict.Valid() {
				return fmt.Errorf("file %q: invalid verdict %q", r.Path, r.Verdict)
			}
			var id int64
			err := up.QueryRowContext(ctx, r.HostID, r.Path, r.Size, nanos(r.ModTime), nanos(r.ChangeTime), int64(r.Dev), int64(r.Ino), r.Mode,
				r.SHA256, r.SHA1, r.MD5, string(r.Verdict), r.Reason, r.RuleSet, r.Reusable, r.RunID, nanos(r.ScannedAt)).Scan(&id)
			if err != nil {
				return fmt.Errorf("file %q: %w", r.Path, err)
			}
			if _, err := del.ExecContext(ctx, id); err != nil {
				return err
			}
			for _, f := range r.Findings {
				var ev any
				if len(f.Evidence) > 0 {
					ev = string(f.Evidence)
				}
				if _, err := ins.ExecContext(ctx, id, f.Detector, f.Rule, string(f.Verdict), string(f.Severity), f.Reason, f.Member, ev); err != nil {
					return fmt.Errorf("file %q: finding: %w", r.Path, err)
				}
			}
		}
		return nil
	})
}

const fileColumns = `id, host_id, path, size, mtime, ctime, dev, ino, mode, sha256, sha1, md5, verdict, reason, ruleset, reusable, run_id, scanned_at`

func scanFile(sc interface{ Scan(...any) error }) (int64, casestore.FileRecord, error) {
	var r casestore.FileRecord
	var id, mtime, ctime, dev, ino, scanned int64
	err := sc.Scan(&id, &r.HostID, &r.Path, &r.Size, &mtime, &ctime, &dev, &ino, &r.Mode, &r.SHA256, &r.SHA1, &r.MD5, &r.Verdict, &r.Reason, &r.RuleSet, &r.Reusable, &r.RunID, &scanned)
	r.ModTime, r.ChangeTime, r.ScannedAt = fromNanos(mtime), fromNanos(ctime), fromNanos(scanned)
	r.Dev, r.Ino = uint64(dev), uint64(ino)
	return id, r, err
}

// File returns the stored result for one path.
func (s *Store) File(ctx context.Context, hostID int64, path []byte) (casestore.FileRecord, error) {
	id, r, err := scanFile(s.db.QueryRowContext(ctx, `SELECT `+fileColumns+` FROM files WHERE host_id = ? AND path = ?`, hostID, path))
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("file %q: %w", path, casestore.ErrNotFound)
	}
	if err != nil {
		return r, err
	}
	r.Findings, err = s.findings(ctx, id)
	return r, err
}

func (s *Store) findings(ctx context.Context, fileID int64) ([]incident.Finding, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT detector, rule, verdict, severity, reason, member, coalesce(evidence, '') FROM findings WHERE file_id = ? ORDER BY id`, fileID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var fs []incident.Finding
	for rows.Next() {
		var f incident.Finding
		var ev string
		if err := rows.Scan(&f.Detector, &f.Rule, &f.Verdict, &f.Severity, &f.Reason, &f.Member, &ev); err != nil {
			return nil, err
		}
		if ev != "" {
			f.Evidence = json.RawMessage(ev)
		}
		fs = append(fs, f)
	}
	return fs, rows.Err()
}

// Files calls fn for each matching file in path order.
func (s *Store) Files(ctx context.Context, hostID int64, q casestore.FileQuery, fn func(casestore.FileRecord) error) error {
	where := []string{"host_id = ?"}
	args := []any{hostID}
	if len(q.Verdicts) > 0 {
		ph := make([]string, len(q.Verdicts))
		for i, v := range q.Verdicts {
			ph[i] = "?"
			args = append(args, string(v))
		}
		where = append(where, "verdict IN ("+strings.Join(ph, ",")+")")
	}
	if len(q.PathPrefix) > 0 {
		// Blob range: every path with this prefix sorts between the prefix
		// and the prefix followed by 0xff bytes.
		where = append(where, "path >= ? AND substr(path, 1, ?) = ?")
		args = append(args, q.PathPrefix, len(q.PathPrefix), q.PathPrefix)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+fileColumns+` FROM files WHERE `+strings.Join(where, " AND ")+` ORDER BY path`, args...)
	if err != nil {
		return err
	}
	// Collect first: fn may query the store, and rows hold a connection.
	type item struct {
		id int64
		r  casestore.FileRecord
	}
	var items []item
	for rows.Next() {
		id, r, err := scanFile(rows)
		if err != nil {
			rows.Close()
			return err
		}
		items = append(items, item{id, r})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, it := range items {
		if q.WithFindings {
			if it.r.Findings, err = s.findings(ctx, it.id); err != nil {
				return err
			}
		}
		if err := fn(it.r); err != nil {
			return err
		}
	}
	return nil
}

// FileIdentities returns every stored file's identity, keyed by path.
func (s *Store) FileIdentities(ctx context.Context, hostID int64) (map[string]casestore.FileIdentity, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+fileColumns+` FROM files WHERE host_id = ?`, hostID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	m := make(map[string]casestore.FileIdentity)
	for rows.Next() {
		_, r, err := scanFile(rows)
		if err != nil {
			return nil, err
		}
		m[string(r.Path)] = r.Identity()
	}
	return m, rows.Err()
}

// VerdictCounts sums files and bytes per verdict.
func (s *Store) VerdictCounts(ctx context.Context, hostID int64) (map[incident.Verdict]casestore.Count, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT verdict, count(*), coalesce(sum(size), 0) FROM files WHERE host_id = ? GROUP BY verdict`, hostID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	m := make(map[incident.Verdict]casestore.Count)
	for rows.Next() {
		var v incident.Verdict
		var c casestore.Count
		if err := rows.Scan(&v, &c.Files, &c.Bytes); err != nil {
			return nil, err
		}
		m[v] = c
	}
	return m, rows.Err()
}

// PutTriage upserts quick-triage results.
func (s *Store) PutTriage(ctx context.Context, recs []casestore.TriageRecord) error {
	if len(recs) == 0 {
		return nil
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `INSERT INTO triage(host_id, path, size, mtime, verdict, reason, findings, run_id, scanned_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT(host_id, path) DO UPDATE SET size=excluded.size, mtime=excluded.mtime, verdict=excluded.verdict, reason=excluded.reason,
			findings=excluded.findings, run_id=excluded.run_id, scanned_at=excluded.scanned_at`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, r := range recs {
			fs, err := json.Marshal(r.Findings)
			if err != nil {
				return err
			}
			if _, err := st.ExecContext(ctx, r.HostID, r.Path, r.Size, nanos(r.ModTime), string(r.Verdict), r.Reason, string(fs), r.RunID, nanos(r.ScannedAt)); err != nil {
				return fmt.Errorf("triage %q: %w", r.Path, err)
			}
		}
		return nil
	})
}

// Triage calls fn for each triage result of a host, in path order.
func (s *Store) Triage(ctx context.Context, hostID int64, fn func(casestore.TriageRecord) error) error {
	rows, err := s.db.QueryContext(ctx, `SELECT host_id, path, size, mtime, verdict, reason, coalesce(findings, ''), run_id, scanned_at FROM triage WHERE host_id = ? ORDER BY path`, hostID)
	if err != nil {
		return err
	}
	var recs []casestore.TriageRecord
	for rows.Next() {
		var r casestore.TriageRecord
		var mtime, scanned int64
		var fs string
		if err := rows.Scan(&r.HostID, &r.Path, &r.Size, &mtime, &r.Verdict, &r.Reason, &fs, &r.RunID, &scanned); err != nil {
			rows.Close()
			return err
		}
		r.ModTime, r.ScannedAt = fromNanos(mtime), fromNanos(scanned)
		if fs != "" {
			json.Unmarshal([]byte(fs), &r.Findings)
		}
		recs = append(recs, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	sort.Slice(recs, func(i, j int) bool { return bytes.Compare(recs[i].Path, recs[j].Path) < 0 })
	for _, r := range recs {
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

// PutHostSummary stores a summary of one kind for a host.
func (s *Store) PutHostSummary(ctx context.Context, hostID int64, kind string, data json.RawMessage) error {
	if !json.Valid(data) {
		return fmt.Errorf("host summary %q: invalid JSON", kind)
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO host_summaries(host_id, kind, data, updated) VALUES (?, ?, ?, ?)
		ON CONFLICT(host_id, kind) DO UPDATE SET data=excluded.data, updated=excluded.updated`, hostID, kind, string(data), time.Now().UnixNano())
	return err
}

// HostSummary returns the summary of one kind for a host.
func (s *Store) HostSummary(ctx context.Context, hostID int64, kind string) (json.RawMessage, error) {
	var d string
	err := s.db.QueryRowContext(ctx, `SELECT data FROM host_summaries WHERE host_id = ? AND kind = ?`, hostID, kind).Scan(&d)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("host summary %q: %w", kind, casestore.ErrNotFound)
	}
	return json.RawMessage(d), err
}
