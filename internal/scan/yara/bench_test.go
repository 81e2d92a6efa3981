//go:build cgo

package yara

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/kintsugi-ir/kintsugi/internal/scan"
)

// BenchmarkScan measures YARA throughput on compressed-looking data, whole
// and streamed in blocks, with the built-in pack and, when ../shared is
// present, signature-base (bench/scan/run.sh compares with Debian's yara).
func BenchmarkScan(b *testing.B) {
	data := make([]byte, 32<<20)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	sets := map[string]Options{"builtin": {BuiltIn: true}}
	sb := filepath.Join("..", "..", "..", "..", "shared", "data", "yara-rules", "signature-base")
	if _, err := os.Stat(sb); err == nil {
		sets["signature-base"] = Options{BuiltIn: true, Paths: []string{sb}}
	}
	for name, opts := range sets {
		r, err := Compile(opts)
		if err != nil {
			b.Fatal(err)
		}
		d := NewDetector(r, Options{})
		for _, mode := range []struct {
			name  string
			chunk int
		}{{"whole", 0}, {"streamed-8MiB", 8 << 20}} {
			b.Run(name+"/"+mode.name, func(b *testing.B) {
				b.SetBytes(int64(len(data)))
				for b.Loop() {
					f := &scan.File{Path: "/bench/video.mp4", Name: "video.mp4", Size: int64(len(data)), Whole: mode.chunk == 0}
					ex, _ := d.Begin(context.Background(), f)
					if mode.chunk == 0 {
						ex.Write(data)
					} else {
						for off := 0; off < len(data); off += mode.chunk {
							ex.Write(data[off:min(off+mode.chunk, len(data))])
						}
					}
					if _, err := ex.Close(context.Background()); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
		d.Close()
	}
}
