package ui

import (
	"context"
	"io"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
)

// Progress is a live bar on a terminal's stderr: files, bytes, MB/s and
// ETA. On anything but a terminal it prints nothing at all.
type Progress struct {
	p      *mpb.Progress
	bar    *mpb.Bar
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Counters is what the bar polls.
type Counters struct {
	Files, Bytes func() int64
	// Total returns the expected bytes and whether the pre-count is done.
	Total func() (int64, bool)
	Label string
}

// StartProgress starts a bar on w when w is a terminal; otherwise it
// returns a Progress whose methods do nothing.
func StartProgress(w io.Writer, c Counters) *Progress {
	if !IsTerminal(w) {
		return &Progress{}
	}
	ctx, cancel := context.WithCancel(context.Background())
	pr := &Progress{cancel: cancel}
	pr.p = mpb.NewWithContext(ctx, mpb.WithOutput(w), mpb.WithWidth(40), mpb.WithRefreshRate(200*time.Millisecond))
	pr.bar = pr.p.New(0,
		mpb.BarStyle().Lbound("[").Filler("=").Tip(">").Padding(" ").Rbound("]"),
		mpb.PrependDecorators(
			decor.Name(c.Label+" ", decor.WCSyncSpaceR),
			decor.Any(func(decor.Statistics) string { return Int(c.Files()) + " files" }, decor.WCSyncSpace),
		),
		mpb.AppendDecorators(
			decor.Any(func(s decor.Statistics) string {
				t, done := c.Total()
				if !done {
					return Bytes(s.Current) + " / counting…"
				}
				return Bytes(s.Current) + " / " + Bytes(t)
			}, decor.WCSyncSpace),
			decor.AverageSpeed(decor.SizeB1000(0), "%.1f", decor.WCSyncSpace),
			decor.OnComplete(decor.AverageETA(decor.ET_STYLE_MMSS, decor.WCSyncSpace), "done"),
		),
	)
	pr.wg.Add(1)
	go func() {
		defer pr.wg.Done()
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				total, done := c.Total()
				cur := c.Bytes()
				if done {
					pr.bar.SetTotal(max(total, cur), false)
				} else {
					pr.bar.SetTotal(max(total, cur)+1, false)
				}
				pr.bar.SetCurrent(cur)
			}
		}
	}()
	return pr
}

// Stop removes the bar.
func (pr *Progress) Stop() {
	if pr.p == nil {
		return
	}
	pr.cancel()
	pr.wg.Wait()
	pr.bar.Abort(true)
	pr.p.Wait()
}
