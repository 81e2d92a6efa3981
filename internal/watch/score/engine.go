package score

import (
	"fmt"
	"math"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/kintsugi-ir/kintsugi/internal/watch/fanotify"
	"github.com/kintsugi-ir/kintsugi/internal/watch/judge"
)

// Limits on what the engine keeps per process.
const (
	maxEvidence = 64
	maxTouched  = 256
	maxOutputs  = 8
	maxPerDir   = 64
	maxKinds    = 1 << 18
)

// created records a file or directory a process created.
type created struct {
	chain   []int32
	at      time.Time
	path    string
	dir     fanotify.Handle
	isDir   bool
	judged  bool
	verdict judge.Verdict
	// glanced is set when verdict is only a glance (judge.Entropy)
	glanced bool
	// renamedBy is the process that gave the object its current name.
	renamedBy int32
}

type node struct {
	pid      int32
	chain    []int32
	score    float64
	at       time.Time
	lastSeen time.Time
	strong   []time.Time
	evidence []Indicator
	touched  []Touch
	counted  map[fanotify.Handle]bool
	modified map[fanotify.Handle]bool
	newExts  map[string]int
	// extDirs: the directories where the process renamed settled files
	// to each new extension
	extDirs map[string]map[string]bool
	outputs []fanotify.Handle
	notes   map[fanotify.Handle]Indicator // notes waiting for other evidence
	damage  bool
	noted   bool // a ransom note has been credited
	frozen  bool
	// pending is deletion evidence held until the process's next event:
	// a deletion followed by a file of the same name is a replacement
	// (tar and unzip extracting over a tree), not a loss
	pending *held
}

// held is evidence waiting to be credited.
type held struct {
	ev     Event
	kind   string
	w      float64
	strong bool
	v      judge.Verdict
	detail string
}

// Engine scores process trees. It is not safe for concurrent use: the
// agent feeds it from one goroutine.
type Engine struct {
	cfg     Config
	content Content
	// ransomExt names the family known to append an extension
	ransomExt func(name string) (string, bool)
	nodes     map[int32]*node
	objects   map[fanotify.Handle]*created
	byDir     map[fanotify.Handle][]fanotify.Handle
	// what content was last seen, by object and by path: a rewrite of
	// a file that was random already destroys nothing
	lastKind map[fanotify.Handle]judge.Kind
	pathKind map[string]judge.Kind
	// pathObj is the object a process recently created or moved to a
	// path: what a rename over that path replaces
	pathObj map[string]fanotify.Handle
}

// New returns an engine. ransomExt may be nil.
func New(cfg Config, c Content, ransomExt func(name string) (string, bool)) *Engine {
	cfg.defaults()
	if ransomExt == nil {
		ransomExt = func(string) (string, bool) { return "", false }
	}
	return &Engine{cfg: cfg, content: c, ransomExt: ransomExt, nodes: map[int32]*node{},
		objects: map[fanotify.Handle]*created{}, byDir: map[fanotify.Handle][]fanotify.Handle{},
		lastKind: map[fanotify.Handle]judge.Kind{}, pathKind: map[string]judge.Kind{}, pathObj: map[string]fanotify.Handle{}}
}

// Config returns the engine's configuration with defaults filled in.
func (e *Engine) Config() Config { return e.cfg }

func (e *Engine) node(pid int32, chain []int32, now time.Time) *node {
	n, ok := e.nodes[pid]
	if !ok {
		n = &node{pid: pid, at: now, counted: map[fanotify.Handle]bool{}, modified: map[fanotify.Handle]bool{}, newExts: map[string]int{},
			extDirs: map[string]map[string]bool{}, notes: map[fanotify.Handle]Indicator{}}
		e.nodes[pid] = n
	}
	if len(chain) > 0 && chain[0] == pid {
		n.chain = append(n.chain[:0], chain...)
	}
	n.lastSeen = now
	return n
}

// decay brings a node's score to now.
func (e *Engine) decay(n *node, now time.Time) {
	if dt := now.Sub(n.at); dt > 0 {
		n.score *= math.Exp2(-dt.Seconds() / e.cfg.HalfLife.Seconds())
		n.at = now
	}
}

