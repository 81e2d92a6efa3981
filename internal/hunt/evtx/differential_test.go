package evtx

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/Velocidex/ordereddict"
	"github.com/kintsugi-ir/kintsugi/internal/hunt"
	velo "www.velocidex.com/golang/evtx"
)

// sharedData returns ../shared/data from the repository root, or skips.
func sharedData(t testing.TB) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "..", "..", "..", "shared", "data"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("../shared/data is absent (%v): the third-party EVTX samples are needed", err)
	}
	return dir
}

// sampleFiles lists every .evtx under the shared attack samples and the
// Sigma regression data.
func sampleFiles(t testing.TB) []string {
	t.Helper()
	root := sharedData(t)
	var files []string
	for _, sub := range []string{"evtx-attack-samples", filepath.Join("sigma", "regression_data")} {
		err := filepath.WalkDir(filepath.Join(root, sub), func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && strings.HasSuffix(strings.ToLower(p), ".evtx") {
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(files) == 0 {
		t.Fatal("no .evtx files under ../shared/data")
	}
	return files
}

// veloRecords parses a file with the velocidex library: record id -> event.
func veloRecords(path string) (map[uint64]*ordereddict.Dict, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	chunks, err := velo.GetChunks(f)
	if err != nil {
		return nil, err
	}
	out := make(map[uint64]*ordereddict.Dict)
	dup := make(map[uint64]bool)
	for _, c := range chunks {
		recs, _ := c.Parse(0)
		for _, r := range recs {
			d, ok := r.Event.(*ordereddict.Dict)
			if !ok {
				continue
			}
			ev, _ := d.Get("Event")
			if evd, ok := ev.(*ordereddict.Dict); ok {
				id, ok := dictGet(evd, "System", "EventRecordID").(uint64)
				if !ok {
					continue
				}
				if _, seen := out[id]; seen {
					dup[id] = true
				}
				out[id] = evd
			}
		}
	}
	// Logs with repeated record ids cannot be compared by id.
	for id := range dup {
		delete(out, id)
	}
	return out, nil
}

func dictGet(d *ordereddict.Dict, keys ...string) any {
	var v any = d
	for _, k := range keys {
		dd, ok := v.(*ordereddict.Dict)
		if !ok {
			return nil
		}
		v, _ = dd.Get(k)
	}
	return v
}

// sameValue compares a velocidex value with kintsugi's rendering.
func sameValue(v any, mine any) bool {
	s, _ := mine.(string)
	switch x := v.(type) {
	case string:
		if l, ok := mine.([]string); ok {
			return strings.Join(l, "\x00") == strings.TrimRight(x, "\x00")
		}
		return x == s || "{"+x+"}" == s
	case uint8, uint16, uint32, uint64, int32, int64:
		want := fmt.Sprint(x)
		if strings.HasPrefix(s, "0x") {
			n, err := strconv.ParseUint(s[2:], 16, 64)
			return err == nil && strconv.FormatUint(n, 10) == want
		}
		return s == want
	case bool:
		return s == strconv.FormatBool(x)
	case []string:
		l, _ := mine.([]string)
		return strings.Join(x, "\x00") == strings.Join(l, "\x00")
	}
	return true // types velocidex renders differently (times, binary) are not compared
}

// TestAgainstVelocidex decodes every shared sample with kintsugi's decoder
// and with www.velocidex.com/golang/evtx and compares the System values and
// every named EventData field.
func TestAgainstVelocidex(t *testing.T) {
	files := sampleFiles(t)
	var records, fields, mismatches int
	for _, path := range files {
		want, err := veloRecords(path)
		if err != nil {
			continue // velocidex cannot read it; kintsugi's own tests cover damage
		}
		_, err = ReadFile(context.Background(), path, Options{}, func(e *hunt.Event) error {
			w, ok := want[e.RecordID]
			if !ok {
				return nil
			}
			records++
			report := func(what string, got, exp any) {
				mismatches++
				if mismatches <= 20 {
					t.Errorf("%s record %d: %s = %q, velocidex %q", filepath.Base(path), e.RecordID, what, got, exp)
				}
			}
			if c, _ := dictGet(w, "System", "Channel").(string); c != e.Channel {
				report("Channel", e.Channel, c)
			}
			if c, _ := dictGet(w, "System", "Computer").(string); c != e.Host {
				report("Computer", e.Host, c)
			}
			if p, _ := dictGet(w, "System", "Provider", "Name").(string); p != e.Provider {
				report("Provider", e.Provider, p)
			}
			id := dictGet(w, "System", "EventID", "Value")
			if id == nil {
				id = dictGet(w, "System", "EventID")
			}
			if !sameValue(id, strconv.Itoa(e.EventID)) {
				report("EventID", e.EventID, id)
			}
			ed, ok := dictGet(w, "EventData").(*ordereddict.Dict)
			if !ok {
				return nil
			}
			for _, k := range ed.Keys() {
				v, _ := ed.Get(k)
				if v == nil || k == "Data" || k == "Binary" {
					continue
				}
				fields++
				if !sameValue(v, e.Fields[k]) {
					report("EventData."+k, e.Fields[k], v)
				}
			}
			return nil
		})
		if err != nil {
			t.Errorf("%s: %v", path, err)
		}
	}
	t.Logf("compared %d records, %d fields, %d mismatches", records, fields, mismatches)
	if records == 0 {
		t.Fatal("no record compared")
	}
}
