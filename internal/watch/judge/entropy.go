package judge

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"sync"
)

// Entropy is the self-contained judge: it recognises formats by their
// signatures and calls content random when sampled blocks are as uniform
// as ciphertext. It cannot tell an intact structure from a damaged one
// behind a valid signature; Damage can.
type Entropy struct{}

var _ Judge = Entropy{}

// sampleSize is the size of each sampled block; at most three are read
// (head, middle, tail).
const sampleSize = 16 << 10

// sniffSize is how much of the head is read first: enough for every
// signature (tar's is at 257) and for the container headers that protected
// reads. Most files carry a signature, and for them the rest of the head
// is never read.
const sniffSize = 4 << 10

// samples holds the three sampled blocks of one judgement. The agent
// judges most files written in its trees, and a fresh 48 KiB each was
// much of its garbage.
var samples = sync.Pool{New: func() any { return new([3 * sampleSize]byte) }}

// signature is a format's magic bytes at an offset.
type signature struct {
	off       int
	magic     string
	format    string
	container bool
}

var signatures = []signature{
	{0, "\x1f\x8b", "gzip", true},
	{0, "PK\x03\x04", "zip", true},
	{0, "PK\x05\x06", "zip", true},
	{0, "7z\xbc\xaf\x27\x1c", "7z", true},
	{0, "\xfd7zXZ\x00", "xz", true},
	{0, "\x28\xb5\x2f\xfd", "zstd", true},
	{0, "BZh", "bzip2", true},
	{0, "Rar!\x1a\x07", "rar", true},
	{0, "\x04\x22\x4d\x18", "lz4", true},
	{0, "MSCF", "cab", true},
	{257, "ustar", "tar", false},
	{0, "\xff\xd8\xff", "jpeg", false},
	{0, "\x89PNG\r\n\x1a\n", "png", false},
	{0, "GIF8", "gif", false},
	{4, "ftyp", "isobmff", false},
	{4, "moov", "isobmff", false},
	{4, "mdat", "isobmff", false},
	{4, "wide", "isobmff", false},
	{0, "\x1a\x45\xdf\xa3", "matroska", false},
	{0, "%PDF", "pdf", false},
	{0, "RIFF", "riff", false},
	{0, "\x06\x0e\x2b\x34", "mxf", false},
	{0, "fLaC", "flac", false},
	{0, "ID3", "mp3", false},
	{0, "OggS", "ogg", false},
	{0, "II*\x00", "tiff", false},
	{0, "MM\x00*", "tiff", false},
	{0, "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "ole", false},
	{0, "SQLite format 3\x00", "sqlite", false},
	{0, "\x7fELF", "elf", false},
	{0, "MZ", "pe", false},
	{0, "8BPS", "psd", false},
	{0, "BM", "bmp", false},
	{0, "{\\rtf", "text", false},
}

// Sniff returns the format whose signature head starts with.
func Sniff(head []byte) (format string, container bool) {
	for _, s := range signatures {
		if len(head) >= s.off+len(s.magic) && string(head[s.off:s.off+len(s.magic)]) == s.magic {
			return s.format, s.container
		}
	}
	return "", false
}

// Judge implements Judge.
func (Entropy) Judge(ctx context.Context, r io.ReaderAt, size int64, name string) (Verdict, error) {
	if size <= 0 {
		return Verdict{Kind: Unknown, Reason: "empty"}, nil
	}
	buf := samples.Get().(*[3 * sampleSize]byte)
	defer samples.Put(buf)
	head, err := readAt(r, buf[:min(size, sniffSize)], 0)
	if err != nil {
		return Verdict{}, err
	}
	if f, container := Sniff(head); f != "" {
		v := Verdict{Kind: Intact, Format: f, Reason: f + " signature"}
		if container {
			v.Kind = Container
			v.Protected = protected(r, size, f, head)
		}
		return v, nil
	}
	if size > sniffSize && len(head) == sniffSize {
		rest, err := readAt(r, buf[sniffSize:min(size, sampleSize)], sniffSize)
		if err != nil {
			return Verdict{}, err
		}
		head = buf[:sniffSize+len(rest)]
	}
	want := ExpectedFormat(name)
	headRandom := Uniform(head)
	if want != "" && headRandom {
		// random where the name promises a format: damaged whatever the
		// middle and the end hold, and they are not read (most of what
		// ransomware leaves)
		return Verdict{Kind: Damaged, Format: want, Reason: fmt.Sprintf("random content where the name promises %s (the head is random)", want)}, nil
	}
	blocks := 1
	random := 0
	if headRandom {
		random++
	}
	if size > 3*sampleSize {
		mid, err := readAt(r, buf[sampleSize:2*sampleSize], size/2)
		if err != nil {
			return Verdict{}, err
		}
		tail, err := readAt(r, buf[2*sampleSize:], size-sampleSize)
		if err != nil {
			return Verdict{}, err
		}
		blocks += 2
		for _, b := range [][]byte{mid, tail} {
			if Uniform(b) {
				random++
			}
		}
	}
	switch {
	case random == 0 && !Uniform(head[:min(len(head), 256)]):
		return Verdict{Kind: Plain, Format: want, Reason: "no signature, not random"}, nil
	case want != "" && (random > 0 || Uniform(head[:min(len(head), 256)])):
		return Verdict{Kind: Damaged, Format: want, Reason: fmt.Sprintf("random content where the name promises %s (%d of %d sampled blocks random)", want, random, blocks)}, nil
	case random*2 >= blocks:
		return Verdict{Kind: Random, Reason: fmt.Sprintf("random content of no known format (%d of %d sampled blocks)", random, blocks)}, nil
	}
	return Verdict{Kind: Plain, Reason: "mostly not random"}, nil
}

// readAt reads into b from off and returns what it read: all of b, or
// less at the end of the file.
func readAt(r io.ReaderAt, b []byte, off int64) ([]byte, error) {
	got, err := r.ReadAt(b, off)
	if got == len(b) || err == io.EOF {
		return b[:got], nil
	}
	return nil, fmt.Errorf("read at %d: %w", off, err)
}

// Uniform reports whether b is as uniform as ciphertext: Shannon entropy
// near 8 bits per byte and a byte histogram that passes a chi-square test
// (compressed data is dense, but rarely that flat). Blocks under 64 bytes
// use a distinct-byte count instead.
func Uniform(b []byte) bool {
	n := len(b)
	if n < 16 {
		return false
	}
	// four interleaved counts: a run of one byte (text, padding) would
	// otherwise wait on its own previous increment at every step
	var h4 [4][256]uint32
	i := 0
	for ; i+4 <= n; i += 4 {
		h4[0][b[i]]++
		h4[1][b[i+1]]++
		h4[2][b[i+2]]++
		h4[3][b[i+3]]++
	}
	for ; i < n; i++ {
		h4[0][b[i]]++
	}
	var hist [256]int
	for c := range hist {
		hist[c] = int(h4[0][c] + h4[1][c] + h4[2][c] + h4[3][c])
	}
	if n < 512 {
		distinct := 0
		for _, h := range hist {
			if h > 0 {
				distinct++
			}
		}
		// expected distinct bytes among n uniform draws: 256(1-(255/256)^n)
		exp := 256 * (1 - math.Pow(255.0/256, float64(n)))
		return float64(distinct) >= 0.9*exp
	}
	// the chi-square first: most blocks fail it, and then no logarithm
	// is taken
	var chi float64
	e := float64(n) / 256
	for _, h := range hist {
		d := float64(h) - e
		chi += d * d / e
	}
	// 255 degrees of freedom: 99.9th percentile is about 330
	if chi >= 400 {
		return false
	}
	var ent float64
	for _, h := range hist {
		if h > 0 {
			p := float64(h) / float64(n)
			ent -= p * math.Log2(p)
		}
	}
	return ent > 7.9
}

// protected reports whether a zip or 7z container is password-protected.
func protected(r io.ReaderAt, size int64, format string, head []byte) bool {
	switch format {
	case "zip":
		// general-purpose flag bit 0 of the first local header
		return len(head) >= 8 && bytes.HasPrefix(head, []byte("PK\x03\x04")) && head[6]&1 == 1
	case "7z":
		if len(head) < 32 {
			return false
		}
		off := int64(le64(head[12:])) + 32
		n := int64(le64(head[20:]))
		if n <= 0 || n > 1<<20 || off < 32 || off+n > size {
			return false
		}
		hdr, err := readAt(r, make([]byte, n), off)
		if err != nil {
			return false
		}
		// the AES-256 + SHA-256 coder id, in the header or in the
		// header's own coder when headers are encrypted (-mhe)
		return bytes.Contains(hdr, []byte{0x06, 0xf1, 0x07, 0x01})
	}
	return false
}

func le64(b []byte) uint64 {
	var v uint64
	for i := 7; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v
}
