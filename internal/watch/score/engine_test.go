package score

import (
	"fmt"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/kintsugi-ir/kintsugi/internal/watch/fanotify"
	"github.com/kintsugi-ir/kintsugi/internal/watch/judge"
)

// fakeContent judges objects from a table; notes are files whose path
// contains "README".
type fakeContent struct {
	verdicts map[fanotify.Handle]judge.Kind
	judged   int
}

func (f *fakeContent) Judge(obj fanotify.Handle, name string) (judge.Verdict, error) {
	f.judged++
	k, ok := f.verdicts[obj]
	if !ok {
		k = judge.Intact
	}
	v := judge.Verdict{Kind: k, Format: judge.ExpectedFormat(name)}
	if k == judge.Container && strings.HasSuffix(name, ".7z") {
		v.Protected = true
	}
	return v, nil
}

func (f *fakeContent) Glance(obj fanotify.Handle, name string) (judge.Verdict, error) {
	return f.Judge(obj, name)
}

func (f *fakeContent) Note(obj fanotify.Handle, name string) (string, error) {
	if strings.Contains(name, "README") {
		return "kintsugi_ransom_note_en", nil
	}
	return "", nil
}

// sim drives an engine with a readable script.
type sim struct {
	t   *testing.T
	e   *Engine
	c   *fakeContent
	now time.Time
	n   int
	out []Decision
	not []Notice
	// chains by pid
	chains map[int32][]int32
	allow  map[int32]bool
}

func newSim(t *testing.T, cfg Config) *sim {
	c := &fakeContent{verdicts: map[fanotify.Handle]judge.Kind{}}
	return &sim{t: t, e: New(cfg, c, func(n string) (string, bool) {
		if strings.HasSuffix(n, ".lockbit") {
			return "LockBit", true
		}
		return "", false
	}), c: c, now: time.Date(2024, 3, 9, 2, 0, 0, 0, time.UTC), chains: map[int32][]int32{}, allow: map[int32]bool{}}
}

func h(s string) fanotify.Handle { return fanotify.Handle{FSID: 1, Type: 1, Bytes: s} }

func dirOf(p string) fanotify.Handle { return h("dir:" + p[:strings.LastIndexByte(p, '/')]) }

// obj is the handle of the file currently at path (the script keeps
// inodes by name).
func (s *sim) ev(pid int32, op Op, p string, obj fanotify.Handle) {
	s.evFull(&Event{Op: op, Path: p, Object: obj, Dir: dirOf(p)}, pid)
}

func (s *sim) evFull(ev *Event, pid int32) {
	s.now = s.now.Add(time.Millisecond)
	ev.Time = s.now
	ev.Chain = s.chains[pid]
	if ev.Chain == nil {
		ev.Chain = []int32{pid}
	}
	ev.Allowed = s.allow[pid]
	o := s.e.Observe(ev)
	s.out = append(s.out, o.Decisions...)
	s.not = append(s.not, o.Notices...)
}

func (s *sim) wait(d time.Duration) { s.now = s.now.Add(d) }

// settle creates files the way another, finished process would have.
func (s *sim) settle(n int) []string {
	var ps []string
	for i := range n {
		ps = append(ps, fmt.Sprintf("/srv/share/proj/file%03d.docx", i))
	}
	return ps
}

// stoppedAfter returns how many files the script had processed when the
// first decision came, -1 when none.
func run(s *sim, files []string, perFile func(i int, p string)) int {
	for i, p := range files {
		perFile(i, p)
		if len(s.out) > 0 {
			return i + 1
		}
	}
	return -1
}

