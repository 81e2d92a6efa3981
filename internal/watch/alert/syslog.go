//go:build !windows && !plan9

package alert

import (
	"context"
	"fmt"
	"log/syslog"

	"github.com/kintsugi-ir/kintsugi/internal/incident"
)

// Syslog sends one line per alert to the local syslog daemon (facility
// auth), at a priority that follows the alert's severity.
type Syslog struct {
	w *syslog.Writer
}

// OpenSyslog connects to the local syslog daemon.
func OpenSyslog() (*Syslog, error) {
	w, err := syslog.New(syslog.LOG_AUTH|syslog.LOG_WARNING, "kintsugi-watch")
	if err != nil {
		return nil, fmt.Errorf("syslog: %w", err)
	}
	return &Syslog{w: w}, nil
}

// Name is "syslog".
func (s *Syslog) Name() string { return "syslog" }

// Send writes a's one-line form.
func (s *Syslog) Send(_ context.Context, a *Alert) error {
	msg := Line(a)
	switch a.Severity {
	case incident.Critical:
		return s.w.Crit(msg)
	case incident.High:
		return s.w.Err(msg)
	case incident.Medium:
		return s.w.Warning(msg)
	}
	return s.w.Notice(msg)
}

// Close closes the connection.
func (s *Syslog) Close() error { return s.w.Close() }
