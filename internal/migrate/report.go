package migrate

import (
	"context"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/kintsugi-ir/kintsugi/internal/incident"
	"github.com/kintsugi-ir/kintsugi/internal/migrate/manifest"
	"github.com/kintsugi-ir/kintsugi/internal/source"
)

// Record turns a journal entry into its manifest record.
func Record(e Entry, ruleset string) manifest.Record {
	r := manifest.Record{Size: e.Size, SHA256: e.SHA256, Verdict: e.Verdict, Reason: e.Reason, Findings: e.Findings, FromScan: e.FromScan,
		Notes: e.Notes}
	r.SetPath(string(e.Path))
	if !e.ModTime.IsZero() {
		r.MTime = e.ModTime.UTC().Format(time.RFC3339Nano)
	}
	if e.Mode != 0 {
		r.Mode = fmt.Sprintf("%04o", fs.FileMode(e.Mode).Perm())
	}
	if !e.ScannedAt.IsZero() {
		r.ScannedAt = e.ScannedAt.UTC().Format(time.RFC3339Nano)
		r.RuleSet = ruleset
	}
	if e.DestKey != "" {
		r.SetDestKey(e.DestKey)
		if e.DestKey != string(e.Path) {
			r.Mapping = &manifest.Mapping{Reason: mappingReason(e.Notes)}
		}
	}
	if e.Verify != "" {
		// The method is the same for every file: it is in the header.
		v := &manifest.Verification{At: e.VerifiedAt.UTC().Format(time.RFC3339Nano)}
		switch {
		case e.Verify == "ok":
			v.Result, v.SHA256 = "ok", e.SHA256
		case strings.HasPrefix(e.Verify, "mismatch"):
			v.Result, v.Error = "mismatch", e.Verify
		default:
			v.Result, v.Error = "error", e.Verify
		}
		r.Verify = v
	}
	switch e.State {
	case StateVerified:
		r.Status = manifest.StatusMigrated
	case StateRefused:
		r.Status = manifest.StatusRefused
	case StateSkipped:
		r.Status = manifest.StatusSkipped
		r.Verdict, r.SHA256 = "", ""
	default:
		r.Status = manifest.StatusFailed
		if e.State == StatePromoted && r.Reason == "" {
			r.Reason = "copied but not yet verified: run the same migration again"
		}
	}
	return r
}

func mappingReason(notes []string) string {
	for _, n := range notes {
		if strings.HasPrefix(n, "stored as ") {
			if i := strings.Index(n, ": "); i >= 0 {
				return n[i+2:]
			}
		}
	}
	return "name changed for the destination"
}

// WriteManifest writes one record per journal entry of the job, in path
// order, so the manifest of any run covers the whole job, including what
// earlier, interrupted runs did.
func WriteManifest(ctx context.Context, j Journal, w *manifest.Writer, ruleset string) error {
	return j.Each(ctx, nil, func(e Entry) error {
		return w.Add(Record(e, ruleset))
	})
}

// Plan is what a run would do, computed without reading or writing a
// file (--dry-run).
type Plan struct {
	Copy        int64      `json:"copy"` // files to read, screen and copy
	CopyBytes   int64      `json:"copy_bytes"`
	Done        int64      `json:"done"` // verified earlier, unchanged: not read again
	DoneBytes   int64      `json:"done_bytes"`
	ReadBack    int64      `json:"read_back"` // copied by an interrupted run, not verified yet: only read back
	Refuse      int64      `json:"refuse"`    // refused on an earlier verdict of the unchanged file
	RefuseBytes int64      `json:"refuse_bytes"`
	Unscannable int64      `json:"unscannable"` // devices, FIFOs, links out of the tree ...: refused
	Skipped     int64      `json:"skipped"`     // excluded or links inside the tree
	Mapped      int64      `json:"mapped"`      // names stored differently
	Unsupported int64      `json:"unsupported"` // names the destination cannot hold
	Recover     int64      `json:"recover"`     // interrupted uploads to clean up first
	Items       []PlanItem `json:"items,omitempty"`
}

// PlanItem is one file whose fate is worth listing: an expected refusal,
// a name mapping, a name the destination cannot hold.
type PlanItem struct {
	Path    string           `json:"path"`
	Action  string           `json:"action"` // refuse, map, unsupported, unscannable
	Verdict incident.Verdict `json:"verdict,omitempty"`
	Reason  string           `json:"reason,omitempty"`
	DestKey string           `json:"dest_key,omitempty"`
	Size    int64            `json:"size"`
}

// Plan walks the source and classifies every entry as Run would, without
// opening a file.
func (m *Migrator) Plan(ctx context.Context) (*Plan, error) {
	p := &Plan{}
	if err := m.cfg.Journal.Each(ctx, []string{StateCopying}, func(Entry) error { p.Recover++; return nil }); err != nil {
		return nil, err
	}
	entries := make(chan source.Entry, 64)
	walkErr := make(chan error, 1)
	go func() {
		walkErr <- source.Walk(ctx, []string{m.cfg.Source}, m.cfg.Walk, entries)
		close(entries)
	}()
	var err error
	for ent := range entries {
		if err != nil {
			continue
		}
		err = m.planEntry(ctx, p, ent)
	}
	if werr := <-walkErr; err == nil {
		err = werr
	}
	return p, err
}

func (m *Migrator) planEntry(ctx context.Context, p *Plan, ent source.Entry) error {
	rel := m.rel(ent.Path)
	switch ent.Kind {
	case source.KindExcluded, source.KindLinkInTree:
		p.Skipped++
		return nil
	case source.KindSkipped:
		p.Unscannable++
		p.Items = append(p.Items, PlanItem{Path: rel, Action: "unscannable", Verdict: incident.Unscannable, Reason: ent.Reason})
		return nil
	}
	prev, had, err := m.cfg.Journal.Get(ctx, []byte(rel))
	if err != nil {
		return err
	}
	if had && sameIdentity(&prev, ent.Info) {
		switch {
		case prev.State == StateVerified:
			p.Done++
			p.DoneBytes += ent.Info.Size
			return nil
		case prev.State == StatePromoted:
			p.ReadBack++
			return nil
		case prev.State == StateRefused && prev.Verdict != incident.Unscannable:
			p.Refuse++
			p.RefuseBytes += ent.Info.Size
			p.Items = append(p.Items, PlanItem{Path: rel, Action: "refuse", Verdict: prev.Verdict, Reason: "refused by an earlier run: " + prev.Reason, Size: ent.Info.Size})
			return nil
		}
	}
	key, mapping, err := m.cfg.Dest.MapName(rel)
	if err != nil {
		p.Unsupported++
		p.Items = append(p.Items, PlanItem{Path: rel, Action: "unsupported", Reason: err.Error(), Size: ent.Info.Size})
		return nil
	}
	if mapping != "" {
		p.Mapped++
		p.Items = append(p.Items, PlanItem{Path: rel, Action: "map", DestKey: key, Reason: mapping, Size: ent.Info.Size})
	}
	if m.cfg.Known != nil {
		if pr, ok := m.cfg.Known(ent.Path, ent.Info); ok && pr.Verdict != incident.Clean {
			p.Refuse++
			p.RefuseBytes += ent.Info.Size
			p.Items = append(p.Items, PlanItem{Path: rel, Action: "refuse", Verdict: pr.Verdict, Reason: "earlier scan: " + pr.Reason, Size: ent.Info.Size})
			return nil
		}
	}
	p.Copy++
	p.CopyBytes += ent.Info.Size
	return nil
}
