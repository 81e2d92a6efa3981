package sqlite

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/kintsugi-ir/kintsugi/internal/casestore"
)

// PutWatchAlert stores one alert; a stored id is left alone.
func (s *Store) PutWatchAlert(ctx context.Context, a casestore.WatchAlert) error {
	if a.ID == "" || a.HostID == 0 {
		return fmt.Errorf("watch alert: no id or host")
	}
	if len(a.Data) == 0 {
		a.Data = json.RawMessage("{}")
	}
	if !json.Valid(a.Data) {
		return fmt.Errorf("watch alert %s: invalid JSON", a.ID)
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO watch_alerts(id, host_id, time, kind, rule, severity, title, summary, data)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING`,
		a.ID, a.HostID, nanos(a.Time), a.Kind, a.Rule, a.Severity, a.Title, a.Summary, string(a.Data))
	if err != nil {
		return fmt.Errorf("watch alert %s: %w", a.ID, err)
	}
	return nil
}

// WatchAlerts calls fn for stored alerts, oldest first.
func (s *Store) WatchAlerts(ctx context.Context, hostID int64, fn func(casestore.WatchAlert) error) error {
	q := `SELECT id, host_id, time, kind, rule, severity, title, summary, data FROM watch_alerts`
	var args []any
	if hostID != 0 {
		q += ` WHERE host_id = ?`
		args = append(args, hostID)
	}
	q += ` ORDER BY time, id`
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var a casestore.WatchAlert
		var t int64
		var data string
		if err := rows.Scan(&a.ID, &a.HostID, &t, &a.Kind, &a.Rule, &a.Severity, &a.Title, &a.Summary, &data); err != nil {
			return err
		}
		a.Time = fromNanos(t)
		a.Data = json.RawMessage(data)
		if err := fn(a); err != nil {
			return err
		}
	}
	return rows.Err()
}
