package evtx

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kintsugi-ir/kintsugi/internal/hunt"
)

var update = flag.Bool("update", false, "rewrite testdata fixtures")

// fixtures are the damaged files under testdata, each made from the
// generated sample by one kind of damage.
func fixtures() map[string][]byte {
	valid := buildEVTX(sampleRecords())
	out := map[string][]byte{"valid.evtx": valid}

	// Cut in the middle of the fourth record, as a copy taken while the
	// log was written or a partial download would be.
	recs := recordOffsets(valid)
	out["truncated.evtx"] = valid[:fileHeaderSize+recs[3]+40]

	// Chunk signature destroyed: records must be carved.
	bad := bytes.Clone(valid)
	copy(bad[fileHeaderSize:], "XXXXXXXX")
	out["bad-chunk-header.evtx"] = bad

	// Second record's size field corrupted: that record is lost, the
	// others are read.
	rec := bytes.Clone(valid)
	binary.LittleEndian.PutUint32(rec[fileHeaderSize+recs[1]+4:], 0xfff0)
	out["bad-record.evtx"] = rec
	return out
}

// recordOffsets returns the chunk offsets of the records of a one-chunk file.
func recordOffsets(file []byte) []int {
	chunk := file[fileHeaderSize:]
	var offs []int
	for pos := chunkHeaderSize; pos+8 < len(chunk) && bytes.Equal(chunk[pos:pos+4], recordMagic); {
		offs = append(offs, pos)
		pos += int(binary.LittleEndian.Uint32(chunk[pos+4:]))
	}
	return offs
}

func TestFixturesUpToDate(t *testing.T) {
	for name, data := range fixtures() {
		p := filepath.Join("testdata", name)
		if *update {
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(p)
		if err != nil {
			t.Fatalf("%v (run go test -run TestFixturesUpToDate -update)", err)
		}
		if !bytes.Equal(got, data) {
			t.Errorf("%s differs from the generator (run with -update and review)", p)
		}
	}
}

func readAll(t *testing.T, path string, opt Options) ([]*hunt.Event, Stats, error) {
	t.Helper()
	var evs []*hunt.Event
	st, err := ReadFile(context.Background(), path, opt, func(e *hunt.Event) error {
		evs = append(evs, e)
		return nil
	})
	return evs, st, err
}

func TestReadFixtures(t *testing.T) {
	tests := []struct {
		file                string
		records, recordsBad int
		chunksBad, suspect  int
		complete            bool
		firstID             uint64
	}{
		{"valid.evtx", 6, 0, 0, 0, true, 100},
		{"truncated.evtx", 3, 1, 0, 0, false, 100},
		{"bad-chunk-header.evtx", 6, 0, 1, 0, false, 100},
		{"bad-record.evtx", 5, 1, 0, 1, false, 100},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			for _, opt := range []Options{{}, {Workers: 1}, {Concurrent: true}} {
				evs, st, err := readAll(t, filepath.Join("testdata", tc.file), opt)
				if err != nil {
					t.Fatal(err)
				}
				if st.Records != tc.records || len(evs) != tc.records || st.RecordsBad != tc.recordsBad ||
					st.ChunksBad != tc.chunksBad || st.ChunksSuspect != tc.suspect || st.Complete() != tc.complete {
					t.Fatalf("stats %+v (events %d), want records %d bad %d chunks bad %d suspect %d", st, len(evs), tc.records, tc.recordsBad, tc.chunksBad, tc.suspect)
				}
				if !tc.complete && len(st.Problems) == 0 {
					t.Errorf("loss without a reason")
				}
				if !opt.Concurrent && evs[0].RecordID != tc.firstID {
					t.Errorf("first record %d", evs[0].RecordID)
				}
			}
		})
	}
}

