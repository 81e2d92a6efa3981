package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kintsugi-ir/kintsugi/internal/watch/alert"
	"github.com/kintsugi-ir/kintsugi/internal/watch/fanotify"
)

// The naive detector is the rule the company tried: count each process's
// writes of high-entropy content and kill it when there are many in a
// short time. It is here only to be measured beside kintsugi.
const (
	naiveCount  = 10 // high-entropy files ...
	naiveWindow = 10 * time.Second
)

type naive struct {
	g      *fanotify.Group
	res    *fanotify.Resolver
	alerts chan alert.Alert
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func startNaive(path string) (*naive, error) {
	g, err := fanotify.NewDirEntryGroup()
	if err != nil {
		return nil, err
	}
	if err := g.MarkFilesystem(path, fanotify.CloseWrite); err != nil {
		g.Close()
		return nil, err
	}
	res := fanotify.NewResolver(0)
	if _, err := res.AddFilesystem(path); err != nil {
		g.Close()
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &naive{g: g, res: res, alerts: make(chan alert.Alert, 64), cancel: cancel}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		n.loop(ctx)
	}()
	return n, nil
}

func (n *naive) loop(ctx context.Context) {
	hits := map[int32][]time.Time{}
	killed := map[int32]bool{}
	buf := make([]byte, 256<<10)
	for ctx.Err() == nil {
		err := n.g.Read(buf, func(e *fanotify.Event) {
			defer func() {
				if e.PidFD >= 0 {
					unix.Close(e.PidFD)
				}
			}()
			if killed[e.Pid] || !n.highEntropy(e.Object) {
				return
			}
			now := time.Now()
			h := append(hits[e.Pid], now)
			for len(h) > 0 && now.Sub(h[0]) > naiveWindow {
				h = h[1:]
			}
			hits[e.Pid] = h
			if len(h) >= naiveCount {
				killed[e.Pid] = true
				if e.PidFD >= 0 {
					unix.PidfdSendSignal(e.PidFD, unix.SIGKILL, nil, 0)
				} else {
					unix.Kill(int(e.Pid), unix.SIGKILL)
				}
				n.alerts <- alert.Alert{Time: now, Summary: fmt.Sprintf("pid %d wrote %d high-entropy files", e.Pid, len(h))}
			}
		})
		if errors.Is(err, os.ErrClosed) {
			return
		}
	}
}

func (n *naive) highEntropy(h fanotify.Handle) bool {
	f, err := n.res.Open(h)
	if err != nil {
		return false
	}
	defer f.Close()
	b := make([]byte, 64<<10)
	k, _ := f.ReadAt(b, 0)
	b = b[:k]
	if len(b) < 1024 {
		return false
	}
	var hist [256]float64
	for _, c := range b {
		hist[c]++
	}
	var ent float64
	for _, c := range hist {
		if c > 0 {
			p := c / float64(len(b))
			ent -= p * math.Log2(p)
		}
	}
	return ent > 7.5
}

func (n *naive) wait(d time.Duration) (*alert.Alert, bool) {
	select {
	case al := <-n.alerts:
		return &al, true
	case <-time.After(d):
		return nil, false
	}
}

func (n *naive) stop() {
	n.cancel()
	n.g.Close()
	n.wg.Wait()
	n.res.Close()
}
