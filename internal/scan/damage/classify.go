package damage

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/kintsugi-ir/kintsugi/internal/bufpool"
	"github.com/kintsugi-ir/kintsugi/internal/incident"
)

// Options tune an examination.
type Options struct {
	// Quick samples the file instead of reading it: the head, the tail and
	// a few evenly spaced blocks, and as much structure as a small read
	// budget allows. Quick results are triage, not a screening verdict.
	Quick bool
	// QuickBudget caps the bytes a quick examination reads beyond its
	// planned samples; 0 means the larger of 128 KiB and 0.5% of the file,
	// at most 2 MiB.
	QuickBudget int64
	// Families replaces the embedded family list; nil uses it.
	Families *Families
}

func (o Options) families() *Families {
	if o.Families != nil {
		return o.Families
	}
	return DefaultFamilies()
}

// Classify decides whether the size bytes readable from r were encrypted
// by ransomware. name is the file name, used only as a hint of the format
// the content should have and for the appended extension. It returns an
// error only when reading fails; the file then could not be examined.
func Classify(ctx context.Context, r io.ReaderAt, size int64, name string, opts Options) (Result, error) {
	a := newAnalysis(ctx, r, size, name, nil, opts, opts.families(), nil)
	p := fullPlan(size)
	if opts.Quick {
		p = quickPlan(size)
	}
	a.prof = newProfile(p)
	a.prof.fill(a.s)
	return a.run()
}

// analysis holds one file's examination.
type analysis struct {
	// fine caches fineStripes of the head window
	fine     *stripes
	fineSeen bool
	// rawObs caches rawScan
	rawObs  []obsv
	rawDone bool

	ctx   context.Context
	s     *source
	size  int64
	hint  nameHint
	quick bool
	fam   *Families
	prof  *profile
}

func newAnalysis(ctx context.Context, r io.ReaderAt, size int64, name string, mem []byte, opts Options, fam *Families, pool *bufpool.Pool) *analysis {
	budget := int64(-1)
	if opts.Quick {
		p := quickPlan(size)
		budget = plannedBytes(p)
		extra := opts.QuickBudget
		if extra <= 0 {
			extra = size / 200
			if extra < 128<<10 {
				extra = 128 << 10
			}
			if extra > 2<<20 {
				extra = 2 << 20
			}
		}
		budget += extra
	}
	return &analysis{
		ctx:   ctx,
		s:     newSource(r, size, mem, budget, pool),
		size:  size,
		hint:  hintFromName(name),
		quick: opts.Quick,
		fam:   fam,
	}
}

// plannedBytes is the number of bytes a plan analyses.
func plannedBytes(p plan) int64 {
	var n int64
	for off := p.next(0); off < p.size; off = p.next(off + blockSize) {
		b := int64(blockSize)
		if off+b > p.size {
			b = p.size - off
		}
		n += b
	}
	return n
}

const headWindow = 64 << 10

func (a *analysis) run() (Result, error) {
	if a.size == 0 {
		return Result{Verdict: incident.Clean, Reason: "empty file"}, nil
	}
	head := a.s.copyBytes(0, headWindow)
	if a.s.err != nil {
		return Result{}, fmt.Errorf("read head: %w", a.s.err)
	}
	for _, f := range formats() {
		if !f.sniff(head) {
			continue
		}
		v := newVctx(a.ctx, a.s, a.quick, f.name)
		f.validate(v)
		if a.s.err != nil {
			return Result{}, fmt.Errorf("%s structure: %w", f.name, a.s.err)
		}
		if err := a.ctx.Err(); err != nil {
			return Result{}, err
		}
		if v.rep.status == notFormat {
			continue
		}
		return a.judgeKnown(v.rep, head), nil
	}
	res := a.judgeUnknown(head)
	if a.s.err != nil {
		return Result{}, fmt.Errorf("read: %w", a.s.err)
	}
	if err := a.ctx.Err(); err != nil {
		return Result{}, err
	}
	return res, nil
}

