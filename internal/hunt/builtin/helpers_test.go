package builtin

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kintsugi-ir/kintsugi/internal/hunt"
	"github.com/kintsugi-ir/kintsugi/internal/hunt/authlog"
	"github.com/kintsugi-ir/kintsugi/internal/hunt/evtx"
)

// sample returns the path of an EVTX attack sample, or skips the test
// when the shared data is absent.
func sample(t testing.TB, rel string) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("repository root not found")
		}
		dir = parent
	}
	p := filepath.Join(dir, "..", "shared", "data", rel)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("shared test data absent (%s): %v", p, err)
	}
	return p
}

// run feeds events through a fresh engine and returns every detection,
// the logons, and the engine.
func run(t testing.TB, cfg Config, evs []*hunt.Event) ([]hunt.Detection, *Engine) {
	t.Helper()
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var ds []hunt.Detection
	emit := func(d hunt.Detection) { mu.Lock(); ds = append(ds, d); mu.Unlock() }
	for _, ev := range evs {
		e.Observe(ev, emit)
	}
	ds = append(ds, e.Finish(ds)...)
	sort.SliceStable(ds, func(a, b int) bool { return ds[a].Time.Before(ds[b].Time) })
	return ds, e
}

// evtxEvents reads EVTX attack samples (paths relative to shared/data).
func evtxEvents(t testing.TB, rels ...string) []*hunt.Event {
	t.Helper()
	var evs []*hunt.Event
	for _, rel := range rels {
		p := sample(t, rel)
		_, err := evtx.ReadFile(context.Background(), p, evtx.Options{}, func(e *hunt.Event) error {
			evs = append(evs, e)
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
	}
	return evs
}

// fileEvents reads a JSONL or syslog fixture with the authlog formats.
func fileEvents(t testing.TB, path string, ref time.Time) []*hunt.Event {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	head := make([]byte, hunt.SniffSize)
	n, _ := f.Read(head)
	f.Seek(0, 0)
	var evs []*hunt.Event
	for _, ft := range []hunt.Format{authlog.Journal{}, authlog.JSONL{}, authlog.Syslog{}} {
		if !ft.Sniff(head[:n]) {
			continue
		}
		st, err := ft.Decode(context.Background(), &hunt.Input{Path: path, R: f, YearRef: ref, Location: time.UTC},
			func(e *hunt.Event) error { evs = append(evs, e); return nil })
		if err != nil || st.Bad > 0 {
			t.Fatalf("%s: %v %+v", path, err, st)
		}
		return evs
	}
	t.Fatalf("%s: no format", path)
	return nil
}

func byRule(ds []hunt.Detection, id string) []hunt.Detection {
	var out []hunt.Detection
	for _, d := range ds {
		if d.RuleID == id {
			out = append(out, d)
		}
	}
	return out
}

func ruleIDs(ds []hunt.Detection) string {
	m := map[string]int{}
	for _, d := range ds {
		m[d.RuleID]++
	}
	var s []string
	for k := range m {
		s = append(s, k)
	}
	sort.Strings(s)
	return strings.Join(s, " ")
}