// related reports whether one chain's process is the other's ancestor or
// itself.
func related(a, b []int32) bool {
	if len(a) == 0 || len(b) == 0 {
		return false
	}
	for _, p := range b {
		if p == a[0] {
			return true
		}
	}
	for _, p := range a {
		if p == b[0] {
			return true
		}
	}
	return false
}

// frozenIn returns the frozen process in chain, 0 when none.
func (e *Engine) frozenIn(chain []int32) int32 {
	for _, p := range chain {
		if n, ok := e.nodes[p]; ok && n.frozen {
			return p
		}
	}
	return 0
}

// Observe scores one event.
func (e *Engine) Observe(ev *Event) Output {
	var out Output
	if len(ev.Chain) == 0 {
		return out
	}
	now := ev.Time
	self := e.node(ev.Pid(), ev.Chain, now)
	if ev.Op != OpModify || !self.modified[ev.Object] {
		if len(self.touched) < maxTouched {
			self.touched = append(self.touched, Touch{Time: now, Pid: ev.Pid(), Op: ev.Op, Path: ev.Path, OldPath: ev.OldPath})
		}
	}
	if p := self.pending; p != nil {
		self.pending = nil
		replaced := ev.Op == OpCreate && ev.Dir == p.ev.Dir && path.Base(ev.Path) == path.Base(p.ev.Path)
		if !replaced && e.frozenIn(p.ev.Chain) == 0 {
			e.add(&p.ev, self, p.kind, p.w, p.strong, &p.v, p.detail, &out)
		}
	}
	if e.frozenIn(ev.Chain) != 0 {
		// already stopped: the events are its last writes in flight
		return out
	}
	if ev.Canary {
		e.canary(ev, &out)
		return out
	}
	switch ev.Op {
	case OpCreate:
		e.remember(ev, now)
	case OpModify, OpWrite:
		e.write(ev, self, &out)
	case OpRename:
		e.rename(ev, self, &out)
	case OpDelete:
		e.delete(ev, self, &out)
	}
	return out
}

func (e *Engine) remember(ev *Event, now time.Time) {
	c := &created{chain: append([]int32(nil), ev.Chain...), at: now, path: ev.Path, dir: ev.Dir, isDir: ev.IsDir}
	e.objects[ev.Object] = c
	delete(e.lastKind, ev.Object)
	if !ev.IsDir {
		if len(e.pathObj) > maxKinds {
			clear(e.pathObj)
		}
		e.pathObj[ev.Path] = ev.Object
	}
	l := e.byDir[ev.Dir]
	if len(l) >= maxPerDir {
		l = l[1:]
	}
	e.byDir[ev.Dir] = append(l, ev.Object)
}

// own reports whether the object, or the directory it now lies in, was
// created by the acting tree: a copy, a temporary file, the tree's own
// output; never a settled file.
func (e *Engine) own(ev *Event, obj, dir fanotify.Handle) (*created, bool) {
	c, ok := e.objects[obj]
	if ok && ev.Time.Sub(c.at) <= e.cfg.Memory && related(c.chain, ev.Chain) {
		return c, true
	}
	if d, ok := e.objects[dir]; ok && d.isDir && ev.Time.Sub(d.at) <= e.cfg.Memory && related(d.chain, ev.Chain) {
		return c, true
	}
	return nil, false
}

func (e *Engine) judgeObj(obj fanotify.Handle, p string) (judge.Verdict, bool) {
	v, err := e.content.Judge(obj, p)
	if err != nil || v.Kind == judge.Unknown {
		return judge.Verdict{}, false
	}
	return v, true
}

// seen records what a file's content was.
func (e *Engine) seen(obj fanotify.Handle, p string, k judge.Kind) {
	if len(e.lastKind) > maxKinds {
		clear(e.lastKind)
	}
	if len(e.pathKind) > maxKinds {
		clear(e.pathKind)
	}
	if !obj.IsZero() {
		e.lastKind[obj] = k
	}
	if p != "" {
		e.pathKind[p] = k
	}
}

// unseen reports whether obj was written moments ago by another process
// and its content never judged (the agent ran behind and it was gone, or
// rewritten, before it could be read): what it held is unknown, and a
// file that new is not the settled data ransomware is after, so its
// replacement is recorded without weight.
func (e *Engine) unseen(obj fanotify.Handle, now time.Time) bool {
	c, ok := e.objects[obj]
	return ok && !c.isDir && c.chain != nil && !c.judged && now.Sub(c.at) <= e.cfg.Memory
}

