package damage

import (
	"bytes"
	"context"
	"math/rand/v2"
	"testing"
)

// prefetchReader records what quick mode announces and what it reads.
type prefetchReader struct {
	r         *bytes.Reader
	announced [][2]int64
	read      int64
}

func (p *prefetchReader) Prefetch(off, n int64) {
	p.announced = append(p.announced, [2]int64{off, n})
}

func (p *prefetchReader) ReadAt(b []byte, off int64) (int, error) {
	n, err := p.r.ReadAt(b, off)
	p.read += int64(n)
	return n, err
}

// Quick mode announces the blocks it samples, never much more than it
// reads, and gives the same verdict as without announcements.
func TestQuickPrefetch(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	data := make([]byte, 40<<20)
	for i := range data {
		data[i] = byte(rng.IntN(256))
	}
	pr := &prefetchReader{r: bytes.NewReader(data)}
	got, err := Classify(context.Background(), pr, int64(len(data)), "clip.mp4", Options{Quick: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(pr.announced) == 0 {
		t.Fatal("nothing announced")
	}
	var total int64
	for _, a := range pr.announced {
		if a[0] < 0 || a[1] <= 0 || a[0]+a[1] > int64(len(data)) {
			t.Errorf("announced range %v outside the file", a)
		}
		total += a[1]
	}
	if total > pr.read+int64(len(pr.announced))*blockSize {
		t.Errorf("announced %d bytes, read %d", total, pr.read)
	}
	want, err := Classify(context.Background(), bytes.NewReader(data), int64(len(data)), "clip.mp4", Options{Quick: true})
	if err != nil {
		t.Fatal(err)
	}
	if got.Verdict != want.Verdict || got.Reason != want.Reason {
		t.Errorf("with announcements %s (%s), without %s (%s)", got.Verdict, got.Reason, want.Verdict, want.Reason)
	}
}
