package damage

import (
	"math"
	"sort"
)

// obsv is one observation of a byte range: damaged (ciphertext) or
// certainly intact. Ranges neither proven damaged nor intact (random-looking
// blocks inside compressed payload) are not observations.
type obsv struct {
	off, end int64
	bad      bool
}

// observations gathers what the validator and the entropy profile say
// about each place in the file. Random blocks count as damage inside
// regions the validator marked raw, or everywhere when allRaw is set
// (unknown formats, text). When the file is already known to be damaged
// (contrast), random blocks also count as damage where the profile proves
// the format is not random by nature: random groups of blocks anywhere,
// and single random blocks in a file that is mostly structured. It returns
// the observations in file order and the number of random blocks found in
// raw regions (which alone decide damage).
func (a *analysis) observations(rep *report, allRaw, contrast bool) ([]obsv, int) {
	var obs []obsv
	for _, p := range rep.probes {
		obs = append(obs, obsv{off: p.Off, end: p.Off + 1, bad: p.Bad})
	}
	for _, s := range rep.spans {
		obs = append(obs, obsv{off: s.Off, end: s.End, bad: true})
	}
	rawBad := 0
	groups := a.prof.groups
	// groups of 16 KiB or more inside semi-raw regions
	si := 0
	for _, g := range groups {
		if g.Stat.N < 16<<10 || !g.Stat.random() {
			continue
		}
		end := g.Off + int64(g.Stat.N)
		for si < len(rep.semi) && rep.semi[si].End <= g.Off {
			si++
		}
		if si < len(rep.semi) && covered(rep.semi, si, g.Off, end) {
			obs = append(obs, obsv{off: g.Off, end: end, bad: true})
			rawBad++
		}
	}
	structured := 0
	for _, b := range a.prof.blocks {
		if b.Stat.structured() {
			structured++
		}
	}
	lowEntropy := structured*2 >= len(a.prof.blocks)
	contrast = contrast && structured > 0
	raw := rep.raw
	ri, gi := 0, 0
	head := true // still in the run of random blocks from offset 0
	for i, b := range a.prof.blocks {
		for gi < len(groups) && groups[gi].First+groups[gi].Blocks <= i {
			gi++
		}
		end := b.Off + int64(b.Stat.N)
		for ri < len(raw) && raw[ri].End <= b.Off {
			ri++
		}
		inRaw := allRaw || ri < len(raw) && raw[ri].Off <= b.Off && end <= raw[ri].End
		st := b.Stat
		inGroup := gi < len(groups) && groups[gi].First <= i
		groupRandom := inGroup && groups[gi].Stat.N >= 8<<10 && groups[gi].Stat.random()
		head = head && st.random() && (i == 0 || a.prof.blocks[i-1].Off+blockSize == b.Off)
		switch {
		case st.random() && inRaw:
			obs = append(obs, obsv{off: b.Off, end: end, bad: true})
			rawBad++
		case contrast && st.random() && (groupRandom || lowEntropy || head):
			obs = append(obs, obsv{off: b.Off, end: end, bad: true})
		case st.structured():
			obs = append(obs, obsv{off: b.Off, end: end})
		case inGroup && groups[gi].Stat.structured() && !st.random():
			obs = append(obs, obsv{off: b.Off, end: end})
		}
	}
	for _, o := range a.rawScan(rep) {
		obs = append(obs, o)
		if o.bad {
			rawBad++
		}
	}
	sort.SliceStable(obs, func(i, j int) bool { return obs[i].off < obs[j].off })
	return obs, rawBad
}

// rawScan samples the raw regions more densely than the profile does (one
// 4 KiB block in every 32 KiB) and reports random blocks as damage and
// clearly structured ones as intact. Raw regions are where damage shows
// in the statistics alone, so they are worth the extra reads; a budget of
// 1 MiB + 1/32 of the file caps them.
func (a *analysis) rawScan(rep *report) []obsv {
	if a.rawDone {
		return a.rawObs
	}
	a.rawDone = true
	if a.quick || len(rep.raw) == 0 {
		return nil
	}
	budget := int64(1<<20) + a.size/32
	seen := map[int64]bool{}
	for _, b := range a.prof.blocks {
		seen[b.Off] = true
	}
	const stride = 32 << 10
	for _, r := range rep.raw {
		for off := (r.Off + blockSize - 1) / blockSize * blockSize; off+blockSize <= r.End && budget > 0; off += stride {
			if seen[off] {
				continue
			}
			b := a.s.bytes(off, blockSize)
			if len(b) < blockSize {
				return a.rawObs
			}
			budget -= blockSize
			st := chiBytes(b)
			switch {
			case st.random():
				a.rawObs = append(a.rawObs, obsv{off: off, end: off + blockSize, bad: true})
			case st.structured():
				a.rawObs = append(a.rawObs, obsv{off: off, end: off + blockSize})
			}
		}
	}
	return a.rawObs
}

