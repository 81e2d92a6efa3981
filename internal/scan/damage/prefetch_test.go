package damage

import (
	"bytes"
	"context"
	"math/rand/v2"
	"testing"
)

// countingReader records how much quick mode reads.
type countingReader struct {
	r    *bytes.Reader
	read int64
}

func (c *countingReader) ReadAt(b []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(b, off)
	c.read += int64(n)
	return n, err
}

// The blocks the detector announces for the engine's read-ahead lie
// inside the file and are never much more than quick mode then reads.
func TestQuickPlan(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	data := make([]byte, 40<<20)
	for i := range data {
		data[i] = byte(rng.IntN(256))
	}
	for _, size := range []int64{1, 5000, 100 << 10, 3 << 20, 40 << 20} {
		announced := New(Options{}).QuickPlan("clip.mp4", size)
		if len(announced) == 0 {
			t.Fatalf("size %d: nothing announced", size)
		}
		var total int64
		for _, a := range announced {
			if a.Off < 0 || a.Len <= 0 || a.Off+a.Len > size {
				t.Errorf("size %d: announced range %+v outside the file", size, a)
			}
			total += a.Len
		}
		cr := &countingReader{r: bytes.NewReader(data[:size])}
		if _, err := Classify(context.Background(), cr, size, "clip.mp4", Options{Quick: true}); err != nil {
			t.Fatal(err)
		}
		if total > cr.read+int64(len(announced))*blockSize {
			t.Errorf("size %d: announced %d bytes, read %d", size, total, cr.read)
		}
	}
}
