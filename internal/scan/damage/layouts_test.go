package damage

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/kintsugi-ir/kintsugi/internal/incident"
)

// Layouts make-corpus cannot express, after what public analyses report of
// real families, plus layouts no family is known to use. They are applied
// to the intact files of a corpus in memory; none of them shaped the
// detector's thresholds.

// layout encrypts parts of data (in place) and may append a trailer.
type layout struct {
	name string
	// atZero: the layout always encrypts offset 0 (quick mode must catch
	// it too)
	atZero bool
	// floor overrides the recall required (percent), with the reason in
	// a comment where the layout is defined
	floor int
	apply func(r *rand.Rand, data []byte) []byte
	ext   string
}

func fillRandom(r *rand.Rand, b []byte) {
	for i := range b {
		b[i] = byte(r.Uint32())
	}
}

func encryptAt(r *rand.Rand, data []byte, off, n int) {
	if off < 0 {
		n += off
		off = 0
	}
	if off >= len(data) || n <= 0 {
		return
	}
	if off+n > len(data) {
		n = len(data) - off
	}
	fillRandom(r, data[off:off+n])
}

func trailer(r *rand.Rand, data []byte, n int, marker string) []byte {
	t := make([]byte, n)
	fillRandom(r, t)
	return append(append(data, t...), marker...)
}

func heldOutLayouts() []layout {
	return []layout{
		{name: "play-first-last-every-8th-64k", atZero: true, ext: ".PLAY", apply: func(r *rand.Rand, d []byte) []byte {
			const blk = 64 << 10
			nb := (len(d) + blk - 1) / blk
			for i := 0; i < nb; i++ {
				if i == 0 || i == nb-1 || i%8 == 0 {
					encryptAt(r, d, i*blk, blk)
				}
			}
			return trailer(r, d, 1064, "")
		}},
		{name: "lockbit3-128k-growing-gaps", atZero: true, apply: func(r *rand.Rand, d []byte) []byte {
			gap := 128 << 10
			for off := 0; off < len(d); off += 128<<10 + gap {
				encryptAt(r, d, off, 128<<10)
				gap += 64 << 10
			}
			return d
		}},
		{name: "irregular-chunks", atZero: true, ext: ".locked", apply: func(r *rand.Rand, d []byte) []byte {
			encryptAt(r, d, 0, 4096+r.IntN(60000))
			for k := 2 + r.IntN(5); k > 0; k-- {
				encryptAt(r, d, r.IntN(len(d)), 4096+r.IntN(256<<10))
			}
			return trailer(r, d, 100+r.IntN(900), "")
		}},
		{name: "stripes-4k-skip-4k", atZero: true, apply: func(r *rand.Rand, d []byte) []byte {
			for off := 0; off < len(d); off += 8192 {
				encryptAt(r, d, off, 4096)
			}
			return d
		}},
		// 32 random bytes at offset 0 are too few to call a file random
		// when neither a signature nor the name says what it should be:
		// the unnamed ELF binaries are missed
		{name: "stripes-32-skip-96", atZero: true, floor: 95, ext: ".xx", apply: func(r *rand.Rand, d []byte) []byte {
			for off := 0; off < len(d); off += 128 {
				encryptAt(r, d, off, 32)
			}
			return d
		}},
		{name: "head-1k-footer777-ascii", atZero: true, apply: func(r *rand.Rand, d []byte) []byte {
			encryptAt(r, d, 0, 1024)
			return trailer(r, d, 777, "KEY-BLOB-END")
		}},
		{name: "qilin-like-1m-skip-5m-trailer", atZero: true, ext: ".qln", apply: func(r *rand.Rand, d []byte) []byte {
			for off := 0; off < len(d); off += 6 << 20 {
				encryptAt(r, d, off, 1<<20)
			}
			return trailer(r, d, 512, "QILIN-TRAILER")
		}},
		// layouts that leave the head intact: only full scans can see them
		{name: "middle-third", apply: func(r *rand.Rand, d []byte) []byte {
			encryptAt(r, d, len(d)/3, len(d)/3)
			return d
		}},
		{name: "tail-64k-footer534", apply: func(r *rand.Rand, d []byte) []byte {
			encryptAt(r, d, len(d)-(64<<10), 64<<10)
			return trailer(r, d, 534, "")
		}},
		{name: "start-8k-chunks-32k-every-256k", apply: func(r *rand.Rand, d []byte) []byte {
			for off := 8192; off < len(d); off += 256 << 10 {
				encryptAt(r, d, off, 32<<10)
			}
			return d
		}},
	}
}