// covered reports whether [off, end) lies, for nine tenths at least,
// within the union of regions from index i on (regions are sorted and may
// be fragmented: samples of one track interleave with another's).
func covered(r []span, i int, off, end int64) bool {
	var in int64
	for ; i < len(r) && r[i].Off < end; i++ {
		lo, hi := r[i].Off, r[i].End
		if lo < off {
			lo = off
		}
		if hi > end {
			hi = end
		}
		if hi > lo {
			in += hi - lo
		}
	}
	return in*10 >= (end-off)*9
}

// run is a stretch of damage between intact observations.
type run struct {
	start, end int64 // first and last damaged byte seen (end exclusive)
	lo, hi     int64 // where the damage may extend: to the nearest intact observations
}

func (r run) length() int64 {
	// estimate the extent halfway into the unobserved margins
	s := (r.start + r.lo) / 2
	e := (r.end + r.hi) / 2
	if e < s {
		return 0
	}
	return e - s
}

func runsOf(obs []obsv, size int64) (runs []run, good int) {
	lastGood := int64(0)
	cur := -1
	for _, o := range obs {
		if !o.bad {
			good++
			if cur >= 0 {
				runs[cur].hi = o.off
				cur = -1
			}
			lastGood = o.end
			continue
		}
		if cur < 0 {
			runs = append(runs, run{start: o.off, end: o.end, lo: minInt64(lastGood, o.off), hi: size})
			cur = len(runs) - 1
			continue
		}
		if o.end > runs[cur].end {
			runs[cur].end = o.end
		}
	}
	return runs, good
}

// pattern describes the layout of the damage in ev.
func (a *analysis) pattern(ev *Evidence, obs []obsv, head []byte, rep *report) {
	size := a.size
	runs, good := runsOf(obs, size)
	if fine, ok := a.fineStripes(head); ok && (good > 0 || len(runs) > 1) {
		ev.Pattern = PatternStriped
		ev.Period, ev.Chunk = fine.period, fine.chunk
		ev.Coverage = coverage(float64(fine.chunk) / float64(fine.period))
		ev.Chunks = int(size / fine.period)
		return
	}
	if len(runs) == 0 {
		return
	}
	if good == 0 {
		ev.Pattern = PatternFull
		ev.Coverage = 1
		ev.Chunk = size
		ev.Chunks = 1
		return
	}
	if len(runs) == 1 && runs[0].start <= 64 {
		ev.Pattern = PatternHead
		ev.Chunk = runs[0].end
		if runs[0].hi < size && runs[0].hi-runs[0].end <= blockSize {
			ev.Chunk = runs[0].hi
		}
		ev.Chunks = 1
		ev.Coverage = coverage(float64(ev.Chunk) / float64(size))
		return
	}
	// several runs: merge those split by a sliver of intact bytes, then
	// regular spacing makes stripes or a percentage
	runs = mergeRuns(runs)
	if len(runs) == 1 && runs[0].start <= 64 {
		ev.Pattern = PatternHead
		ev.Chunk = runs[0].end
		ev.Chunks = 1
		ev.Coverage = coverage(float64(ev.Chunk) / float64(size))
		return
	}
	rs := runs
	if n := len(rs); n >= 3 && rs[n-1].hi >= size {
		// a last chunk at the very end (Play encrypts the last block) may
		// break the rhythm
		if !regular(rs) && regular(rs[:n-1]) {
			rs = rs[:n-1]
		}
	}
	var total int64
	for _, r := range runs {
		total += r.length()
	}
	ev.Chunks = len(runs)
	ev.Coverage = coverage(float64(total) / float64(size))
	if len(rs) >= 2 && regular(rs) {
		d := medianDist(rs)
		ev.Chunk = medianLen(rs)
		// chunks the spacing implies, some of them possibly unseen
		k := (size + d/2) / d
		if k >= 2 && k <= 16 && rs[0].start <= 64 && absDiff(k*d, size) <= d/4+blockSize {
			ev.Pattern = PatternPercent
			ev.Chunks = int(k)
			ev.Coverage = coverage(float64(ev.Chunk*k) / float64(size))
			return
		}
		if len(rs) >= 3 {
			ev.Pattern = PatternStriped
			ev.Period = d
			ev.Coverage = coverage(float64(ev.Chunk) / float64(d))
			return
		}
	}
	ev.Pattern = PatternPartial
	ev.Chunk = 0
}

// coverage rounds a ciphertext fraction; estimates from run lengths can
// overshoot when neighbouring runs merge, and a file is at most all
// ciphertext.
func coverage(f float64) float64 { return round3(min(1, max(0, f))) }