// judgeKnown decides for a file whose signature is present.
func (a *analysis) judgeKnown(rep *report, head []byte) Result {
	ev := a.baseEvidence(rep, "content")
	_, rawBad := a.observations(rep, false, false)
	if rep.status != damaged && rawBad == 0 {
		// intact structure; what follows its end may be a key blob
		if ev.TailRandom && ev.TailBytes >= 32 || ev.Family != "" && ev.TailBytes > 0 {
			ev.Check = "appended-tail"
			ev.Offset = rep.end
			ev.Detail = fmt.Sprintf("%d random bytes after the end of the %s structure", ev.TailBytes, rep.format)
			a.family(&ev)
			return Result{Verdict: incident.Suspect, Reason: ev.Detail, Evidence: ev}
		}
		if rep.corrupt > 0 {
			return Result{Verdict: incident.Clean, Reason: rep.format + " structure broken but not by ciphertext (truncated or corrupt)", Evidence: ev}
		}
		return Result{Verdict: incident.Clean, Intact: true, Reason: rep.format + " structure intact", Evidence: ev}
	}
	// damaged: look at the profile again, now that random blocks mean
	// something
	obs, _ := a.observations(rep, false, true)
	if rep.status == damaged {
		b := rep.breaks[0]
		ev.Check, ev.Offset, ev.Detail = b.Check, b.Off, b.Detail
	} else {
		ev.Check = "random-blocks"
		ev.Detail = "uniformly random blocks where " + rep.format + " keeps uncompressed data"
		for _, o := range obs {
			if o.bad {
				ev.Offset = o.off
				break
			}
		}
	}
	a.pattern(&ev, obs, head, rep)
	a.family(&ev)
	return Result{Verdict: incident.Encrypted, Reason: a.reason(&ev), Evidence: ev}
}

