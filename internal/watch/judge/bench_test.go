package judge

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/kintsugi-ir/kintsugi/internal/testcorpus"
)

// BenchmarkJudge judges every file of the make-corpus test profile (read
// from the page cache) with each judge: the cost the agent pays per file
// a process writes.
func BenchmarkJudge(b *testing.B) {
	dir, labels := testcorpus.Get(b, "test", 1)
	var files []*os.File
	var sizes []int64
	var total int64
	for _, l := range labels {
		f, err := os.Open(filepath.Join(dir, l.Path))
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		fi, _ := f.Stat()
		files = append(files, f)
		sizes = append(sizes, fi.Size())
		total += fi.Size()
	}
	for _, j := range []struct {
		name string
		j    Judge
	}{{"entropy", Entropy{}}, {"damage", Damage{}}} {
		b.Run(j.name, func(b *testing.B) {
			ctx := context.Background()
			for b.Loop() {
				for i, f := range files {
					if _, err := j.j.Judge(ctx, f, sizes[i], f.Name()); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*len(files)), "µs/file")
		})
	}
}