// wasRandom reports whether the file at p (or the object) was random the
// last time the engine saw it.
func (e *Engine) wasRandom(obj fanotify.Handle, p string) bool {
	var k judge.Kind
	ok := false
	if !obj.IsZero() {
		k, ok = e.lastKind[obj]
	}
	if !ok {
		k, ok = e.pathKind[p]
	}
	return ok && (k == judge.Random || k == judge.Damaged)
}

// write handles a modification or a close after writing.
func (e *Engine) write(ev *Event, self *node, out *Output) {
	if c, ok := e.own(ev, ev.Object, ev.Dir); ok {
		if ev.Op != OpWrite {
			return
		}
		if len(self.outputs) >= maxOutputs {
			self.outputs = self.outputs[1:]
		}
		self.outputs = append(self.outputs, ev.Object)
		// what a tree writes is glanced at when it is closed, so that a
		// later rewrite knows what it replaced (a copy refreshed over a
		// copy of encrypted evidence is not new damage)
		if v, err := e.content.Glance(ev.Object, ev.Path); err == nil && v.Kind != judge.Unknown {
			e.seen(ev.Object, ev.Path, v.Kind)
			if c != nil {
				c.judged, c.glanced, c.verdict = true, true, v
			}
		}
		if rule, _ := e.content.Note(ev.Object, ev.Path); rule != "" {
			e.note(ev, self, rule, out)
		}
		return
	}
	if ev.Op == OpModify {
		// judge a settled file at its first modification: its head is
		// already rewritten, and the process is still at work
		if self.modified[ev.Object] {
			return
		}
		self.modified[ev.Object] = true
	}
	if self.counted[ev.Object] {
		return
	}
	before := e.wasRandom(ev.Object, ev.Path)
	v, ok := e.judgeObj(ev.Object, ev.Path)
	if !ok {
		return
	}
	if ev.Op == OpWrite {
		e.seen(ev.Object, ev.Path, v.Kind)
	}
	if before {
		return // it was random before: nothing new was destroyed
	}
	switch v.Kind {
	case judge.Damaged:
		if e.alreadyRenamed(ev) {
			// a victim's file already (x.docx.lockbit): evidence, no weight
			e.add(ev, self, "rewrite-of-renamed-file", 0, false, &v, "the name already carries an appended extension", out)
			break
		}
		self.counted[ev.Object] = true
		if e.unseen(ev.Object, ev.Time) {
			e.add(ev, self, "rewrite-of-unread-file", 0, false, &v, "rewrote a file written moments ago that the agent had not read", out)
			break
		}
		e.add(ev, self, "damaged-rewrite", e.cfg.Weights.DamagedRewrite, true, &v, "", out)
	case judge.Random:
		self.counted[ev.Object] = true
		e.add(ev, self, "random-rewrite", e.cfg.Weights.RandomRewrite, false, &v, "", out)
	}
}

// alreadyRenamed reports whether a settled file's name carries an unknown
// extension after a known one (a file damaged before) that no related
// process gave it.
func (e *Engine) alreadyRenamed(ev *Event) bool {
	ext := path.Ext(ev.Path)
	if ext == "" || judge.KnownExtension(ext) || judge.ExpectedFormat(ev.Path) == "" {
		return false
	}
	if c, ok := e.objects[ev.Object]; ok && c.renamedBy != 0 {
		for _, p := range ev.Chain {
			if p == c.renamedBy {
				return false
			}
		}
	}
	return true
}