func TestRansomwareModes(t *testing.T) {
	tests := []struct {
		name    string
		perFile func(s *sim, i int, p string)
		chain   []int32
		want    int   // files processed when stopped
		root    int32 // stopped tree
		every   time.Duration
	}{
		{"in place then rename", func(s *sim, i int, p string) {
			o := h("ino:" + p)
			s.c.verdicts[o] = judge.Damaged
			s.ev(100, OpModify, p, o)
			s.ev(100, OpWrite, p, o)
			s.evFull(&Event{Op: OpRename, OldPath: p, Path: p + ".locked", Object: o, Dir: dirOf(p), OldDir: dirOf(p)}, 100)
		}, nil, 2, 100, 0},
		{"in place only", func(s *sim, i int, p string) {
			o := h("ino:" + p)
			s.c.verdicts[o] = judge.Damaged
			s.ev(100, OpWrite, p, o)
		}, nil, 2, 100, 0},
		{"write new then delete original", func(s *sim, i int, p string) {
			n := h("new:" + p)
			s.c.verdicts[n] = judge.Damaged
			s.ev(100, OpCreate, p+".locked", n)
			s.ev(100, OpWrite, p+".locked", n)
			s.ev(100, OpDelete, p, h("ino:"+p))
		}, nil, 3, 100, 0}, // a deletion counts at the process's next event
		{"write temp then rename over", func(s *sim, i int, p string) {
			tmp := p[:strings.LastIndexByte(p, '/')] + "/.tmp" + fmt.Sprint(i)
			n := h("new:" + p)
			s.c.verdicts[n] = judge.Damaged
			s.ev(100, OpCreate, tmp, n)
			s.ev(100, OpWrite, tmp, n)
			s.evFull(&Event{Op: OpRename, OldPath: tmp, Path: p, Object: n, Dir: dirOf(p), OldDir: dirOf(p)}, 100)
		}, nil, 2, 100, 0},
		{"rename only to a new extension, through folders", func(s *sim, i int, p string) {
			p = fmt.Sprintf("/srv/share/d%d/%s", i/3, path.Base(p))
			o := h("ino:" + p)
			s.evFull(&Event{Op: OpRename, OldPath: p, Path: p + ".crypt", Object: o, Dir: dirOf(p), OldDir: dirOf(p)}, 100)
		}, nil, 10, 100, 0},
		{"rename to a known ransomware extension", func(s *sim, i int, p string) {
			o := h("ino:" + p)
			s.evFull(&Event{Op: OpRename, OldPath: p, Path: p + ".lockbit", Object: o, Dir: dirOf(p), OldDir: dirOf(p)}, 100)
		}, nil, 5, 100, 0},
		{"one child per file", func(s *sim, i int, p string) {
			child := int32(200 + i)
			s.chains[child] = []int32{child, 100, 50}
			o := h("ino:" + p)
			s.c.verdicts[o] = judge.Damaged
			s.ev(child, OpWrite, p, o)
		}, []int32{100, 50}, 2, 100, 0},
		{"children with four files each", func(s *sim, i int, p string) {
			child := int32(200 + i/4)
			s.chains[child] = []int32{child, 100, 50}
			o := h("ino:" + p)
			s.c.verdicts[o] = judge.Damaged
			s.ev(child, OpWrite, p, o)
		}, []int32{100, 50}, 2, 200, 0},
		{"an encryptor run from a shell: the shell is not stopped", func(s *sim, i int, p string) {
			if i == 0 {
				// the shell ran something harmless-looking before
				s.chains[101] = []int32{101, 100}
				s.evFull(&Event{Op: OpRename, OldPath: "/srv/share/a.txt", Path: "/srv/share/a.txt.old1", Object: h("a"), Dir: h("d"), OldDir: h("d")}, 101)
			}
			s.chains[102] = []int32{102, 100}
			o := h("ino:" + p)
			s.c.verdicts[o] = judge.Damaged
			s.ev(102, OpWrite, p, o)
		}, []int32{100}, 2, 102, 0},
		{"slow, one file a second", func(s *sim, i int, p string) {
			o := h("ino:" + p)
			s.c.verdicts[o] = judge.Damaged
			s.ev(100, OpWrite, p, o)
		}, nil, 2, 100, time.Second},
		{"very slow, one file every five minutes", func(s *sim, i int, p string) {
			o := h("ino:" + p)
			s.c.verdicts[o] = judge.Damaged
			s.ev(100, OpWrite, p, o)
		}, nil, 10, 100, 5 * time.Minute},
		{"note first, then encryption", func(s *sim, i int, p string) {
			if i == 0 {
				n := h("note")
				s.ev(100, OpCreate, "/srv/share/proj/README_RESTORE.txt", n)
				s.ev(100, OpWrite, "/srv/share/proj/README_RESTORE.txt", n)
			}
			o := h("ino:" + p)
			s.c.verdicts[o] = judge.Damaged
			s.ev(100, OpWrite, p, o)
		}, nil, 1, 100, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newSim(t, Config{})
			if tc.chain != nil {
				s.chains[100] = tc.chain
			} else {
				s.chains[100] = []int32{100, 50}
			}
			files := s.settle(40)
			got := run(s, files, func(i int, p string) {
				if i > 0 {
					s.wait(tc.every)
				}
				tc.perFile(s, i, p)
			})
			if got != tc.want {
				t.Fatalf("stopped after %d files, want %d (decisions %+v)", got, tc.want, s.out)
			}
			d := s.out[0]
			if d.Root != tc.root || len(d.Evidence) == 0 || len(d.Touched) == 0 || d.Reason == "" {
				t.Fatalf("decision = %+v", d)
			}
		})
	}
}

