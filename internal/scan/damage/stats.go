package damage

import "math"

// Block statistics. A block's byte histogram gives its Shannon entropy and
// its chi-square distance from the uniform distribution. For uniformly random
// bytes chi-square follows a chi-square law with 255 degrees of freedom (mean
// 255, standard deviation 22.6) whatever the block size, while for any
// non-uniform source it grows in proportion to the block size. That is why
// larger blocks separate ciphertext from compressed media better than
// entropy does: entropy of good compression and of ciphertext both round to
// 8.0 bits, chi-square of a 64 KiB block does not.

const (
	// chiRandomMax is the largest chi-square still taken as uniform
	// random: mean + 4.5 standard deviations (about 1 block in 30,000 of
	// true ciphertext lands above it).
	chiRandomMax = 357
	// chiRandomMin is the smallest: a histogram flatter than ciphertext
	// ever gives (mean - 4.2 standard deviations) comes from a ramp or a
	// table, not from a cipher.
	chiRandomMin = 160
	// chiStructuredMin is the chi-square above which no ciphertext block
	// ever lands (mean + 15 standard deviations).
	chiStructuredMin = 600
)

// histogram counts byte values. The four interleaved tables avoid the
// store-to-load stall of runs of equal bytes (text, zeros).
type histogram struct {
	t [4][256]uint32
}

func (h *histogram) add(p []byte) {
	n := len(p) &^ 3
	for i := 0; i < n; i += 4 {
		h.t[0][p[i]]++
		h.t[1][p[i+1]]++
		h.t[2][p[i+2]]++
		h.t[3][p[i+3]]++
	}
	for _, c := range p[n:] {
		h.t[0][c]++
	}
}

// counts folds the interleaved tables into one.
func (h *histogram) counts(out *[256]uint32) {
	for i := range out {
		out[i] = h.t[0][i] + h.t[1][i] + h.t[2][i] + h.t[3][i]
	}
}

// blockStat summarises one analysed block.
type blockStat struct {
	Entropy float64 // bits per byte, 0..8
	Chi2    float64 // chi-square against uniform, 255 degrees of freedom
	N       int     // bytes counted
	// Smooth is set when consecutive bytes differ by less than 3 far more
	// often than in random bytes (gradients, ramps): only computed for
	// blocks whose histogram looks random.
	Smooth bool
}

// random reports whether the block is indistinguishable from uniformly
// random bytes: a chi-square in the band ciphertext produces and no
// sequential smoothness. Blocks shorter than 1 KiB are never called
// random: too few bytes for the test.
func (s blockStat) random() bool {
	return s.N >= 1024 && s.Chi2 >= chiRandomMin && s.Chi2 <= chiRandomMax && !s.Smooth
}

// smooth reports whether the differences between consecutive bytes are
// far from uniform, as they are in ramps, gradients and repeated tables
// whose byte histogram alone would pass for random. In ciphertext the
// differences are as uniform as the bytes.
func smooth(p []byte) bool {
	if len(p) < 1024 {
		return false
	}
	// the first KiB tells: a ramp or table is smooth throughout, and
	// ciphertext's differences pass over 1 KiB as over 4
	p = p[:1024]
	var h histogram
	n := len(p) - 1
	var d [4]byte
	i := 1
	for ; i+3 < len(p); i += 4 {
		d[0] = p[i] - p[i-1]
		d[1] = p[i+1] - p[i]
		d[2] = p[i+2] - p[i+1]
		d[3] = p[i+3] - p[i+2]
		h.t[0][d[0]]++
		h.t[1][d[1]]++
		h.t[2][d[2]]++
		h.t[3][d[3]]++
	}
	for ; i < len(p); i++ {
		h.t[0][p[i]-p[i-1]]++
	}
	var c [256]uint32
	h.counts(&c)
	return chiOf(&c, n).Chi2 > chiRandomMax+40
}

// structured reports whether the block is clearly not uniform random: its
// chi-square is more than 15 standard deviations above the mean of
// ciphertext.
func (s blockStat) structured() bool { return s.N >= 1024 && s.Chi2 > chiStructuredMin }

// chiOf computes the chi-square of a histogram of n bytes, leaving the
// entropy (costlier: a logarithm per bin) at zero.
func chiOf(c *[256]uint32, n int) blockStat {
	if n == 0 {
		return blockStat{}
	}
	exp := float64(n) / 256
	var chi float64
	for _, v := range c {
		d := float64(v) - exp
		chi += d * d
	}
	return blockStat{Chi2: chi / exp, N: n}
}

// statOf computes entropy and chi-square from a histogram of n bytes.
func statOf(c *[256]uint32, n int) blockStat {
	if n == 0 {
		return blockStat{}
	}
	fn := float64(n)
	exp := fn / 256
	var ent, chi float64
	for _, v := range c {
		if v == 0 {
			chi += exp
			continue
		}
		f := float64(v)
		p := f / fn
		ent -= p * math.Log2(p)
		d := f - exp
		chi += d * d / exp
	}
	return blockStat{Entropy: ent, Chi2: chi, N: n}
}

// chiBytes computes the chi-square (and, when it looks random, the serial
// test) of p directly, without the entropy.
func chiBytes(p []byte) blockStat {
	var h histogram
	h.add(p)
	var c [256]uint32
	h.counts(&c)
	st := chiOf(&c, len(p))
	if st.Chi2 <= chiRandomMax {
		st.Smooth = smooth(p)
	}
	return st
}

// statBytes computes the statistics of p directly.
func statBytes(p []byte) blockStat {
	var h histogram
	h.add(p)
	var c [256]uint32
	h.counts(&c)
	st := statOf(&c, len(p))
	if st.Chi2 <= chiRandomMax {
		st.Smooth = smooth(p)
	}
	return st
}

// distinct counts the distinct byte values in p (len(p) <= 256 is the
// useful range).
func distinct(p []byte) int {
	var seen [4]uint64
	n := 0
	for _, c := range p {
		w, b := c>>6, uint64(1)<<(c&63)
		if seen[w]&b == 0 {
			seen[w] |= b
			n++
		}
	}
	return n
}

// smallRandom reports whether a short window (16..256 bytes) looks like
// uniformly random bytes: at least as many distinct values as random bytes
// give in all but about one case in a thousand, and no long runs. Text,
// headers, tables and zero padding fail it; compressed payload passes it,
// which is why it is only used where structure is expected.
func smallRandom(p []byte) bool {
	n := len(p)
	if n < 16 {
		return false
	}
	if n > 256 {
		p, n = p[:256], 256
	}
	return distinct(p) >= minDistinct(n)
}

// minDistinct is the 0.1% quantile of the number of distinct values among n
// uniformly random bytes, less one for safety. The mean is
// 256*(1-(255/256)^n); the spread is small, so a normal approximation with a
// 3.3 sigma margin is enough.
func minDistinct(n int) int {
	switch n {
	case 16:
		return 12
	case 32:
		return 24
	case 64:
		return 48
	}
	fn := float64(n)
	q := 255.0 / 256
	mean := 256 * (1 - math.Pow(q, fn))
	// variance of the number of occupied bins
	v := 256*math.Pow(q, fn)*(1-math.Pow(q, fn)) +
		256*255*(math.Pow(254.0/256, fn)-math.Pow(q, 2*fn))
	if v < 0 {
		v = 0
	}
	return int(mean-3.3*math.Sqrt(v)) - 1
}