func (e *Engine) rename(ev *Event, self *node, out *Output) {
	if ev.IsDir {
		return
	}
	c, own := e.own(ev, ev.Object, ev.Dir)
	if c != nil {
		c.path, c.dir = ev.Path, ev.Dir
	}
	oldExt, newExt := strings.ToLower(path.Ext(ev.OldPath)), strings.ToLower(path.Ext(ev.Path))
	if own {
		// a temporary file taking its final name: rsync, rclone, editors
		// and the rename-over way of ransomware look alike, except for
		// what the content is under the name it takes
		was := e.wasRandom(fanotify.Handle{}, ev.Path)
		prev, hadPrev := e.pathObj[ev.Path]
		delete(e.pathObj, ev.OldPath)
		e.pathObj[ev.Path] = ev.Object
		if c != nil && c.judged {
			delete(e.pathKind, ev.OldPath)
			e.pathKind[ev.Path] = c.verdict.Kind
		}
		if d, ok := e.objects[ev.Dir]; ok && d.isDir && related(d.chain, ev.Chain) {
			return // into a directory the tree made: a fresh copy
		}
		if judge.ExpectedFormat(ev.Path) == "" || !judge.KnownExtension(newExt) || self.counted[ev.Object] || was {
			return
		}
		var v judge.Verdict
		if c != nil && c.judged && !c.glanced {
			v = c.verdict
		} else {
			var ok bool
			if v, ok = e.judgeObj(ev.Object, ev.Path); !ok {
				return
			}
			e.seen(ev.Object, ev.Path, v.Kind)
			if c != nil {
				c.judged, c.glanced, c.verdict = true, false, v
			}
		}
		if v.Kind == judge.Damaged {
			self.counted[ev.Object] = true
			if hadPrev && prev != ev.Object && e.unseen(prev, ev.Time) {
				e.add(ev, self, "rewrite-of-unread-file", 0, false, &v,
					"replaced a file written moments ago that the agent had not read", out)
				return
			}
			e.add(ev, self, "renamed-over-with-damage", e.cfg.Weights.DamagedRewrite, true, &v,
				"a new file of random content took a name that promises "+v.Format, out)
		}
		return
	}
	if c == nil {
		c = &created{at: ev.Time, path: ev.Path, dir: ev.Dir}
		// remember only who renamed it, not as created by them
		c.chain = nil
		e.objects[ev.Object] = c
	}
	c.renamedBy = ev.Pid()
	if o, ok := e.pathObj[ev.OldPath]; ok {
		delete(e.pathObj, ev.OldPath)
		e.pathObj[ev.Path] = o
	}
	if k, ok := e.pathKind[ev.OldPath]; ok {
		delete(e.pathKind, ev.OldPath)
		e.pathKind[ev.Path] = k
	}
	if newExt == oldExt || judge.KnownExtension(newExt) {
		return
	}
	if fam, ok := e.ransomExt(ev.Path); ok {
		e.add(ev, self, "ransomware-extension", e.cfg.Weights.RansomExtension, true, nil, "extension used by "+fam, out)
	}
	// Workflows mark what they processed (clip.mov -> clip.mov.done) in
	// the folder they watch; an encryptor walks the whole tree. The
	// renames count once the process has used the extension in a second
	// folder (they are kept as evidence before).
	dirs := self.extDirs[newExt]
	if dirs == nil {
		dirs = map[string]bool{}
		self.extDirs[newExt] = dirs
	}
	if len(dirs) < 8 {
		dirs[path.Dir(ev.Path)] = true
	}
	w, kind := e.cfg.Weights.NewExtension, "new-extension"
	if self.newExts[newExt] > 0 {
		w, kind = e.cfg.Weights.SameNewExtension, "same-new-extension"
	}
	self.newExts[newExt]++
	detail := fmt.Sprintf("%s renamed to %s", path.Base(ev.OldPath), newExt)
	if len(dirs) < 2 {
		w, detail = 0, detail+" (one folder so far)"
	}
	e.add(ev, self, kind, w, false, nil, detail, out)
	if self.counted[ev.Object] {
		return
	}
	if e.wasRandom(ev.Object, ev.Path) {
		return
	}
	if v, ok := e.judgeObj(ev.Object, ev.Path); ok && v.Kind == judge.Damaged {
		self.counted[ev.Object] = true
		e.add(ev, self, "renamed-encrypted", e.cfg.Weights.DamagedRewrite, true, &v, "", out)
	}
}

