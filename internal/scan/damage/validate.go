package damage

import (
	"bytes"
	"context"
)

// A validator checks one container format without decoding media payloads.
// It walks the structure the format promises (box headers, KLV keys,
// markers, chunk CRCs, central directories, page headers), records every
// structural checkpoint as a probe, and records a break wherever structure
// must be and something else is found. A break only counts as damage when
// the bytes found there look random: a truncated copy or zero padding is a
// different problem, not encryption.

// status is a validator's overall answer.
type status int

const (
	// notFormat: the file does not carry this format's signature.
	notFormat status = iota
	// valid: every checkpoint examined held.
	valid
	// damaged: at least one checkpoint was replaced by random bytes.
	damaged
)

// limits bound a validator's work on crafted input.
const (
	maxProbes   = 1 << 16 // structural checkpoints examined per file
	maxBreaks   = 64      // breaks recorded per file
	maxSpans    = 8192    // damaged extents recorded per file
	maxDepth    = 16      // container nesting
	maxTableLen = 1 << 24 // entries read from any table (sample sizes, xref...)
)

// probe is one structural checkpoint.
type probe struct {
	Off int64
	Bad bool
}

// breakAt is a checkpoint that failed with random bytes in place of
// structure.
type breakAt struct {
	Off    int64
	Len    int64 // known extent of the damage, 0 when unknown
	Check  string
	Detail string
}

// span is a byte range [Off, End).
type span struct{ Off, End int64 }

// report is what a validator found.
type report struct {
	format string
	status status
	// end is the format's logical end (after the last box, the end of
	// central directory, EOI, %%EOF ...); -1 when unknown. Bytes after it
	// are the tail.
	end int64
	// breaks where structure was replaced by random bytes.
	breaks []breakAt
	// corrupt counts failed checkpoints whose bytes did not look random
	// (truncation, zeros): reported, never called encryption.
	corrupt int
	// probes examined, in file order as far as the walk allows.
	probes []probe
	// spans are damaged regions whose extent is known (text runs, gaps
	// between resynchronised structure), at most maxSpans of them;
	// spanBytes and spanCount count all of them.
	spans     []span
	spanBytes int64
	spanCount int
	// raw lists regions whose content is never uniformly random in an
	// intact file (PCM audio, uncompressed pixels, text, machine code):
	// random blocks there are damage.
	raw []span
	// semi lists regions holding media coded with variable-length codes
	// (AAC, MP3): never uniform over 16 KiB or more, though 4 KiB blocks
	// can pass for random. Random groups of blocks there are damage.
	semi []span
	// partial is set when the walk stopped early (read budget, work caps).
	partial bool
	// headless is set when the structure was found only after a damaged
	// head.
	headless bool
	note     string
}

// vctx is the state shared by a validator run.
type vctx struct {
	ctx    context.Context
	s      *source
	size   int64
	quick  bool
	rep    *report
	budget int // remaining probes
	// deep is the budget for payload checks that cost CPU (decompressing
	// members to check their CRC, decoding LZW, scanning MJPEG frames), in
	// units of one byte hashed with SHA-256: see spend.
	deep int64
	// scan is the budget of bytes that resynchronisation may read past
	// damage, looking for the structure to resume.
	scan int64
}

// resync scans forward from from (up to end) for the place where
// structure resumes after damage. find looks at a window of the file that
// starts at base and returns the offset of a match in it, or -1. Windows
// start small (structure usually resumes within a few KiB) and double up
// to 1 MiB; consecutive windows overlap by 64 bytes so that no signature
// is cut. It returns -1 when nothing is found or the scan budget is spent.
func (v *vctx) resync(from, end int64, find func(buf []byte, base int64) int) int64 {
	const overlap = 64
	n := int64(16 << 10)
	for off := from; off < end && v.more(); {
		w := minInt64(n, end-off)
		buf := v.scanWindow(off, int(w))
		if len(buf) == 0 {
			return -1
		}
		if i := find(buf, off); i >= 0 {
			return off + int64(i)
		}
		if int64(len(buf)) < w || off+w >= end {
			return -1
		}
		off += w - overlap
		if n < 1<<20 {
			n *= 2
		}
	}
	return -1
}

// scanWindow reads a window for a resynchronisation scan, within the scan
// budget; nil when the budget is spent (the result is then partial).
func (v *vctx) scanWindow(off int64, n int) []byte {
	if v.scan <= 0 {
		v.rep.partial = true
		return nil
	}
	v.scan -= int64(n)
	return v.s.window(off, n)
}

// Relative costs of payload checks, per input byte, against one SHA-256
// byte (measured on amd64).
const (
	costCRC     = 1 // CRC32 runs ~20x faster than SHA-256: rounded up
	costScan    = 1 // JPEG entropy-data scan (IndexByte)
	costInflate = 4
	costZstd    = 2
	costLZW     = 8
	costBzip2   = 40
)