func TestCopiersAreNotStopped(t *testing.T) {
	tests := []struct {
		name   string
		script func(s *sim, i int, p string)
	}{
		{"cp of encrypted evidence into a new tree", func(s *sim, i int, p string) {
			d := "/srv/share/copy"
			if i == 0 {
				s.evFull(&Event{Op: OpCreate, Path: d, Object: h("dir:" + d), Dir: h("dir:/srv/share"), IsDir: true}, 300)
			}
			n := h("copy:" + p)
			s.c.verdicts[n] = judge.Damaged
			dst := d + p[strings.LastIndexByte(p, '/'):] + ".lockbit"
			s.ev(300, OpCreate, dst, n)
			s.ev(300, OpModify, dst, n)
			s.ev(300, OpWrite, dst, n)
		}},
		{"cp overwriting existing copies with the same intact content", func(s *sim, i int, p string) {
			o := h("ino:" + p)
			s.ev(300, OpModify, p, o)
			s.ev(300, OpWrite, p, o)
		}},
		{"rsync into an existing directory with intact content", func(s *sim, i int, p string) {
			tmp := p[:strings.LastIndexByte(p, '/')] + "/.file.XyZ" + fmt.Sprint(i)
			n := h("tmp:" + p)
			s.ev(300, OpCreate, tmp, n)
			s.ev(300, OpWrite, tmp, n)
			s.evFull(&Event{Op: OpRename, OldPath: tmp, Path: p, Object: n, Dir: dirOf(p), OldDir: dirOf(p)}, 300)
		}},
		{"rsync of encrypted evidence into a directory it made", func(s *sim, i int, p string) {
			d := "/srv/backup/proj"
			if i == 0 {
				// the generator makes directories, the receiver files
				s.evFull(&Event{Op: OpCreate, Path: d, Object: h("dir:" + d), Dir: h("dir:/srv/backup"), IsDir: true}, 302)
			}
			base := p[strings.LastIndexByte(p, '/')+1:]
			tmp, dst := d+"/."+base+".Ab12", d+"/"+base
			n := h("tmp:" + p)
			s.c.verdicts[n] = judge.Damaged
			s.evFull(&Event{Op: OpCreate, Path: tmp, Object: n, Dir: h("dir:" + d)}, 301)
			s.evFull(&Event{Op: OpWrite, Path: tmp, Object: n, Dir: h("dir:" + d)}, 301)
			s.evFull(&Event{Op: OpRename, OldPath: tmp, Path: dst, Object: n, Dir: h("dir:" + d), OldDir: h("dir:" + d)}, 301)
		}},
		{"gzip replacing each file with its .gz", func(s *sim, i int, p string) {
			n := h("gz:" + p)
			s.c.verdicts[n] = judge.Container
			s.ev(300, OpCreate, p+".gz", n)
			s.ev(300, OpWrite, p+".gz", n)
			s.ev(300, OpDelete, p, h("ino:"+p))
		}},
		{"7z a -p writing one protected archive, originals kept", func(s *sim, i int, p string) {
			a := h("archive")
			if i == 0 {
				s.c.verdicts[a] = judge.Container
				s.ev(300, OpCreate, "/srv/share/proj.7z", a)
			}
			s.ev(300, OpModify, "/srv/share/proj.7z", a)
			if i == 39 {
				s.ev(300, OpWrite, "/srv/share/proj.7z", a)
			}
		}},
		{"tar extracting over existing intact files", func(s *sim, i int, p string) {
			s.ev(300, OpDelete, p, h("ino:"+p))
			n := h("new:" + p)
			s.ev(300, OpCreate, p, n)
			s.ev(300, OpWrite, p, n)
		}},
		{"cp refreshing a copy of encrypted evidence that kept its names", func(s *sim, i int, p string) {
			dst := "/srv/share/copy" + p[strings.LastIndexByte(p, '/'):]
			n := h("copy:" + p)
			s.c.verdicts[n] = judge.Damaged
			// the first copy, by one cp
			s.ev(303, OpCreate, dst, n)
			s.ev(303, OpWrite, dst, n)
			// the refresh, by another cp, over the same files
			s.ev(300, OpModify, dst, n)
			s.ev(300, OpWrite, dst, n)
		}},
		{"rsync refreshing a copy of encrypted evidence that kept its names", func(s *sim, i int, p string) {
			d := "/srv/share/copy"
			dst := d + p[strings.LastIndexByte(p, '/'):]
			n := h("first:" + p)
			s.c.verdicts[n] = judge.Damaged
			s.ev(303, OpCreate, dst, n)
			s.ev(303, OpWrite, dst, n)
			tmp := d + "/.tmp" + fmt.Sprint(i)
			m := h("second:" + p)
			s.c.verdicts[m] = judge.Damaged
			s.ev(300, OpCreate, tmp, m)
			s.ev(300, OpWrite, tmp, m)
			s.evFull(&Event{Op: OpRename, OldPath: tmp, Path: dst, Object: m, Dir: dirOf(dst), OldDir: dirOf(dst)}, 300)
		}},
		{"tar extracting a half-encrypted tree over itself", func(s *sim, i int, p string) {
			// the tree holds a.docx and a.docx.locked side by side, and
			// password-protected zips; tar replaces each file by
			// deleting it and creating it again
			locked := h("new-locked:" + p)
			s.c.verdicts[locked] = judge.Damaged
			s.ev(300, OpDelete, p+".locked", h("old-locked:"+p))
			s.ev(300, OpCreate, p+".locked", locked)
			s.ev(300, OpWrite, p+".locked", locked)
			zipped := h("zip:" + p)
			s.c.verdicts[zipped] = judge.Container
			s.ev(300, OpDelete, p+".7z", h("old-zip:"+p))
			s.ev(300, OpCreate, p+".7z", zipped)
			s.ev(300, OpWrite, p+".7z", zipped)
			n := h("new:" + p)
			s.ev(300, OpDelete, p, h("ino:"+p))
			s.ev(300, OpCreate, p, n)
			s.ev(300, OpWrite, p, n)
		}},
		{"gunzip of encrypted evidence", func(s *sim, i int, p string) {
			n := h("plain:" + p)
			s.c.verdicts[n] = judge.Random
			bare := strings.TrimSuffix(p, ".docx")
			s.ev(300, OpCreate, bare, n)
			s.ev(300, OpWrite, bare, n)
			s.ev(300, OpDelete, bare+".gz", h("gz:"+p))
		}},
		{"notes copied, then a protected archive decompressed", func(s *sim, i int, p string) {
			if i < 7 {
				n := h("note" + fmt.Sprint(i))
				s.ev(300, OpCreate, fmt.Sprintf("/srv/share/d%d/README.txt", i), n)
				s.ev(300, OpWrite, fmt.Sprintf("/srv/share/d%d/README.txt", i), n)
				return
			}
			a := h("7z:" + p)
			s.c.verdicts[a] = judge.Container
			s.ev(300, OpCreate, p+".7z", a)
			s.ev(300, OpWrite, p+".7z", a)
			s.ev(300, OpDelete, p+".7z.gz", h("gz:"+p))
		}},
		{"rsync refreshing a copy the agent had no time to read", func(s *sim, i int, p string) {
			d := "/srv/share/copy"
			dst := d + p[strings.LastIndexByte(p, '/'):]
			first := h("first:" + p)
			s.c.verdicts[first] = judge.Unknown // gone before it was read
			s.ev(303, OpCreate, d+"/.t1", first)
			s.ev(303, OpWrite, d+"/.t1", first)
			s.evFull(&Event{Op: OpRename, OldPath: d + "/.t1", Path: dst, Object: first, Dir: dirOf(dst), OldDir: dirOf(dst)}, 303)
			second := h("second:" + p)
			s.c.verdicts[second] = judge.Damaged
			s.ev(300, OpCreate, d+"/.t2", second)
			s.ev(300, OpWrite, d+"/.t2", second)
			s.evFull(&Event{Op: OpRename, OldPath: d + "/.t2", Path: dst, Object: second, Dir: dirOf(dst), OldDir: dirOf(dst)}, 300)
		}},
		{"a workflow marking processed clips in its folder", func(s *sim, i int, p string) {
			o := h("ino:" + p)
			s.evFull(&Event{Op: OpRename, OldPath: p, Path: p + ".done", Object: o, Dir: dirOf(p), OldDir: dirOf(p)}, 300)
		}},
		{"allow-listed sync rewriting random blobs", func(s *sim, i int, p string) {
			s.allow[300] = true
			o := h("ino:" + p)
			s.c.verdicts[o] = judge.Random
			s.ev(300, OpWrite, strings.TrimSuffix(p, ".docx")+".bin", o)
		}},
		{"ransom notes copied with a tree", func(s *sim, i int, p string) {
			d := "/srv/share/copy" + fmt.Sprint(i)
			n := h("note" + fmt.Sprint(i))
			s.ev(300, OpCreate, d+"/README.txt", n)
			s.ev(300, OpWrite, d+"/README.txt", n)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newSim(t, Config{})
			s.chains[300] = []int32{300, 50}
			s.chains[301] = []int32{301, 300, 50}
			s.chains[302] = []int32{302, 301, 300, 50}
			if got := run(s, s.settle(40), func(i int, p string) { tc.script(s, i, p) }); got != -1 {
				t.Fatalf("stopped after %d files: %+v", got, s.out[0])
			}
			if sc := s.e.Score(300, s.now); sc >= 50 {
				t.Errorf("score %.0f", sc)
			}
		})
	}
}