// intactFiles returns the intact files of a corpus.
func intactFiles(t *testing.T, dir string) []label {
	var out []label
	for _, l := range readLabels(t, dir) {
		if l.Truth == "intact" {
			out = append(out, l)
		}
	}
	return out
}

func TestHeldOutLayouts(t *testing.T) {
	dir := ""
	if env := os.Getenv("KINTSUGI_DAMAGE_CORPUS"); env != "" {
		dir = strings.Split(env, ",")[0]
	} else {
		if testing.Short() {
			t.Skip("corpus generation skipped in -short mode")
		}
		dir = makeCorpus(t, 1, "")
	}
	files := intactFiles(t, dir)
	type tally struct{ found, total, quickFound int }
	res := map[string]*tally{}
	var misses []string
	for _, lay := range heldOutLayouts() {
		tl := &tally{}
		res[lay.name] = tl
		for i, l := range files {
			orig, err := os.ReadFile(filepath.Join(dir, l.Path))
			if err != nil {
				t.Fatal(err)
			}
			r := rand.New(rand.NewPCG(uint64(i), fnvSeed(lay.name)))
			data := lay.apply(r, append([]byte(nil), orig...))
			if bytes.Equal(data, orig) {
				continue
			}
			name := filepath.Base(l.Path) + lay.ext
			tl.total++
			for _, quick := range []bool{false, true} {
				if quick && !lay.atZero {
					continue
				}
				got, err := Classify(context.Background(), bytes.NewReader(data), int64(len(data)), name, Options{Quick: quick})
				if err != nil {
					t.Fatal(err)
				}
				if got.Verdict == incident.Encrypted {
					if quick {
						tl.quickFound++
					} else {
						tl.found++
					}
				} else {
					misses = append(misses, fmt.Sprintf("%s quick=%v %s: %s %s", lay.name, quick, l.Path, got.Verdict, got.Reason))
				}
			}
		}
	}
	var names []string
	for n := range res {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	fmt.Fprintf(&b, "%-34s %6s %6s %8s %8s\n", "layout", "found", "files", "recall", "quick")
	for _, lay := range heldOutLayouts() {
		tl := res[lay.name]
		q := "-"
		if lay.atZero {
			q = fmt.Sprintf("%.1f%%", 100*float64(tl.quickFound)/float64(tl.total))
		}
		fmt.Fprintf(&b, "%-34s %6d %6d %7.1f%% %8s\n", lay.name, tl.found, tl.total, 100*float64(tl.found)/float64(tl.total), q)
	}
	t.Logf("held-out layouts on %s:\n%s", dir, b.String())
	for _, m := range misses {
		t.Logf("miss: %s", m)
	}
	for _, lay := range heldOutLayouts() {
		tl := res[lay.name]
		floor := 99
		if lay.floor > 0 {
			floor = lay.floor
		}
		if lay.atZero {
			if tl.found*100 < tl.total*floor || tl.quickFound*100 < tl.total*floor {
				t.Errorf("layout %s: recall %d/%d (quick %d) below %d%%", lay.name, tl.found, tl.total, tl.quickFound, floor)
			}
		} else if tl.found*100 < tl.total*heldOutFloor {
			t.Errorf("layout %s (head intact): recall %d/%d below %d%%", lay.name, tl.found, tl.total, heldOutFloor)
		}
	}
}

// heldOutFloor is the recall required of layouts that leave the head
// intact. They are seen only through structure and raw regions, which
// compressed payloads (LZMA, VP8, deflate) do not offer.
const heldOutFloor = 50

func fnvSeed(s string) uint64 { return uint64(fnv32([]byte(s))) }
