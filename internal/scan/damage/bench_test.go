package damage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// benchFiles loads the intact and damaged files of a corpus (the bench
// profile when KINTSUGI_DAMAGE_BENCH names one, else the test profile of
// seed 1) into memory.
func benchFiles(b *testing.B) (names []string, data [][]byte) {
	b.Helper()
	dir := os.Getenv("KINTSUGI_DAMAGE_BENCH")
	if dir == "" {
		dir = makeCorpus(b, 1, "")
	}
	for _, l := range readLabels(b, dir) {
		if l.Truth != "intact" && l.Truth != "encrypted" {
			continue
		}
		d, err := os.ReadFile(filepath.Join(dir, l.Path))
		if err != nil {
			b.Fatal(err)
		}
		names = append(names, filepath.Base(l.Path))
		data = append(data, d)
	}
	return names, data
}

func totalSize(data [][]byte) int64 {
	var n int64
	for _, d := range data {
		n += int64(len(d))
	}
	return n
}

// BenchmarkSHA256 is the yardstick: one SHA-256 pass over the corpus.
func BenchmarkSHA256(b *testing.B) {
	_, data := benchFiles(b)
	b.SetBytes(totalSize(data))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, d := range data {
			sha256.Sum256(d)
		}
	}
}

// BenchmarkWhole classifies files handed over whole, as the engine does
// for files it reads in one piece.
func BenchmarkWhole(b *testing.B) {
	names, data := benchFiles(b)
	d := New(Options{})
	b.SetBytes(totalSize(data))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for k, p := range data {
			classifyWhole(b, d, names[k], p)
		}
	}
}

// BenchmarkStream classifies files streamed in 1 MiB writes, with
// structure reads going back to the file (here: memory through
// io.ReaderAt, so without the page cache cost).
func BenchmarkStream(b *testing.B) {
	names, data := benchFiles(b)
	b.SetBytes(totalSize(data))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for k, p := range data {
			classifyStream(b, names[k], p)
		}
	}
}

// BenchmarkQuick classifies files by sampling.
func BenchmarkQuick(b *testing.B) {
	names, data := benchFiles(b)
	b.SetBytes(totalSize(data))
	b.ResetTimer()
	var read int64
	for i := 0; i < b.N; i++ {
		read = 0
		for k, p := range data {
			cr := &countingReaderAt{r: bytes.NewReader(p)}
			if _, err := Classify(context.Background(), cr, int64(len(p)), names[k], Options{Quick: true}); err != nil {
				b.Fatal(err)
			}
			read += cr.n
		}
	}
	b.ReportMetric(100*float64(read)/float64(totalSize(data)), "%read")
}

// BenchmarkCostVsSHA256 interleaves, file by file, one SHA-256 pass and
// one whole-file classification, so that both see the same machine load,
// and reports the cost of damage as a percentage of hashing
// ("damage/sha-%"), for the streaming path (structure read back through
// io.ReaderAt) and for files handed over whole.
func BenchmarkCostVsSHA256(b *testing.B) {
	names, data := benchFiles(b)
	d := New(Options{})
	b.SetBytes(totalSize(data))
	b.ResetTimer()
	var sha, whole, stream time.Duration
	for i := 0; i < b.N; i++ {
		for k, p := range data {
			t0 := time.Now()
			sha256.Sum256(p)
			t1 := time.Now()
			classifyWhole(b, d, names[k], p)
			t2 := time.Now()
			classifyStream(b, names[k], p)
			t3 := time.Now()
			sha += t1.Sub(t0)
			whole += t2.Sub(t1)
			stream += t3.Sub(t2)
		}
	}
	b.ReportMetric(100*whole.Seconds()/sha.Seconds(), "whole/sha-%")
	b.ReportMetric(100*stream.Seconds()/sha.Seconds(), "stream/sha-%")
}

// BenchmarkProfile measures the block statistics alone on random data.
func BenchmarkProfile(b *testing.B) {
	p := make([]byte, 64<<20)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range p {
		p[i] = byte(r.Uint32())
	}
	b.SetBytes(int64(len(p)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		pr := newProfile(fullPlan(int64(len(p))))
		pr.write(p)
		pr.finish()
	}
}

func classifyStream(tb testing.TB, name string, p []byte) {
	a := newAnalysis(context.Background(), bytes.NewReader(p), int64(len(p)), name, nil, Options{}, nil, nil)
	pr := newProfile(fullPlan(int64(len(p))))
	for off := 0; off < len(p); off += 1 << 20 {
		pr.write(p[off:minInt(len(p), off+1<<20)])
	}
	pr.finish()
	a.prof = pr
	if _, err := a.run(); err != nil {
		tb.Fatal(err)
	}
}

func classifyWhole(tb testing.TB, d *Detector, name string, p []byte) {
	e := &examination{d: d, f: nil, opts: d.opts, prof: newProfile(fullPlan(int64(len(p))))}
	e.mem = p
	e.prof.write(p)
	e.n = int64(len(p))
	e.prof.finish()
	a := newAnalysis(context.Background(), bytes.NewReader(p), int64(len(p)), name, p, d.opts, d.fam, d.bufs)
	a.prof = e.prof
	if _, err := a.run(); err != nil {
		tb.Fatal(err)
	}
}
