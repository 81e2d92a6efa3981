// Command damagebench runs the damage detector over a make-corpus tree the
// way the scan engine drives it (files up to 64 MiB handed over whole,
// larger ones streamed in 1 MiB writes, quick mode sampling through the
// file), and reports bytes read, wall time and, from labels.jsonl, recall
// per encryption pattern and false positives among intact files. It is the
// damage half of bench/damage/run.sh and needs no case store.
package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kintsugi-ir/kintsugi/internal/incident"
	"github.com/kintsugi-ir/kintsugi/internal/scan"
	"github.com/kintsugi-ir/kintsugi/internal/scan/damage"
)

type label struct {
	Path    string `json:"path"`
	Truth   string `json:"truth"`
	Pattern string `json:"pattern"`
}

type countingReaderAt struct {
	r io.ReaderAt
	n *atomic.Int64
}

func (c countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n.Add(int64(n))
	return n, err
}

func main() {
	quick := flag.Bool("quick", false, "quick (sampling) mode")
	hash := flag.Bool("sha256", false, "also hash every file with SHA-256 and report the time spent hashing beside the time spent in the detector")
	workers := flag.Int("workers", 2, "files examined at once")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile to `FILE`")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintf(os.Stderr, "damagebench: %v\n", err)
			os.Exit(1)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: damagebench [-quick] CORPUS")
		os.Exit(2)
	}
	if err := run(flag.Arg(0), *quick, *hash, *workers); err != nil {
		fmt.Fprintf(os.Stderr, "damagebench: %v\n", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func run(dir string, quick, hash bool, workers int) error {
	labels := map[string]label{}
	if f, err := os.Open(filepath.Join(dir, "labels.jsonl")); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var l label
			if json.Unmarshal(sc.Bytes(), &l) == nil {
				labels[l.Path] = l
			}
		}
		f.Close()
	}
	var paths []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			paths = append(paths, p)
		}
		return err
	})
	if err != nil {
		return err
	}
	det := damage.New(damage.Options{})
	var read, total, bigRead, bigTotal, detNanos, shaNanos atomic.Int64
	type tally struct{ found, files int }
	var mu sync.Mutex
	per := map[string]*tally{}
	var fp, suspect, intact int
	start := time.Now()
	jobs := make(chan string)
	var wg sync.WaitGroup
	var firstErr error
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 1<<20)
			var whole []byte
			for p := range jobs {
				var n atomic.Int64
				var t timing
				v, size, err := examine(det, p, quick, hash, &n, buf, &whole, &t)
				detNanos.Add(int64(t.detector))
				shaNanos.Add(int64(t.sha))
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("%s: %w", p, err)
					}
					mu.Unlock()
					continue
				}
				read.Add(n.Load())
				total.Add(size)
				if size > 10<<20 {
					bigRead.Add(n.Load())
					bigTotal.Add(size)
				}
				rel, _ := filepath.Rel(dir, p)
				l, ok := labels[filepath.ToSlash(rel)]
				if !ok {
					continue
				}
				mu.Lock()
				switch l.Truth {
				case "intact":
					intact++
					if v == incident.Encrypted {
						fp++
					} else if v == incident.Suspect {
						suspect++
					}
				case "encrypted":
					t := per[l.Pattern]
					if t == nil {
						t = &tally{}
						per[l.Pattern] = t
					}
					t.files++
					if v == incident.Encrypted {
						t.found++
					}
				}
				mu.Unlock()
			}
		}()
	}
	for _, p := range paths {
		jobs <- p
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	el := time.Since(start).Seconds()
	mode := "full"
	if quick {
		mode = "quick"
	}
	fmt.Printf("mode=%s files=%d bytes=%d seconds=%.3f damage_read=%d big_bytes=%d big_read=%d detector_seconds=%.3f sha256_seconds=%.3f\n",
		mode, len(paths), total.Load(), el, read.Load(), bigTotal.Load(), bigRead.Load(),
		time.Duration(detNanos.Load()).Seconds(), time.Duration(shaNanos.Load()).Seconds())
	var keys []string
	for k := range per {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t := per[k]
		fmt.Printf("recall %-32s %4d/%-4d %6.1f%%\n", k, t.found, t.files, 100*float64(t.found)/float64(t.files))
	}
	fmt.Printf("intact %d: encrypted %d, suspect %d\n", intact, fp, suspect)
	return nil
}

type timing struct{ detector, sha time.Duration }

// examine runs the detector on one file as the engine does and returns
// the verdict, the size, and (through n) the bytes the detector itself
// read: in full mode the engine's own read of the file is added, so n is
// what reading the file for damage costs in total. Files up to 64 MiB go
// through one reused buffer, as in the engine. t gets the time spent in
// the detector (Write and Close) and, with hash, in SHA-256 over the same
// bytes.
func examine(det *damage.Detector, p string, quick, hash bool, n *atomic.Int64, buf []byte, wholeBuf *[]byte, t *timing) (incident.Verdict, int64, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", 0, err
	}
	size := st.Size()
	ctx := context.Background()
	file := &scan.File{Path: p, Name: filepath.Base(p), Size: size, Mode: st.Mode(), ModTime: st.ModTime(),
		Content: countingReaderAt{r: f, n: n}, Quick: quick}
	sum := func(b []byte) {
		if hash {
			t0 := time.Now()
			sha256.Sum256(b)
			t.sha += time.Since(t0)
		}
	}
	if !quick && size <= 64<<20 {
		if int64(cap(*wholeBuf)) < size {
			*wholeBuf = make([]byte, size)
		}
		whole := (*wholeBuf)[:size]
		k, err := io.ReadFull(f, whole)
		n.Add(int64(k))
		if err != nil && !errors.Is(err, io.EOF) {
			return "", 0, err
		}
		sum(whole)
		t0 := time.Now()
		defer func() { t.detector += time.Since(t0) }()
		file.Content, file.Whole = countingReaderAt{r: bytesReaderAt(whole), n: new(atomic.Int64)}, true
		ex, err := det.Begin(ctx, file)
		if err != nil || ex == nil {
			return incident.Clean, size, err
		}
		ex.Write(whole)
		fs, err := ex.Close(ctx)
		return incident.FileVerdict(fs), size, err
	}
	t0 := time.Now()
	ex, err := det.Begin(ctx, file)
	t.detector += time.Since(t0)
	if err != nil || ex == nil {
		return incident.Clean, size, err
	}
	if !quick {
		h := sha256.New()
		for off := int64(0); off < size; {
			k, err := f.ReadAt(buf, off)
			n.Add(int64(k))
			if hash {
				t1 := time.Now()
				h.Write(buf[:k])
				t.sha += time.Since(t1)
			}
			t1 := time.Now()
			ex.Write(buf[:k])
			t.detector += time.Since(t1)
			off += int64(k)
			if err != nil {
				break
			}
		}
	}
	t1 := time.Now()
	fs, err := ex.Close(ctx)
	t.detector += time.Since(t1)
	return incident.FileVerdict(fs), size, err
}

type bytesReaderAt []byte

func (b bytesReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(b)) {
		return 0, io.EOF
	}
	n := copy(p, b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}