// judgeUnknown decides for a file without a known signature.
func (a *analysis) judgeUnknown(head []byte) Result {
	// a random head: 64 bytes as varied as ciphertext; when the name says
	// which structure should be there and no signature is, 16 are enough
	// (fine stripes and one-block heads leave no more at offset 0)
	hr64 := (randomish(head) || a.hint.format != "" && len(head) >= 16 && smallRandom(head[:16])) && !plainText(head[:minInt(len(head), 64)])
	var rep *report
	from := ""
	if f, ok := formatByName(a.hint.format); ok && f.headless != nil {
		v := newVctx(a.ctx, a.s, a.quick, f.name)
		f.headless(v)
		if v.rep.status != notFormat {
			rep, from = v.rep, "structure"
		}
	}
	if rep == nil && hr64 && a.hint.format == "" {
		for _, f := range formats() {
			if !f.tailIndex || !a.s.ok() {
				continue
			}
			v := newVctx(a.ctx, a.s, a.quick, f.name)
			f.headless(v)
			if v.rep.status != notFormat {
				rep, from = v.rep, "structure"
				break
			}
		}
	}
	if rep == nil {
		rep = &report{format: a.hint.format, end: -1}
		if a.hint.format != "" {
			from = "name"
		}
	}
	ev := a.baseEvidence(rep, from)
	obs, _ := a.observations(rep, rep.format == "" || rep.format == "text", hr64)
	if !hr64 && a.hint.format == "text" && rep.status == notFormat {
		// the name says text and the file starts as text, but random
		// stripes further in kept the signature test from seeing it
		if enc := detectEnc(head[:minInt(len(head), 512)]); enc != encNone && len(head) >= 512 {
			v := newVctx(a.ctx, a.s, a.quick, "text")
			v.rep.format = "text/" + enc.String()
			runTextScan(v, enc)
			if v.rep.status == damaged {
				rep, from = v.rep, "content"
				ev = a.baseEvidence(rep, from)
				obs, _ = a.observations(rep, true, true)
			}
		}
	}
	fine, striped := a.fineStripes(head)
	if !hr64 && striped && len(head) >= 32 && smallRandom(head[:32]) {
		// random cells recurring at a fixed period from offset 0, over a
		// background that is not random: intermittent encryption finer
		// than the signature
		hr64 = true
	}
	if !hr64 {
		// the head is not random: an unknown format, not encrypted at the
		// start. Structure found past it may still be damaged.
		if rep.status == damaged && (from == "structure" && !strings.HasPrefix(rep.format, "text") || from == "content") {
			b := rep.breaks[0]
			ev.Check, ev.Offset, ev.Detail = b.Check, b.Off, b.Detail
			a.pattern(&ev, obs, head, rep)
			a.family(&ev)
			return Result{Verdict: incident.Encrypted, Reason: a.reason(&ev), Evidence: ev}
		}
		return Result{Verdict: incident.Clean, Reason: "unknown format, not random"}
	}
	obs = append(obs, obsv{off: 0, end: minInt64(64, a.size), bad: true})
	sort.SliceStable(obs, func(i, j int) bool { return obs[i].off < obs[j].off })
	ev.Offset = 0
	switch {
	case rep.format != "":
		ev.Check = "signature"
		what := rep.format
		if from == "name" {
			ev.Detail = fmt.Sprintf("the name says %s but the file starts with random bytes and no %s structure", what, what)
		} else {
			ev.Detail = fmt.Sprintf("%s structure found past a head of random bytes", what)
		}
	case striped:
		ev.Check = "random-stripes"
		ev.Detail = fmt.Sprintf("random %d-byte chunks every %d bytes from the start of otherwise structured content", fine.chunk, fine.period)
	case a.structuredBlocks() >= 2:
		ev.Check = "random-head"
		ev.Detail = "random bytes at the start of otherwise structured content"
	case a.hint.split:
		// a later piece of a split file starts wherever the cut fell:
		// random bytes there prove nothing
		ev.Check = "random-content"
		ev.Detail = "a piece of a split file (" + a.hint.appended + "): random content cannot be judged alone"
		a.pattern(&ev, obs, head, rep)
		return Result{Verdict: incident.Suspect, Reason: ev.Detail, Evidence: ev}
	case a.uniformThroughout():
		// ciphertext from the first byte to the last, and nothing says
		// what it was: encrypted, by whom the content cannot tell
		ev.Check = "random-content"
		ev.Detail = "uniformly random throughout with no format signature: ciphertext"
	default:
		a.pattern(&ev, obs, head, rep)
		a.family(&ev)
		if ev.Family != "" && ev.Marker != "" {
			ev.Check = "trailer-marker"
			ev.Detail = "random content ending in a known ransomware trailer"
			return Result{Verdict: incident.Encrypted, Reason: a.reason(&ev), Evidence: ev}
		}
		ev.Check = "random-content"
		ev.Detail = "unknown format, random head, content not uniformly random"
		return Result{Verdict: incident.Suspect, Reason: ev.Detail, Evidence: ev}
	}
	a.pattern(&ev, obs, head, rep)
	a.family(&ev)
	return Result{Verdict: incident.Encrypted, Reason: a.reason(&ev), Evidence: ev}
}

func (a *analysis) baseEvidence(rep *report, from string) Evidence {
	ev := Evidence{
		Format:     rep.format,
		FormatFrom: from,
		TailBytes:  -1,
		Extension:  a.hint.appended,
		Sampled:    a.quick || rep.partial,
		BytesRead:  a.s.read,
	}
	if rep.end >= 0 && rep.end <= a.size && !rep.partial {
		ev.TailBytes = a.size - rep.end
		if ev.TailBytes > 0 {
			t := a.s.bytes(rep.end, 256)
			ev.TailRandom = randomish(t)
		}
	}
	ev.Marker = trailerMarker(a.s.bytes(a.size-minInt64(a.size, 256), 256))
	ev.Probes, ev.Failed = len(rep.probes), 0
	for _, p := range rep.probes {
		if p.Bad {
			ev.Failed++
		}
	}
	for i, b := range rep.breaks {
		if i == 8 {
			break
		}
		ev.Damage = append(ev.Damage, Region{Offset: b.Off, Len: b.Len, Check: b.Check})
	}
	ev.Blocks = a.blockSample(8)
	return ev
}

