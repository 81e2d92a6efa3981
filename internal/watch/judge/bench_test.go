package judge

import (
	"context"
	"os"
	"path/filepath"
	"strings"
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

// BenchmarkNotes: matching the head of an ordinary document against the
// note rules, as the agent does for every text-like file a process
// writes (the bench corpus's documents are Japanese text).
func BenchmarkNotes(b *testing.B) {
	n, err := NewNotes()
	if err != nil {
		b.Skip("YARA unavailable:", err)
	}
	defer n.Close()
	words := []string{"請求", "会議", "編集", "社外秘", "住所", "納品", "確認", "字幕", "案件", "見積", "進行", "顧客", "修正", "個人情報", "担当", "色調整", "契約"}
	var sb strings.Builder
	for i := 0; sb.Len() < NoteHead; i++ {
		sb.WriteString(words[(i*7+i/3)%len(words)])
		if i%15 == 14 {
			sb.WriteString("\n")
		} else {
			sb.WriteString(" ")
		}
	}
	doc := []byte(sb.String())[:NoteHead]
	b.SetBytes(int64(len(doc)))
	for range b.N {
		if _, err := n.Match(context.Background(), doc, "docs/report.txt"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUniform(b *testing.B) {
	rnd := random(16 << 10)
	text := []byte(strings.Repeat("ordinary words ", 16<<10/15+1))[:16<<10]
	for _, c := range []struct {
		name string
		b    []byte
	}{{"random", rnd}, {"text", text}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.b)))
			for range b.N {
				Uniform(c.b)
			}
		})
	}
}
