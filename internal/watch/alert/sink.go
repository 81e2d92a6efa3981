package alert

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
)

// Sink delivers alerts.
type Sink interface {
	// Name names the sink in logs ("journal", "webhook" ...).
	Name() string
	Send(ctx context.Context, a *Alert) error
	Close() error
}

// Journal appends alerts as JSON lines to a local file, synced after
// each: it is the record that survives everything else failing.
type Journal struct {
	mu sync.Mutex
	f  *os.File
}

// OpenJournal opens (creating, mode 0600) the journal at path.
func OpenJournal(path string) (*Journal, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("alert journal: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("alert journal: %w", err)
	}
	return &Journal{f: f}, nil
}

// Name is "journal".
func (j *Journal) Name() string { return "journal" }

// Send appends a.
func (j *Journal) Send(_ context.Context, a *Alert) error {
	b, err := json.Marshal(a)
	if err != nil {
		return err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if _, err := j.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("alert journal: %w", err)
	}
	return j.f.Sync()
}

// Close closes the file.
func (j *Journal) Close() error { return j.f.Close() }

// FuncSink adapts a function (the case store, the terminal) to Sink.
type FuncSink struct {
	SinkName string
	Fn       func(ctx context.Context, a *Alert) error
	CloseFn  func() error
}

// Name returns SinkName.
func (f FuncSink) Name() string { return f.SinkName }

// Send calls Fn.
func (f FuncSink) Send(ctx context.Context, a *Alert) error { return f.Fn(ctx, a) }

// Close calls CloseFn.
func (f FuncSink) Close() error {
	if f.CloseFn != nil {
		return f.CloseFn()
	}
	return nil
}

// Dispatcher sends each alert to every sink. The first sink (the
// journal) is written synchronously; the others each have a queue and a
// goroutine, so a webhook that is down delays nothing.
type Dispatcher struct {
	log     *slog.Logger
	first   Sink
	queues  []chan *Alert
	sinks   []Sink
	wg      sync.WaitGroup
	closeMu sync.Mutex
	closed  bool
}

// queueLen bounds each sink's backlog; when full, the oldest waiting
// alert is dropped (it is in the journal).
const queueLen = 1024

// NewDispatcher starts the delivery goroutines. first may be nil.
func NewDispatcher(log *slog.Logger, first Sink, others ...Sink) *Dispatcher {
	d := &Dispatcher{log: log, first: first}
	for _, s := range others {
		q := make(chan *Alert, queueLen)
		d.queues = append(d.queues, q)
		d.sinks = append(d.sinks, s)
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			for a := range q {
				if err := s.Send(context.Background(), a); err != nil {
					log.Warn("alert not delivered", "sink", s.Name(), "alert", a.ID, "err", err)
				}
			}
		}()
	}
	return d
}

// Send delivers a; the error is the journal's.
func (d *Dispatcher) Send(ctx context.Context, a *Alert) error {
	var err error
	if d.first != nil {
		err = d.first.Send(ctx, a)
	}
	d.closeMu.Lock()
	defer d.closeMu.Unlock()
	if d.closed {
		return errors.Join(err, errors.New("alert dispatcher closed"))
	}
	for i, q := range d.queues {
		select {
		case q <- a:
		default:
			select {
			case old := <-q:
				d.log.Warn("alert queue full: oldest alert dropped from this sink", "sink", d.sinks[i].Name(), "alert", old.ID)
			default:
			}
			select {
			case q <- a:
			default:
			}
		}
	}
	return err
}

// Close waits for queued alerts to be delivered (each sink bounds its
// own retries) and closes every sink.
func (d *Dispatcher) Close() error {
	d.closeMu.Lock()
	if d.closed {
		d.closeMu.Unlock()
		return nil
	}
	d.closed = true
	for _, q := range d.queues {
		close(q)
	}
	d.closeMu.Unlock()
	d.wg.Wait()
	var errs []error
	for _, s := range d.sinks {
		errs = append(errs, s.Close())
	}
	if d.first != nil {
		errs = append(errs, d.first.Close())
	}
	return errors.Join(errs...)
}
