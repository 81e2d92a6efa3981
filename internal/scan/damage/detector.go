package damage

import (
	"context"
	"fmt"

	"github.com/kintsugi-ir/kintsugi/internal/bufpool"
	"github.com/kintsugi-ir/kintsugi/internal/incident"
	"github.com/kintsugi-ir/kintsugi/internal/scan"
)

// Detector plugs Classify into the scan engine. It takes part in quick
// triage.
type Detector struct {
	opts Options
	fam  *Families
	bufs *bufpool.Pool
}

var (
	_ scan.Detector      = (*Detector)(nil)
	_ scan.QuickDetector = (*Detector)(nil)
	_ scan.QuickPlanner  = (*Detector)(nil)
)

// New returns a damage detector.
func New(opts Options) *Detector {
	// a worker's windows and pinned head and tail take a few MiB
	return &Detector{opts: opts, fam: opts.families(), bufs: bufpool.New(64 << 20)}
}

// Name implements scan.Detector.
func (d *Detector) Name() string { return "damage" }

// Quick implements scan.QuickDetector.
func (d *Detector) Quick() bool { return true }

// QuickPlan implements scan.QuickPlanner: the blocks quick mode samples,
// the head that every validator starts from among them.
func (d *Detector) QuickPlan(name string, size int64) []scan.Range {
	var rs []scan.Range
	quickPlan(size).runs(func(off, end int64) bool {
		rs = append(rs, scan.Range{Off: off, Len: end - off})
		return true
	})
	return rs
}

// Begin implements scan.Detector.
func (d *Detector) Begin(ctx context.Context, f *scan.File) (scan.Examination, error) {
	if f.Size <= 0 || f.Content == nil {
		return nil, nil
	}
	opts := d.opts
	opts.Quick = opts.Quick || f.Quick
	e := &examination{d: d, f: f, opts: opts}
	if !f.Quick {
		e.prof = newProfile(fullPlan(f.Size))
	}
	return e, nil
}

// examination follows one file through the engine.
type examination struct {
	d    *Detector
	f    *scan.File
	opts Options
	prof *profile
	mem  []byte
	n    int64
}

// Write receives the file's bytes in order and feeds the entropy profile.
func (e *examination) Write(p []byte) (int, error) {
	if e.prof == nil {
		return len(p), nil
	}
	if e.f.Whole && e.n == 0 && int64(len(p)) == e.f.Size {
		e.mem = p
	}
	e.prof.write(p)
	e.n += int64(len(p))
	return len(p), nil
}

// Close classifies the file.
func (e *examination) Close(ctx context.Context) ([]incident.Finding, error) {
	a := newAnalysis(ctx, e.f.Content, e.f.Size, e.f.Name, e.mem, e.opts, e.d.fam, e.d.bufs)
	defer a.s.release()
	if e.prof != nil && e.n == e.f.Size {
		e.prof.finish()
		a.prof = e.prof
	} else {
		// quick mode, or the stream stopped short: sample ourselves
		p := fullPlan(e.f.Size)
		if e.opts.Quick {
			p = quickPlan(e.f.Size)
		}
		a.prof = newProfile(p)
		a.prof.fill(a.s)
	}
	res, err := a.run()
	e.mem = nil
	if err != nil {
		return nil, fmt.Errorf("damage: %w", err)
	}
	f, ok := res.Finding()
	if !ok {
		return nil, nil
	}
	f.Member = e.f.Member
	if e.opts.Quick {
		f.Reason = "triage: " + f.Reason
	}
	return []incident.Finding{f}, nil
}