func TestProtectedArchiveWithDeletes(t *testing.T) {
	// 7z a -p -sdel: one protected archive, then every original deleted
	s := newSim(t, Config{})
	s.chains[300] = []int32{300}
	s.allow[300] = true
	a := h("archive")
	s.c.verdicts[a] = judge.Container
	s.ev(300, OpCreate, "/srv/share/proj.7z", a)
	s.ev(300, OpWrite, "/srv/share/proj.7z", a)
	got := run(s, s.settle(40), func(i int, p string) { s.ev(300, OpDelete, p, h("ino:"+p)) })
	if got != 11 {
		t.Fatalf("stopped after %d deletions, want 11 (the tenth counts at the next event)", got)
	}
	// a process that goes quiet after its deletions is still credited
	s = newSim(t, Config{})
	s.chains[300] = []int32{300}
	s.c.verdicts[a] = judge.Container
	s.ev(300, OpCreate, "/srv/share/proj.7z", a)
	s.ev(300, OpWrite, "/srv/share/proj.7z", a)
	run(s, s.settle(10), func(i int, p string) { s.ev(300, OpDelete, p, h("ino:"+p)) })
	if len(s.out) != 0 || len(s.e.Flush().Decisions) != 1 {
		t.Fatal("the held tenth deletion was not credited by Flush")
	}
}