func (e *Engine) delete(ev *Event, self *node, out *Output) {
	if ev.IsDir {
		delete(e.byDir, ev.Object)
		return
	}
	if _, own := e.own(ev, ev.Object, ev.Dir); own {
		return
	}
	// the encrypted copy: a file the tree wrote in the same directory,
	// named after the deleted one (a.docx -> a.docx.locked, a.locked)
	base := path.Base(ev.Path)
	stem := strings.TrimSuffix(base, path.Ext(base))
	if compressed[strings.ToLower(path.Ext(base))] && e.wroteNamed(ev, stem) {
		return // gzip -d a.gz -> a: decompression
	}
	for _, h := range e.byDir[ev.Dir] {
		c, ok := e.objects[h]
		if !ok || c.isDir || h == ev.Object || !related(c.chain, ev.Chain) || ev.Time.Sub(c.at) > e.cfg.Memory {
			continue
		}
		// a.docx -> a.docx.locked or a.locked; never a.gz -> a (that is
		// decompression)
		ob := path.Base(c.path)
		if ob == base || !(strings.HasPrefix(ob, base+".") || path.Ext(ob) != "" && strings.TrimSuffix(ob, path.Ext(ob)) == stem) {
			continue
		}
		if !c.judged || c.glanced {
			if v, ok := e.judgeObj(h, c.path); ok {
				c.judged, c.glanced, c.verdict = true, false, v
			}
		}
		v := c.verdict
		switch {
		case v.Kind == judge.Damaged || v.Kind == judge.Random:
			e.hold(ev, self, "deleted-after-encrypted-copy", e.cfg.Weights.EncryptedCopy, true, v, "copy "+ob)
			return
		case v.Kind == judge.Container && v.Protected:
			e.hold(ev, self, "deleted-after-protected-archive", e.cfg.Weights.ProtectedArchive, true, v, "archive "+ob)
			return
		case v.Kind != judge.Unknown:
			return // compressed or copied, not encrypted (gzip a -> a.gz)
		}
	}
	// no copy of its own: did the tree pack the files into a
	// password-protected archive (7z a -p -sdel)?
	for _, h := range self.outputs {
		c, ok := e.objects[h]
		if !ok {
			continue
		}
		if !c.judged {
			if v, ok := e.judgeObj(h, c.path); ok {
				c.judged, c.verdict = true, v
			}
		}
		if v := c.verdict; v.Kind == judge.Container && v.Protected {
			e.hold(ev, self, "deleted-after-protected-archive", e.cfg.Weights.ProtectedArchive, true, v, "archive "+path.Base(c.path))
			return
		}
	}
}

// compressed are the extensions of single-file compressors.
var compressed = map[string]bool{".gz": true, ".bz2": true, ".xz": true, ".zst": true, ".lz4": true, ".z": true, ".lz": true, ".lzma": true, ".br": true}

// wroteNamed reports whether the acting tree created a file called name in
// the event's directory.
func (e *Engine) wroteNamed(ev *Event, name string) bool {
	for _, h := range e.byDir[ev.Dir] {
		if c, ok := e.objects[h]; ok && !c.isDir && path.Base(c.path) == name && related(c.chain, ev.Chain) {
			return true
		}
	}
	return false
}

// hold keeps deletion evidence until the process's next event (or
// Flush).
func (e *Engine) hold(ev *Event, self *node, kind string, w float64, strong bool, v judge.Verdict, detail string) {
	c := *ev
	c.Chain = append([]int32(nil), ev.Chain...)
	self.pending = &held{ev: c, kind: kind, w: w, strong: strong, v: v, detail: detail}
}

// Flush credits evidence held back from processes that have gone quiet.
// The agent calls it every second.
func (e *Engine) Flush() Output {
	var out Output
	for _, n := range e.nodes {
		if p := n.pending; p != nil {
			n.pending = nil
			if e.frozenIn(p.ev.Chain) == 0 {
				e.add(&p.ev, n, p.kind, p.w, p.strong, &p.v, p.detail, &out)
			}
		}
	}
	return out
}

