package damage

// The entropy profile: statistics of sampled 4 KiB blocks. Which blocks are
// sampled is fixed in advance from the file size (a plan), so the same
// profile comes out whether the bytes are streamed by the engine, handed
// over whole, or read on demand through an io.ReaderAt.

const (
	blockSize = 4 << 10
	// groupMax is the largest run of contiguous sampled blocks whose
	// combined histogram is kept as one group: chi-square separates
	// ciphertext from compressed media far better over 16-64 KiB than over
	// 4 KiB.
	groupMax = 16
)

// plan says which 4 KiB blocks of a file are analysed: every block of the
// head and of the tail, and in the body one run of sampleBlocks blocks per
// stride, at a position that varies from stride to stride so that periodic
// encryption cannot hide between samples.
type plan struct {
	size         int64
	headEnd      int64 // blocks wholly or partly before headEnd are analysed
	tailStart    int64 // blocks at or after tailStart are analysed
	stride       int64 // body stride in bytes, a multiple of blockSize
	sampleBlocks int64 // blocks analysed per stride
}

// fullPlan analyses the first 64 KiB and the last 32 KiB whole, and a
// sixteenth of the body (16 KiB in every 256 KiB), up to 4096 samples.
// Histograms cost about a third of a SHA-256 pass per byte counted, so on
// large files the profile costs about 2% of hashing them.
func fullPlan(size int64) plan {
	return makePlan(size, 64<<10, 32<<10, 256<<10, 4, 4096)
}

// quickPlan analyses the first 64 KiB, the last 16 KiB and 4 to 16
// evenly spaced 16 KiB samples of the body, one per 4 MiB: well under 5% of
// any file over 10 MB, and few seeks.
func quickPlan(size int64) plan {
	n := size >> 22
	if n < 4 {
		n = 4
	}
	if n > 16 {
		n = 16
	}
	return makePlan(size, 64<<10, 16<<10, 0, 4, n)
}

func makePlan(size, head, tail, minStride, sample, maxSamples int64) plan {
	p := plan{size: size, headEnd: head, tailStart: size - tail, sampleBlocks: sample}
	if p.tailStart < 0 {
		p.tailStart = 0
	}
	if p.headEnd >= p.tailStart {
		p.headEnd, p.tailStart = size, size
		return p
	}
	// align the tail region to blocks
	p.tailStart = p.tailStart / blockSize * blockSize
	body := p.tailStart - p.headEnd
	stride := body / maxSamples
	if stride < minStride {
		stride = minStride
	}
	if min := sample * blockSize; stride < min {
		stride = min
	}
	p.stride = (stride + blockSize - 1) / blockSize * blockSize
	return p
}

// wants reports whether the block starting at off is analysed.
func (p plan) wants(off int64) bool {
	if off < p.headEnd || off >= p.tailStart {
		return true
	}
	if p.stride == 0 {
		return false
	}
	rel := off - p.headEnd
	k := rel / p.stride
	return rel-k*p.stride-p.jitter(k) >= 0 && rel-k*p.stride-p.jitter(k) < p.sampleBlocks*blockSize
}

// jitter is the offset of the sample inside stride k.
func (p plan) jitter(k int64) int64 {
	slots := p.stride/blockSize - p.sampleBlocks
	if slots <= 0 {
		return 0
	}
	h := uint64(k+1) * 0x9E3779B97F4A7C15
	h ^= h >> 29
	return int64(h%uint64(slots+1)) * blockSize
}

// next returns the offset of the first analysed block at or after off, or
// size when there is none.
func (p plan) next(off int64) int64 {
	off = (off + blockSize - 1) / blockSize * blockSize
	for off < p.size {
		if p.wants(off) {
			return off
		}
		if off >= p.headEnd && off < p.tailStart && p.stride > 0 {
			rel := off - p.headEnd
			k := rel / p.stride
			start := p.headEnd + k*p.stride + p.jitter(k)
			if start > off {
				off = start
				continue
			}
			nextStride := p.headEnd + (k+1)*p.stride
			if nextStride > p.tailStart {
				nextStride = p.tailStart
			}
			off = nextStride
			continue
		}
		off += blockSize
	}
	return p.size
}

// blockRec is one analysed block.
type blockRec struct {
	Off  int64
	Stat blockStat
}

// groupRec is a run of contiguous analysed blocks (at most groupMax).
type groupRec struct {
	Off    int64
	Stat   blockStat
	First  int // index of the first block in profile.blocks
	Blocks int
}

// profile collects block statistics following a plan.
type profile struct {
	plan   plan
	blocks []blockRec
	groups []groupRec

	// streaming state
	pos    int64
	cur    [blockSize]byte
	curOff int64
	curN   int

	h      histogram
	counts [256]uint32
	gsum   [256]uint32
	gOff   int64
	gN     int
	gBytes int

	entropyEvery int64
	// gSmooth is set when a block of the current group is not random
	gSmooth bool
}

func newProfile(p plan) *profile {
	return &profile{plan: p, curOff: -1}
}