func TestAllowListedStillStopped(t *testing.T) {
	s := newSim(t, Config{})
	s.chains[300] = []int32{300}
	s.allow[300] = true
	got := run(s, s.settle(10), func(i int, p string) {
		o := h("ino:" + p)
		s.c.verdicts[o] = judge.Damaged
		s.ev(300, OpWrite, p, o)
	})
	if got != 2 {
		t.Fatalf("allow-listed program writing damaged content stopped after %d, want 2", got)
	}
}

func TestNoteAloneIsANotice(t *testing.T) {
	s := newSim(t, Config{})
	n := h("note")
	s.ev(100, OpCreate, "/srv/share/README.txt", n)
	s.ev(100, OpWrite, "/srv/share/README.txt", n)
	if len(s.out) != 0 || len(s.not) != 1 || s.not[0].Kind != "ransom-note" {
		t.Fatalf("decisions %+v notices %+v", s.out, s.not)
	}
}

func TestCanary(t *testing.T) {
	s := newSim(t, Config{})
	s.allow[301] = true
	s.evFull(&Event{Op: OpDelete, Path: "/srv/share/.~budget.xlsx", Object: h("canary"), Dir: h("dir"), Canary: true}, 301)
	s.evFull(&Event{Op: OpDelete, Path: "/srv/share/.~budget.xlsx", Object: h("canary"), Dir: h("dir"), Canary: true}, 302)
	s.evFull(&Event{Op: OpRename, OldPath: "/srv/share/.~budget.xlsx", Path: "/srv/old/.~budget.xlsx", Object: h("canary"), Dir: h("dir"), Canary: true}, 302)
	s.evFull(&Event{Op: OpRename, OldPath: "/srv/share/.~budget.xlsx", Path: "/srv/share/.~budget.xlsx.crypt", Object: h("canary"), Dir: h("dir"), Canary: true}, 301)
	if len(s.out) != 0 || len(s.not) != 4 {
		t.Fatalf("deletes, a move and an allow-listed rename of a canary: decisions %+v notices %+v", s.out, s.not)
	}
	s.evFull(&Event{Op: OpRename, OldPath: "/srv/share/.~budget.xlsx", Path: "/srv/share/.~budget.xlsx.crypt", Object: h("canary"), Dir: h("dir"), Canary: true}, 303)
	if len(s.out) != 1 || s.out[0].Root != 303 {
		t.Fatalf("rename of a canary to a new extension: %+v", s.out)
	}
	s.out = nil
	s.evFull(&Event{Op: OpWrite, Path: "/srv/share/.~budget.xlsx", Object: h("canary"), Dir: h("dir"), Canary: true}, 100)
	if len(s.out) != 1 || !s.out[0].Canary || s.out[0].Root != 100 {
		t.Fatalf("canary write: %+v", s.out)
	}
	// the stopped tree's further events are recorded, not decided again
	s.evFull(&Event{Op: OpWrite, Path: "/srv/share/x.docx", Object: h("x"), Dir: h("dir")}, 100)
	if len(s.out) != 1 || len(s.e.Touched(100)) != 2 {
		t.Fatalf("after the stop: %d decisions, touched %+v", len(s.out), s.e.Touched(100))
	}
	s.e.Release(100)
	if s.e.Score(100, s.now) != 0 {
		t.Error("score kept after release")
	}
}

func TestRandomBeforeIsNoNews(t *testing.T) {
	s := newSim(t, Config{})
	o := h("vault")
	s.c.verdicts[o] = judge.Damaged
	// a first write by another process showed the file random already
	s.ev(400, OpWrite, "/srv/share/vault.docx", o)
	before := s.e.Score(100, s.now)
	s.ev(100, OpWrite, "/srv/share/vault.docx", o)
	if s.e.Score(100, s.now) != before {
		t.Error("rewriting a file that was random before scored")
	}
}

func TestExpire(t *testing.T) {
	s := newSim(t, Config{})
	for i := range 100 {
		p := fmt.Sprintf("/srv/share/c/f%d", i)
		s.ev(int32(500+i), OpCreate, p, h(p))
	}
	s.e.Expire(s.now.Add(time.Hour), func(int32) bool { return false })
	if n, o := s.e.Len(); n != 0 || o != 0 {
		t.Errorf("after expiry: %d processes, %d objects", n, o)
	}
}