func (e *Engine) note(ev *Event, self *node, rule string, out *Output) {
	ind := Indicator{Time: ev.Time, Kind: "ransom-note", Pid: ev.Pid(), Path: ev.Path, Detail: rule}
	for _, p := range ev.Chain {
		if n, ok := e.nodes[p]; ok && n.damage {
			if n.noted {
				// counted once per tree; kept as evidence
				if len(self.evidence) < maxEvidence {
					self.evidence = append(self.evidence, ind)
				}
				return
			}
			for _, q := range ev.Chain {
				e.node(q, nil, ev.Time).noted = true
			}
			e.add(ev, self, "ransom-note", e.cfg.Weights.RansomNote, true, nil, rule, out)
			return
		}
	}
	// pending on the writer and its ancestors: a sibling's damage counts
	for _, p := range ev.Chain {
		e.node(p, nil, ev.Time).notes[ev.Object] = ind
	}
	out.Notices = append(out.Notices, Notice{Kind: "ransom-note", Pid: ev.Pid(), Chain: append([]int32(nil), ev.Chain...), Indicator: ind})
}

// canary handles a decoy touched. Changing one (a write, or a rename to
// a new extension) stops the tree at once; deleting or moving one is an
// alert only, because clearing out or reorganising a folder that holds a
// decoy is ordinary work.
func (e *Engine) canary(ev *Event, out *Output) {
	ind := Indicator{Time: ev.Time, Kind: "canary", Pid: ev.Pid(), Path: ev.Path, OldPath: ev.OldPath,
		Weight: e.cfg.Weights.Threshold, Detail: "decoy file " + ev.Op.String()}
	changed := ev.Op == OpModify || ev.Op == OpWrite
	if ev.Op == OpRename {
		oldExt, newExt := strings.ToLower(path.Ext(ev.OldPath)), strings.ToLower(path.Ext(ev.Path))
		changed = oldExt != newExt && !judge.KnownExtension(newExt)
	}
	if !changed || ev.Allowed && ev.Op == OpRename {
		ind.Weight = 0
		if ev.Allowed {
			ind.Detail += " by an allow-listed program"
		}
		out.Notices = append(out.Notices, Notice{Kind: "canary", Pid: ev.Pid(), Chain: append([]int32(nil), ev.Chain...), Indicator: ind})
		return
	}
	self := e.nodes[ev.Pid()]
	self.evidence = append(self.evidence, ind)
	self.frozen = true
	out.Decisions = append(out.Decisions, e.decision(self, ev, fmt.Sprintf("decoy file %s: %s", ev.Op, ev.Path), true))
}

// add credits evidence to the acting process and each ancestor in its
// chain, then checks the threshold from the nearest up.
func (e *Engine) add(ev *Event, self *node, kind string, w float64, strong bool, v *judge.Verdict, detail string, out *Output) {
	now := ev.Time
	if !strong && ev.Allowed {
		w = 0
		detail = strings.TrimPrefix(detail+"; allow-listed program: weak evidence ignored", "; ")
	}
	ind := Indicator{Time: now, Kind: kind, Pid: ev.Pid(), Path: ev.Path, OldPath: ev.OldPath, Weight: w, Verdict: v, Detail: detail}
	if len(self.evidence) < maxEvidence {
		self.evidence = append(self.evidence, ind)
	}
	if w <= 0 {
		return
	}
	damaging := kind != "ransom-note"
	for _, p := range ev.Chain {
		n := e.node(p, nil, now)
		e.decay(n, now)
		n.score += w
		if strong && damaging {
			n.strong = append(n.strong, now)
		}
	}
	if damaging {
		// a note written earlier by this tree now counts, once: a tree
		// that drops a note in every folder is not more guilty for it
		for i, p := range ev.Chain {
			n := e.nodes[p]
			n.damage = true
			if len(n.notes) == 0 {
				continue
			}
			for _, note := range n.notes {
				note.Weight = e.cfg.Weights.RansomNote
				if len(self.evidence) < maxEvidence {
					self.evidence = append(self.evidence, note)
				}
				break
			}
			for _, q := range ev.Chain[i:] {
				m := e.nodes[q]
				if !m.noted {
					m.noted = true
					m.score += e.cfg.Weights.RansomNote
				}
				clear(m.notes)
			}
		}
	}
	cutoff := now.Add(-e.cfg.SlowWindow)
	crossed := -1
	var reason string
	for i, p := range ev.Chain {
		n := e.nodes[p]
		for len(n.strong) > 0 && n.strong[0].Before(cutoff) {
			n.strong = n.strong[1:]
		}
		switch {
		case n.score >= e.cfg.Weights.Threshold:
			reason = fmt.Sprintf("ransomware behaviour: score %.0f of %.0f", n.score, e.cfg.Weights.Threshold)
		case len(n.strong) >= e.cfg.SlowCount:
			reason = fmt.Sprintf("ransomware behaviour: %d files damaged within %s", len(n.strong), e.cfg.SlowWindow)
		default:
			continue
		}
		crossed = i
		break
	}
	if crossed < 0 {
		return
	}
	// Stop the smallest tree that holds the activity: the crossing
	// process, unless an ancestor gathered evidence from other branches
	// too (work spread over children) - then that ancestor.
	for crossed+1 < len(ev.Chain) {
		below, above := e.nodes[ev.Chain[crossed]], e.nodes[ev.Chain[crossed+1]]
		spread := above.score >= below.score+e.cfg.Weights.Threshold/4 || len(above.strong) > len(below.strong)
		if !spread && (e.cfg.Workers == nil || !e.cfg.Workers(below.pid, above.pid)) {
			break
		}
		crossed++
	}
	n := e.nodes[ev.Chain[crossed]]
	n.frozen = true
	out.Decisions = append(out.Decisions, e.decision(n, ev, reason, false))
}