// spend takes n input bytes of a check of the given cost from the deep
// budget; false means the check is skipped and the result is partial.
func (v *vctx) spend(n, cost int64) bool {
	if v.quick || n*cost > v.deep {
		v.rep.partial = true
		return false
	}
	v.deep -= n * cost
	return true
}

func newVctx(ctx context.Context, s *source, quick bool, format string) *vctx {
	v := &vctx{ctx: ctx, s: s, size: s.size, quick: quick,
		rep: &report{format: format, end: -1}, budget: maxProbes}
	if !quick {
		// a small fixed allowance verifies small files whole; beyond it
		// payload checks may cost 5% of hashing the file
		v.deep = 256<<10 + s.size/20
	}
	v.scan = 1<<20 + s.size/16
	return v
}

// more reports whether the walk may go on.
func (v *vctx) more() bool {
	if v.budget <= 0 || !v.s.ok() || v.ctx.Err() != nil {
		v.rep.partial = true
		return false
	}
	return true
}

// ok records a checkpoint that held.
func (v *vctx) ok(off int64) {
	v.budget--
	if len(v.rep.probes) < maxProbes {
		v.rep.probes = append(v.rep.probes, probe{Off: off})
	}
}

// fail records a checkpoint that did not hold. It looks at the bytes at
// off: random ones make a break (damage), anything else counts as
// corruption. It returns whether the failure was a break.
func (v *vctx) fail(off int64, check, detail string) bool {
	v.budget--
	b := v.s.bytes(off, 64)
	if !randomish(b) {
		v.rep.corrupt++
		return false
	}
	v.brk(off, 0, check, detail)
	return true
}

// maxTail is the largest run of random bytes at the very end of a file
// that a chain walk takes for an appended blob (a ransomware key footer)
// rather than for damage running to the end.
const maxTail = 4096

// tailAt decides, for a chain walk that found no structure at off, whether
// what follows is an appended tail (short, up to the end of the file) and
// records the logical end if so.
func (v *vctx) tailAt(off int64) bool {
	if off <= 0 || v.size-off > maxTail {
		return false
	}
	v.rep.end = off
	return true
}

// brk records damage known to be random (the caller checked).
func (v *vctx) brk(off, n int64, check, detail string) {
	if len(v.rep.probes) < maxProbes {
		v.rep.probes = append(v.rep.probes, probe{Off: off, Bad: true})
	}
	if len(v.rep.breaks) < maxBreaks {
		v.rep.breaks = append(v.rep.breaks, breakAt{Off: off, Len: n, Check: check, Detail: detail})
	}
	if n > 0 {
		v.addSpan(off, off+n)
	}
	v.rep.status = damaged
}

// addSpan records a damaged extent.
func (v *vctx) addSpan(off, end int64) {
	v.rep.spanBytes += end - off
	v.rep.spanCount++
	if len(v.rep.spans) < maxSpans {
		v.rep.spans = append(v.rep.spans, span{off, end})
	}
}

// setLen sets the extent of the break recorded at off.
func (v *vctx) setLen(off, n int64) {
	if k := len(v.rep.breaks); k > 0 && v.rep.breaks[k-1].Off == off && v.rep.breaks[k-1].Len == 0 {
		v.rep.breaks[k-1].Len = n
	}
	v.addSpan(off, off+n)
}

// semiRaw marks a region of variable-length-coded media.
func (v *vctx) semiRaw(off, end int64) {
	if end > v.size {
		end = v.size
	}
	r := v.rep.semi
	if n := len(r); n > 0 && off <= r[n-1].End+blockSize && off >= r[n-1].Off {
		if end > r[n-1].End {
			r[n-1].End = end
		}
		return
	}
	if end > off && len(r) < 4096 {
		v.rep.semi = append(r, span{off, end})
	}
}

// raw marks a region whose content must not look uniformly random.
func (v *vctx) raw(off, end int64) {
	if end > v.size {
		end = v.size
	}
	if end-off < blockSize {
		return
	}
	r := v.rep.raw
	if n := len(r); n > 0 && off <= r[n-1].End+blockSize {
		if end > r[n-1].End {
			r[n-1].End = end
		}
		return
	}
	if len(r) < 4096 {
		v.rep.raw = append(r, span{off, end})
	}
}

// randomish reports whether a short window looks like ciphertext rather
// than a header, text or padding. Up to 64 bytes are judged; fewer than 16
// are judged on what there is, with a proportionally lower bar.
func randomish(b []byte) bool {
	if len(b) > 64 {
		b = b[:64]
	}
	if len(b) >= 16 {
		return smallRandom(b)
	}
	if len(b) < 4 {
		return false
	}
	// a few bytes: all different and not a common small integer
	return distinct(b) == len(b) && !bytes.Equal(b[:2], []byte{0, 0})
}

// printable4 reports whether b holds a four-character code made of
// printable ASCII (box types, chunk IDs).
func printable4(b []byte) bool {
	if len(b) < 4 {
		return false
	}
	for _, c := range b[:4] {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}
