package damage

import (
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
// about each place in the file. Random blocks count as damage only inside
// regions the validator marked raw, or everywhere when allRaw is set
// (unknown formats, text). It returns the observations in file order and
// the number of random blocks found in raw regions.
func (a *analysis) observations(rep *report, allRaw bool) ([]obsv, int) {
	var obs []obsv
	for _, p := range rep.probes {
		obs = append(obs, obsv{off: p.Off, end: p.Off + 1, bad: p.Bad})
	}
	for _, s := range rep.spans {
		obs = append(obs, obsv{off: s.Off, end: s.End, bad: true})
	}
	rawBad := 0
	raw := rep.raw
	ri := 0
	groups := a.prof.groups
	gi := 0
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
		switch {
		case st.random() && inRaw:
			obs = append(obs, obsv{off: b.Off, end: end, bad: true})
			rawBad++
		case st.structured():
			obs = append(obs, obsv{off: b.Off, end: end})
		case gi < len(groups) && groups[gi].Stat.structured() && !st.random():
			obs = append(obs, obsv{off: b.Off, end: end})
		}
	}
	sort.SliceStable(obs, func(i, j int) bool { return obs[i].off < obs[j].off })
	return obs, rawBad
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
		ev.Coverage = round3(float64(fine.chunk) / float64(fine.period))
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
		ev.Coverage = round3(float64(ev.Chunk) / float64(size))
		return
	}
	// several runs: regular spacing makes stripes or a percentage
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
	ev.Coverage = round3(float64(total) / float64(size))
	if len(rs) >= 2 && regular(rs) {
		d := medianDist(rs)
		ev.Chunk = medianLen(rs)
		m := int64(len(rs))
		if m <= 16 && absDiff(m*d, size) <= d/8+blockSize {
			ev.Pattern = PatternPercent
			return
		}
		ev.Pattern = PatternStriped
		ev.Period = d
		return
	}
	ev.Pattern = PatternPartial
	ev.Chunk = 0
}

// regular reports whether runs start at evenly spaced offsets (within 10%
// of the median spacing or one block).
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
		if absDiff(rs[i].start-rs[i-1].start, d) > tol {
			return false
		}
	}
	return true
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

// fineStripes looks for striping finer than a block in the head window:
// 32-byte cells that look random, recurring at a fixed period among cells
// that do not. It needs a background that is not itself random-looking.
func fineStripes(head []byte, size int64) (stripes, bool) {
	const cell = 32
	n := len(head) / cell
	if n < 64 {
		return stripes{}, false
	}
	flags := make([]bool, n)
	nr := 0
	for i := range flags {
		flags[i] = smallRandom(head[i*cell : (i+1)*cell])
		if flags[i] {
			nr++
		}
	}
	// the background must be mostly non-random for stripes to be visible
	if nr == 0 || nr*10 > n*7 {
		return stripes{}, false
	}
	// runs of random cells and the distances between their starts
	var starts, lens []int
	for i := 0; i < n; {
		if !flags[i] {
			i++
			continue
		}
		j := i
		for j < n && flags[j] {
			j++
		}
		starts = append(starts, i)
		lens = append(lens, j-i)
		i = j
	}
	if len(starts) < 8 {
		return stripes{}, false
	}
	count := map[int]int{}
	for i := 1; i < len(starts); i++ {
		count[starts[i]-starts[i-1]]++
	}
	best, bestN := 0, 0
	for d, c := range count {
		if c > bestN || c == bestN && d < best {
			best, bestN = d, c
		}
	}
	// most gaps agree, and the runs cover the window
	if bestN*10 < (len(starts)-1)*8 || best < 2 {
		return stripes{}, false
	}
	sort.Ints(lens)
	chunk := lens[len(lens)/2]
	if chunk >= best {
		return stripes{}, false
	}
	return stripes{period: int64(best * cell), chunk: int64(chunk * cell)}, true
}
