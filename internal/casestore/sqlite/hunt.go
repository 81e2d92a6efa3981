package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/kintsugi-ir/kintsugi/internal/casestore"
)

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// PutHunt replaces the hunt results stored for one host.
func (s *Store) PutHunt(ctx context.Context, h casestore.HuntHost, ds []casestore.HuntDetection, ls []casestore.HuntLogon) error {
	if h.HostID == 0 {
		return fmt.Errorf("hunt results: no host")
	}
	if len(h.Data) == 0 {
		h.Data = json.RawMessage("{}")
	}
	if !json.Valid(h.Data) {
		return fmt.Errorf("hunt results: invalid JSON verdict")
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		for _, q := range []string{`DELETE FROM hunt_detections WHERE host_id = ?`, `DELETE FROM hunt_logons WHERE host_id = ?`} {
			if _, err := tx.ExecContext(ctx, q, h.HostID); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO hunt_hosts(host_id, run_id, accessed, encrypted, exfiltrated, first_seen, last_seen, evidence, data, updated)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT(host_id) DO UPDATE SET run_id=excluded.run_id, accessed=excluded.accessed, encrypted=excluded.encrypted,
			exfiltrated=excluded.exfiltrated, first_seen=excluded.first_seen, last_seen=excluded.last_seen,
			evidence=excluded.evidence, data=excluded.data, updated=excluded.updated`,
			h.HostID, h.RunID, boolInt(h.Accessed), boolInt(h.Encrypted), boolInt(h.Exfiltrated),
			nanos(h.FirstSeen), nanos(h.LastSeen), h.Evidence, string(h.Data), time.Now().UnixNano())
		if err != nil {
			return err
		}
		if len(ds) > 0 {
			st, err := tx.PrepareContext(ctx, `INSERT INTO hunt_detections(host_id, run_id, time, last, rule_id, engine, title, severity, category, account, source, data)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
			if err != nil {
				return err
			}
			defer st.Close()
			for _, d := range ds {
				data := d.Data
				if len(data) == 0 {
					data = json.RawMessage("{}")
				}
				if !json.Valid(data) {
					return fmt.Errorf("hunt detection %s: invalid JSON", d.RuleID)
				}
				if _, err := st.ExecContext(ctx, h.HostID, h.RunID, nanos(d.Time), nanos(d.Last), d.RuleID, d.Engine, d.Title,
					d.Severity, d.Category, d.Account, d.Source, string(data)); err != nil {
					return err
				}
			}
		}
		if len(ls) > 0 {
			st, err := tx.PrepareContext(ctx, `INSERT INTO hunt_logons(host_id, run_id, account, source, kinds, first, last, count, privileged, suspicious)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
			if err != nil {
				return err
			}
			defer st.Close()
			for _, l := range ls {
				if _, err := st.ExecContext(ctx, h.HostID, h.RunID, l.Account, l.Source, strings.Join(l.Kinds, ","),
					nanos(l.First), nanos(l.Last), l.Count, boolInt(l.Privileged), boolInt(l.Suspicious)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("hunt results of host %d: %w", h.HostID, err)
	}
	return nil
}

// HuntHosts lists the stored hunt verdicts by host id.
func (s *Store) HuntHosts(ctx context.Context) ([]casestore.HuntHost, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT host_id, run_id, accessed, encrypted, exfiltrated, first_seen, last_seen, evidence, data, updated
		FROM hunt_hosts ORDER BY host_id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []casestore.HuntHost
	for rows.Next() {
		var h casestore.HuntHost
		var acc, enc, exf int
		var first, last, updated int64
		var data string
		if err := rows.Scan(&h.HostID, &h.RunID, &acc, &enc, &exf, &first, &last, &h.Evidence, &data, &updated); err != nil {
			return nil, err
		}
		h.Accessed, h.Encrypted, h.Exfiltrated = acc != 0, enc != 0, exf != 0
		h.FirstSeen, h.LastSeen, h.Updated = fromNanos(first), fromNanos(last), fromNanos(updated)
		h.Data = json.RawMessage(data)
		out = append(out, h)
	}
	return out, rows.Err()
}

// HuntDetections calls fn for stored detections, oldest first.
func (s *Store) HuntDetections(ctx context.Context, hostID int64, fn func(casestore.HuntDetection) error) error {
	q := `SELECT host_id, run_id, time, last, rule_id, engine, title, severity, category, account, source, data FROM hunt_detections`
	var args []any
	if hostID != 0 {
		q += ` WHERE host_id = ?`
		args = append(args, hostID)
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY time, id`, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var d casestore.HuntDetection
		var t, last int64
		var data string
		if err := rows.Scan(&d.HostID, &d.RunID, &t, &last, &d.RuleID, &d.Engine, &d.Title, &d.Severity, &d.Category, &d.Account, &d.Source, &data); err != nil {
			return err
		}
		d.Time, d.Last, d.Data = fromNanos(t), fromNanos(last), json.RawMessage(data)
		if err := fn(d); err != nil {
			return err
		}
	}
	return rows.Err()
}

// HuntLogons returns stored logon edges, oldest first.
func (s *Store) HuntLogons(ctx context.Context, hostID int64) ([]casestore.HuntLogon, error) {
	q := `SELECT host_id, run_id, account, source, kinds, first, last, count, privileged, suspicious FROM hunt_logons`
	var args []any
	if hostID != 0 {
		q += ` WHERE host_id = ?`
		args = append(args, hostID)
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY first, id`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []casestore.HuntLogon
	for rows.Next() {
		var l casestore.HuntLogon
		var kinds string
		var first, last int64
		var priv, susp int
		if err := rows.Scan(&l.HostID, &l.RunID, &l.Account, &l.Source, &kinds, &first, &last, &l.Count, &priv, &susp); err != nil {
			return nil, err
		}
		if kinds != "" {
			l.Kinds = strings.Split(kinds, ",")
		}
		l.First, l.Last, l.Privileged, l.Suspicious = fromNanos(first), fromNanos(last), priv != 0, susp != 0
		out = append(out, l)
	}
	return out, rows.Err()
}