// write consumes the next bytes of the file, in order.
func (pr *profile) write(p []byte) {
	for len(p) > 0 {
		if pr.pos >= pr.plan.size {
			return
		}
		boff := pr.pos / blockSize * blockSize
		if pr.curN == 0 && pr.pos == boff && !pr.plan.wants(boff) {
			nxt := pr.plan.next(boff)
			skip := nxt - pr.pos
			if skip >= int64(len(p)) {
				pr.pos += int64(len(p))
				return
			}
			p = p[skip:]
			pr.pos = nxt
			continue
		}
		if pr.curN == 0 && pr.pos != boff {
			// joined in the middle of an unwanted block
			skip := boff + blockSize - pr.pos
			if skip >= int64(len(p)) {
				pr.pos += int64(len(p))
				return
			}
			p = p[skip:]
			pr.pos += skip
			continue
		}
		end := boff + blockSize
		if end > pr.plan.size {
			end = pr.plan.size
		}
		need := int(end - pr.pos)
		if pr.curN == 0 && len(p) >= need {
			// the whole block is in p: analyse in place
			pr.add(boff, p[:need])
			p = p[need:]
			pr.pos += int64(need)
			continue
		}
		n := copy(pr.cur[pr.curN:int(end-boff)], p)
		pr.curN += n
		pr.pos += int64(n)
		p = p[n:]
		if pr.pos == end {
			pr.add(boff, pr.cur[:pr.curN])
			pr.curN = 0
		}
	}
}

// finish flushes a partial block and the last group.
func (pr *profile) finish() {
	if pr.curN > 0 {
		pr.add(pr.pos/blockSize*blockSize, pr.cur[:pr.curN])
		pr.curN = 0
	}
	pr.flushGroup()
}

// fill reads every planned block through s (Classify and quick mode).
func (pr *profile) fill(s *source) {
	pr.plan.runs(func(off, end int64) bool {
		b := s.bytes(off, int(end-off))
		if off == 0 || end == pr.plan.size {
			// the head and the tail are read again by validators
			b = append(s.alloc(len(b))[:0], b...)
			s.pin(off, b)
		}
		if len(b) > 0 {
			pr.addRun(off, b)
		}
		return len(b) == int(end-off)
	})
	pr.flushGroup()
}

// runs calls fn with each run of planned blocks (contiguous wanted blocks,
// at most 1 MiB), in order, until fn returns false.
func (p plan) runs(fn func(off, end int64) bool) {
	for off := p.next(0); off < p.size; off = p.next(off + blockSize) {
		end := off + blockSize
		for end < p.size && p.wants(end) && end-off < 1<<20 {
			end += blockSize
		}
		if end > p.size {
			end = p.size
		}
		if !fn(off, end) {
			return
		}
		off = end - blockSize
	}
}

func (pr *profile) addRun(off int64, b []byte) {
	for len(b) > 0 {
		n := blockSize
		if n > len(b) {
			n = len(b)
		}
		pr.add(off, b[:n])
		off += int64(n)
		b = b[n:]
	}
}

// add analyses one block.
func (pr *profile) add(off int64, b []byte) {
	if pr.gN > 0 && (off != pr.gOff+int64(pr.gBytes) || pr.gN == groupMax) {
		pr.flushGroup()
	}
	if pr.gN == 0 {
		pr.gOff = off
		pr.gsum = [256]uint32{}
		pr.gSmooth = false
	}
	pr.h.add(b)
	// one pass folds the interleaved tables into the block's counts and
	// the group's sums, clears them for the next block and sums the
	// chi-square
	n := len(b)
	exp := float64(n) / 256
	var chi float64
	t := &pr.h.t
	for i := range pr.counts {
		c := t[0][i] + t[1][i] + t[2][i] + t[3][i]
		t[0][i], t[1][i], t[2][i], t[3][i] = 0, 0, 0, 0
		pr.counts[i] = c
		pr.gsum[i] += c
		d := float64(c) - exp
		chi += d * d
	}
	st := blockStat{Chi2: chi / exp, N: n}
	// entropy is only reported, for a sample of blocks: computing it for
	// all would cost more than the histograms
	if pr.entropyEvery == 0 {
		pr.entropyEvery = plannedBytes(pr.plan)/blockSize/8 + 1
	}
	if int64(len(pr.blocks))%pr.entropyEvery == 0 {
		st = statOf(&pr.counts, n)
	}
	if st.Chi2 <= chiRandomMax {
		st.Smooth = smooth(b)
		pr.gSmooth = pr.gSmooth || st.Smooth || st.Chi2 < chiRandomMin
	} else {
		pr.gSmooth = true
	}
	pr.blocks = append(pr.blocks, blockRec{Off: off, Stat: st})
	pr.gN++
	pr.gBytes += n
}

func (pr *profile) flushGroup() {
	if pr.gN == 0 {
		return
	}
	st := chiOf(&pr.gsum, pr.gBytes)
	// a group is random only if every block in it was
	st.Smooth = pr.gSmooth
	pr.groups = append(pr.groups, groupRec{
		Off:    pr.gOff,
		Stat:   st,
		First:  len(pr.blocks) - pr.gN,
		Blocks: pr.gN,
	})
	pr.gN, pr.gBytes = 0, 0
	pr.gSmooth = false
}