// decision gathers the evidence and files of the tree below root.
func (e *Engine) decision(root *node, ev *Event, reason string, canary bool) Decision {
	d := Decision{Root: root.pid, Pid: ev.Pid(), Score: root.score, Reason: reason, Canary: canary}
	for _, n := range e.nodes {
		if !inChain(root.pid, n.chain) && n != root {
			continue
		}
		d.Evidence = append(d.Evidence, n.evidence...)
		d.Touched = append(d.Touched, n.touched...)
	}
	sort.SliceStable(d.Evidence, func(i, j int) bool { return d.Evidence[i].Time.Before(d.Evidence[j].Time) })
	sort.SliceStable(d.Touched, func(i, j int) bool { return d.Touched[i].Time.Before(d.Touched[j].Time) })
	return d
}

func inChain(p int32, chain []int32) bool {
	for _, q := range chain {
		if q == p {
			return true
		}
	}
	return false
}

// Score returns a process's current score.
func (e *Engine) Score(pid int32, now time.Time) float64 {
	n, ok := e.nodes[pid]
	if !ok {
		return 0
	}
	e.decay(n, now)
	return n.score
}

// Touched returns the operations recorded for the tree below root since
// the decision (the writes that were in flight when it was stopped).
func (e *Engine) Touched(root int32) []Touch {
	var out []Touch
	for _, n := range e.nodes {
		if n.pid == root || inChain(root, n.chain) {
			out = append(out, n.touched...)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out
}

// Release clears the frozen mark and the score of root and its tree (the
// operator resumed it: a false alarm).
func (e *Engine) Release(root int32) {
	for _, n := range e.nodes {
		if n.pid == root || inChain(root, n.chain) {
			n.frozen, n.score, n.strong, n.damage = false, 0, nil, false
			clear(n.counted)
		}
	}
}

// Expire forgets what is older than the engine's memory and processes
// with nothing left to remember.
func (e *Engine) Expire(now time.Time, alive func(int32) bool) {
	for h, c := range e.objects {
		if now.Sub(c.at) > e.cfg.Memory {
			delete(e.objects, h)
		}
	}
	for d, l := range e.byDir {
		keep := l[:0]
		for _, h := range l {
			if _, ok := e.objects[h]; ok {
				keep = append(keep, h)
			}
		}
		if len(keep) == 0 {
			delete(e.byDir, d)
		} else {
			e.byDir[d] = keep
		}
	}
	for pid, n := range e.nodes {
		e.decay(n, now)
		live := alive == nil || alive(pid)
		recent := len(n.strong) > 0 && now.Sub(n.strong[len(n.strong)-1]) < e.cfg.SlowWindow
		if live && (n.frozen || recent) {
			continue
		}
		// a stopped tree that is gone must not leave its mark on a
		// process that reuses the pid
		if !live && n.frozen || n.score < 1 && now.Sub(n.lastSeen) > 10*e.cfg.HalfLife {
			delete(e.nodes, pid)
		}
	}
}

// Len reports the engine's table sizes (processes, remembered objects).
func (e *Engine) Len() (nodes, objects int) { return len(e.nodes), len(e.objects) }