func (a *analysis) reason(ev *Evidence) string {
	s := "encrypted"
	if ev.Pattern != "" {
		s += " (" + ev.Pattern
		switch ev.Pattern {
		case PatternStriped:
			if ev.Period > 0 {
				s += fmt.Sprintf(", %d of every %d bytes", ev.Chunk, ev.Period)
			}
		case PatternHead:
			if ev.Chunk > 0 {
				s += fmt.Sprintf(", first %d bytes or more", ev.Chunk)
			}
		case PatternPercent:
			s += fmt.Sprintf(", %.0f%% in %d chunks", ev.Coverage*100, ev.Chunks)
		}
		s += ")"
	}
	s += ": " + ev.Detail
	if ev.Family != "" {
		s += "; looks like " + ev.Family
	}
	return s
}

func (a *analysis) family(ev *Evidence) {
	if ev.Family != "" {
		return
	}
	t := a.s.bytes(a.size-minInt64(a.size, 4096), 4096)
	ev.Family, ev.FamilyBasis = a.fam.guess(ev, t)
}

// fineStripes runs fineStripes on the head window once.
func (a *analysis) fineStripes(head []byte) (stripes, bool) {
	if !a.fineSeen {
		a.fineSeen = true
		if f, ok := fineStripes(head, a.size); ok {
			a.fine = &f
		}
	}
	if a.fine == nil {
		return stripes{}, false
	}
	return *a.fine, true
}

// uniformThroughout reports whether every analysed block of a file of at
// least 4 KiB is indistinguishable from uniformly random bytes (one
// outlier in a thousand is allowed: that is how often ciphertext itself
// fails the test), over 4 KiB blocks and over the larger groups alike.
func (a *analysis) uniformThroughout() bool {
	n, odd := 0, 0
	for _, b := range a.prof.blocks {
		if b.Stat.N < 1024 {
			continue
		}
		n++
		if b.Stat.structured() {
			return false
		}
		if !b.Stat.random() {
			odd++
		}
	}
	if n == 0 || a.size < 4096 || odd > n/1000 {
		return false
	}
	for _, g := range a.prof.groups {
		if g.Stat.N >= 8192 && !g.Stat.random() {
			return false
		}
	}
	return true
}

// structuredBlocks counts analysed blocks that are clearly not random.
func (a *analysis) structuredBlocks() int {
	n := 0
	for _, b := range a.prof.blocks {
		if b.Stat.structured() {
			n++
		}
	}
	return n
}

// blockSample picks up to n analysed blocks, spread over the file, for the
// evidence.
func (a *analysis) blockSample(n int) []BlockSample {
	bl := a.prof.blocks
	if len(bl) == 0 {
		return nil
	}
	// entropy was computed for every entropyEvery-th block
	every := int(a.prof.entropyEvery)
	if every < 1 {
		every = 1
	}
	cand := (len(bl) + every - 1) / every
	step := cand / n
	if step < 1 {
		step = 1
	}
	var out []BlockSample
	for i := 0; i < cand && len(out) < n; i += step {
		b := bl[i*every]
		out = append(out, BlockSample{Offset: b.Off, Size: b.Stat.N,
			Entropy: round3(b.Stat.Entropy), Chi2: round3(b.Stat.Chi2), Random: b.Stat.random()})
	}
	return out
}

func round3(f float64) float64 { return float64(int64(f*1000+0.5)) / 1000 }

func minInt64(a, b int64) int64 {
	if a < b {
		return a
	}
	return b
}

// trailerMarker returns printable text that ends the file (after optional
// line ends or NULs), when it is at least 8 characters long and follows
// random bytes: an ASCII trailer after a key blob, not the last line of a
// text file.
func trailerMarker(t []byte) string {
	end := len(t)
	for end > 0 && (t[end-1] == '\n' || t[end-1] == '\r' || t[end-1] == 0) {
		end--
	}
	start := end
	for start > 0 && t[start-1] >= 0x20 && t[start-1] < 0x7f {
		start--
	}
	if end-start < 8 || start < 32 || !randomish(t[maxInt(0, start-64):start]) {
		return ""
	}
	return string(t[start:end])
}

func maxInt(a, b int) int {
	if a > b {
		return a
	}
	return b
}
