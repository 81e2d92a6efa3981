package sigma_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/kintsugi-ir/kintsugi/internal/hunt"
	"github.com/kintsugi-ir/kintsugi/internal/hunt/evtx"
	"github.com/kintsugi-ir/kintsugi/internal/hunt/sigma"
)

// benchFiles lists the EVTX attack samples and the regression EVTX files.
func benchFiles(b *testing.B) ([]string, int64) {
	root := filepath.Dir(sigmaData(b))
	var files []string
	var size int64
	for _, sub := range []string{"evtx-attack-samples", filepath.Join("sigma", "regression_data")} {
		filepath.WalkDir(filepath.Join(root, sub), func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(strings.ToLower(p), ".evtx") {
				if fi, err := d.Info(); err == nil {
					files = append(files, p)
					size += fi.Size()
				}
			}
			return nil
		})
	}
	return files, size
}

// BenchmarkHunt reads every sample EVTX file and matches every event
// against all SigmaHQ Windows rules, using all cores (GOMAXPROCS).
func BenchmarkHunt(b *testing.B) {
	files, size := benchFiles(b)
	rs, _, err := sigma.LoadPath(filepath.Join(sigmaData(b), "rules", "windows"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(size)
	b.ResetTimer()
	var events, matches atomic.Int64
	for i := 0; i < b.N; i++ {
		for _, f := range files {
			_, err := evtx.ReadFile(context.Background(), f, evtx.Options{Concurrent: true}, func(e *hunt.Event) error {
				events.Add(1)
				rs.Match(e, func(sigma.Match) { matches.Add(1) })
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(events.Load())/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(matches.Load())/float64(b.N), "matches/op")
}

// BenchmarkParse reads the same files without rules.
func BenchmarkParse(b *testing.B) {
	files, size := benchFiles(b)
	b.SetBytes(size)
	var events atomic.Int64
	for i := 0; i < b.N; i++ {
		for _, f := range files {
			if _, err := evtx.ReadFile(context.Background(), f, evtx.Options{Concurrent: true}, func(e *hunt.Event) error {
				events.Add(1)
				return nil
			}); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(events.Load())/b.Elapsed().Seconds(), "events/s")
}