// regular reports whether runs start at evenly spaced offsets: every
// distance between consecutive starts is one to three times the median
// distance (runs between them may have gone unseen), within 10% or one
// block, plus the uncertainty of where each run really starts (between the
// last intact observation and the first damaged one).
func regular(rs []run) bool {
	if len(rs) < 2 {
		return false
	}
	d := medianDist(rs)
	if d <= 0 {
		return false
	}
	tol := d / 10
	if tol < blockSize {
		tol = blockSize
	}
	for i := 1; i < len(rs); i++ {
		gap := rs[i].start - rs[i-1].start
		k := (gap + d/2) / d
		slack := (rs[i].start - rs[i].lo) + (rs[i-1].start - rs[i-1].lo)
		if k < 1 || k > 3 || absDiff(gap, k*d) > tol*k+slack {
			return false
		}
	}
	return true
}

// mergeRuns joins runs separated by less than a sixteenth of the previous
// run's length (or 64 bytes): a cell that happened to pass, a probe
// between two probes of one chunk.
func mergeRuns(rs []run) []run {
	if len(rs) < 2 {
		return rs
	}
	out := []run{rs[0]}
	for _, r := range rs[1:] {
		last := &out[len(out)-1]
		gap := r.start - last.end
		if gap <= 64 || gap <= (last.end-last.start)/16 {
			last.end = r.end
			last.hi = r.hi
			continue
		}
		out = append(out, r)
	}
	return out
}

func medianDist(rs []run) int64 {
	var d []int64
	for i := 1; i < len(rs); i++ {
		d = append(d, rs[i].start-rs[i-1].start)
	}
	return median(d)
}

func medianLen(rs []run) int64 {
	var d []int64
	for _, r := range rs {
		d = append(d, r.length())
	}
	return median(d)
}

func median(d []int64) int64 {
	if len(d) == 0 {
		return 0
	}
	s := append([]int64(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

type stripes struct{ period, chunk int64 }

// fineStripes looks for striping finer than a block in the head window.
// Each 32-byte cell gets the number of distinct bytes it holds (about 30
// for ciphertext, fewer for text, audio, pixels or code); folding that
// sequence at the right period separates the phases that are ciphertext
// from those that are not. Periods from 64 bytes to 4 KiB, multiples of
// 32 bytes, are tried in the first 16 KiB; the shortest one that scores nearly as well as the
// best wins (multiples of the period score as well). It needs a
// background that is less varied than ciphertext.
func fineStripes(head []byte, size int64) (stripes, bool) {
	const cell = 32
	// 16 KiB hold four periods of the longest stripe looked for
	if len(head) > 16<<10 {
		head = head[:16<<10]
	}
	n := len(head) / cell
	if n < 256 {
		return stripes{}, false
	}
	x := make([]float64, n)
	var mean float64
	for i := range x {
		x[i] = float64(distinct(head[i*cell : (i+1)*cell]))
		mean += x[i]
	}
	mean /= float64(n)
	var sd float64
	for _, v := range x {
		sd += (v - mean) * (v - mean)
	}
	sd = math.Sqrt(sd / float64(n))
	if sd < 0.5 || mean > 29 {
		// no contrast, or a background as varied as ciphertext
		return stripes{}, false
	}
	type cand struct {
		p          int
		score      float64
		hi, lo     float64
		highPhases int
	}
	var best cand
	var cands []cand
	sums := make([]float64, 128)
	counts := make([]int, 128)
	for p := 2; p <= 128 && p*4 <= n; p++ {
		for k := 0; k < p; k++ {
			sums[k], counts[k] = 0, 0
		}
		for i, v := range x {
			sums[i%p] += v
			counts[i%p]++
		}
		hi, lo := -1.0, 1e9
		for k := 0; k < p; k++ {
			m := sums[k] / float64(counts[k])
			hi = math.Max(hi, m)
			lo = math.Min(lo, m)
		}
		// contrast against the noise of a phase mean
		score := (hi - lo) / (sd * math.Sqrt(float64(p)/float64(n)))
		mid := (hi + lo) / 2
		high := 0
		for k := 0; k < p; k++ {
			if sums[k]/float64(counts[k]) > mid {
				high++
			}
		}
		c := cand{p: p, score: score, hi: hi, lo: lo, highPhases: high}
		cands = append(cands, c)
		if score > best.score {
			best = c
		}
	}
	// the ciphertext phases must look like ciphertext, the others not
	if best.score < 12 || best.hi < float64(minDistinct(cell))+1 || best.hi-best.lo < 3 {
		return stripes{}, false
	}
	for _, c := range cands {
		if c.score >= 0.9*best.score && best.p%c.p == 0 && c.hi-c.lo >= 3 {
			best = c
			break
		}
	}
	if best.highPhases == 0 || best.highPhases >= best.p {
		return stripes{}, false
	}
	_ = size
	return stripes{period: int64(best.p * cell), chunk: int64(best.highPhases * cell)}, true
}