func TestEventFields(t *testing.T) {
	evs, _, err := readAll(t, filepath.Join("testdata", "valid.evtx"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	e := evs[5]
	want := time.Date(2024, 3, 1, 2, 3, 9, 500000000, time.UTC)
	if !e.Time.Equal(want) || e.Host != "FS01.corp.example" || e.Channel != "Security" ||
		e.Provider != "Microsoft-Windows-Security-Auditing" || e.EventID != 4624 || e.RecordID != 105 {
		t.Errorf("event %+v", e)
	}
	for k, v := range map[string]string{"TargetUserName": "山田太郎", "IpAddress": "203.0.113.7", "LogonType": "10"} {
		if got := e.Field(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if filepath.Base(e.Source) != "valid.evtx" {
		t.Errorf("source %q", e.Source)
	}
}

func TestNotEVTX(t *testing.T) {
	data := bytes.Repeat([]byte("not an event log "), 5000)
	_, err := ReadFrom(context.Background(), bytes.NewReader(data), int64(len(data)), "junk", Options{}, func(*hunt.Event) error { return nil })
	if !errors.Is(err, ErrNotEVTX) {
		t.Fatalf("err = %v, want ErrNotEVTX", err)
	}
}

func TestEmptyChunksAreNotLoss(t *testing.T) {
	data := append(buildEVTX(sampleRecords()), make([]byte, 2*chunkSize)...)
	st, err := ReadFrom(context.Background(), bytes.NewReader(data), int64(len(data)), "prealloc", Options{}, func(*hunt.Event) error { return nil })
	if err != nil || st.ChunksEmpty != 2 || st.Records != 6 || !st.Complete() {
		t.Fatalf("stats %+v err %v", st, err)
	}
}

func TestCallbackErrorStops(t *testing.T) {
	stop := errors.New("stop")
	for _, opt := range []Options{{}, {Concurrent: true}} {
		_, err := ReadFile(context.Background(), filepath.Join("testdata", "valid.evtx"), opt, func(*hunt.Event) error { return stop })
		if !errors.Is(err, stop) {
			t.Errorf("err = %v, want the callback's error", err)
		}
	}
}

func TestRefusesSymlinksAndFIFOs(t *testing.T) {
	dir := t.TempDir()
	target, _ := filepath.Abs(filepath.Join("testdata", "valid.evtx"))
	link := filepath.Join(dir, "link.evtx")
	if err := os.Symlink(target, link); err != nil {
		t.Skip(err)
	}
	if _, _, err := readAll(t, link, Options{}); err == nil {
		t.Error("symlink was followed")
	}
	if _, _, err := readAll(t, link, Options{FollowSymlinks: true}); err != nil {
		t.Errorf("FollowSymlinks: %v", err)
	}
	fifo := filepath.Join(dir, "fifo.evtx")
	if err := mkfifo(fifo); err != nil {
		t.Skip(err)
	}
	done := make(chan error, 1)
	go func() { _, _, err := readAll(t, fifo, Options{}); done <- err }()
	select {
	case err := <-done:
		if err == nil {
			t.Error("FIFO was read")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("blocked on a FIFO")
	}
}

// FuzzReadFrom feeds crafted and damaged files to the decoder: it must
// never panic, and what it reports must add up.
func FuzzReadFrom(f *testing.F) {
	for _, data := range fixtures() {
		f.Add(data)
	}
	// Real samples, truncated and with flipped bytes, when ../shared is here.
	root := filepath.Join("..", "..", "..", "..", "shared", "data", "evtx-attack-samples")
	if paths, _ := filepath.Glob(filepath.Join(root, "*", "*.evtx")); len(paths) > 0 {
		for i, p := range paths {
			if i%40 != 0 {
				continue
			}
			data, err := os.ReadFile(p)
			if err != nil || len(data) < fileHeaderSize+chunkSize {
				continue
			}
			data = data[:fileHeaderSize+chunkSize]
			f.Add(data[:fileHeaderSize+chunkSize/3])
			flipped := bytes.Clone(data)
			for j := fileHeaderSize + 600; j < len(flipped); j += 997 {
				flipped[j] ^= 0x5a
			}
			f.Add(flipped)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 4*chunkSize+fileHeaderSize {
			return
		}
		n := 0
		// A hang is a failure too: crafted logs must not stall a hunt.
		watchdog := time.AfterFunc(10*time.Second, func() {
			panic(fmt.Sprintf("ReadFrom still running after 10 s on %d bytes", len(data)))
		})
		st, err := ReadFrom(context.Background(), bytes.NewReader(data), int64(len(data)), "fuzz", Options{Workers: 2, panics: true}, func(e *hunt.Event) error {
			n++
			return nil
		})
		watchdog.Stop()
		if err != nil && !errors.Is(err, ErrNotEVTX) {
			t.Fatalf("unexpected error %v", err)
		}
		if st.Records != n || len(st.Problems) > maxProblems {
			t.Fatalf("stats %+v, delivered %d", st, n)
		}
	})
}
