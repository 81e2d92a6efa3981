package damage

import (
	"errors"
	"io"

	"github.com/kintsugi-ir/kintsugi/internal/bufpool"
)

// errBudget stops a validator when the read budget of a quick examination is
// spent. It never leaves the package: the validator reports what it could
// verify and the result says the examination was partial.
var errBudget = errors.New("read budget spent")

// pageSize is the unit in which structure reads hit the underlying reader:
// small reads (box headers, KLV keys) are served from a few cached pages
// instead of one system call each, and the byte count reflects what a disk
// really delivers.
const pageSize = 4 << 10

// source gives validators bounded random access to the file under
// examination. Reads beyond the budget or after an I/O error return
// short, and the validator stops; an I/O error is kept and surfaces from
// Classify, a spent budget only marks the result partial.
type source struct {
	r    io.ReaderAt
	size int64
	// mem holds the whole file when the caller has it in memory; reads are
	// then free and unbounded.
	mem []byte

	budget int64 // bytes that may still be fetched from r; < 0 unlimited
	read   int64 // bytes fetched from r so far
	err    error // first I/O error
	spent  bool  // the budget ran out at least once

	pages [8]page
	clock uint64
	// pinned regions already read (the head, the tail) are served from
	// memory.
	pinned [4]span
	pinBuf [4][]byte
	win    []byte
	big    []byte

	// pool recycles the buffers above (and large private copies) once
	// the examination is over: quick triage opens files faster than fresh
	// megabyte buffers can be faulted in and collected.
	pool  *bufpool.Pool
	owned [][]byte
}

// alloc returns a buffer of n bytes that lives until release.
func (s *source) alloc(n int) []byte {
	if s.pool == nil || n < pooledMin {
		return make([]byte, n)
	}
	b := s.pool.Get(n)
	s.owned = append(s.owned, b)
	return b
}

// pooledMin is the smallest buffer worth taking from the pool.
const pooledMin = pageSize

// release gives every buffer back to the pool. Nothing read through s
// may be used afterwards.
func (s *source) release() {
	for _, b := range s.owned {
		s.pool.Put(b)
	}
	s.owned = nil
	s.win, s.big = nil, nil
	s.pinBuf = [4][]byte{}
	for i := range s.pages {
		s.pages[i] = page{off: -1}
	}
}

// pin keeps b, the bytes at off, for later reads.
func (s *source) pin(off int64, b []byte) {
	if s.mem != nil || len(b) == 0 {
		return
	}
	for i := range s.pinBuf {
		if s.pinBuf[i] == nil {
			s.pinned[i] = span{off, off + int64(len(b))}
			s.pinBuf[i] = b
			return
		}
	}
}

type page struct {
	off  int64
	n    int
	buf  []byte
	used uint64
}

func newSource(r io.ReaderAt, size int64, mem []byte, budget int64, pool *bufpool.Pool) *source {
	if mem != nil && int64(len(mem)) != size {
		mem = nil
	}
	s := &source{r: r, size: size, mem: mem, budget: budget, pool: pool}
	for i := range s.pages {
		s.pages[i].off = -1
	}
	return s
}

// ok reports whether reads may go on.
func (s *source) ok() bool { return s.err == nil && !s.spent }

// fetch reads p at off from the underlying reader, within the budget.
func (s *source) fetch(p []byte, off int64) int {
	if s.err != nil {
		return 0
	}
	if s.budget >= 0 {
		if s.budget == 0 {
			s.spent = true
			return 0
		}
		if int64(len(p)) > s.budget {
			p = p[:s.budget]
			s.spent = true
		}
	}
	n, err := s.r.ReadAt(p, off)
	s.read += int64(n)
	if s.budget >= 0 {
		s.budget -= int64(n)
	}
	if err != nil && !errors.Is(err, io.EOF) {
		s.err = err
	}
	return n
}

// bytes returns up to n bytes at off: fewer at the end of the file or when
// reading stops. The slice may alias an internal page and is valid only
// until the next call; callers that keep it must copy.
func (s *source) bytes(off int64, n int) []byte {
	if off < 0 || n <= 0 || off >= s.size {
		return nil
	}
	if rem := s.size - off; int64(n) > rem {
		n = int(rem)
	}
	if s.mem != nil {
		return s.mem[off : off+int64(n)]
	}
	for i, p := range s.pinned {
		if s.pinBuf[i] != nil && off >= p.Off && off+int64(n) <= p.End {
			return s.pinBuf[i][off-p.Off : off-p.Off+int64(n)]
		}
	}
	po := off &^ (pageSize - 1)
	if off+int64(n) <= po+pageSize {
		pg := s.page(po)
		if pg == nil {
			return nil
		}
		lo := int(off - po)
		hi := lo + n
		if hi > pg.n {
			hi = pg.n
		}
		if lo >= hi {
			return nil
		}
		return pg.buf[lo:hi]
	}
	// reads across pages go to a scratch buffer reused by the next such
	// read
	if cap(s.big) < n {
		s.big = s.alloc(n)
	}
	got := s.fetch(s.big[:n], off)
	return s.big[:got]
}

// window returns up to n bytes at off for a scan that does not keep them:
// the slice is valid until the next call of window. It saves allocating
// large buffers when the file is read through the ReaderAt.
func (s *source) window(off int64, n int) []byte {
	if off < 0 || n <= 0 || off >= s.size {
		return nil
	}
	if rem := s.size - off; int64(n) > rem {
		n = int(rem)
	}
	if s.mem != nil {
		return s.mem[off : off+int64(n)]
	}
	if n <= pageSize {
		return s.bytes(off, n)
	}
	if cap(s.win) < n {
		s.win = s.alloc(n)
	}
	got := s.fetch(s.win[:n], off)
	return s.win[:got]
}

// copyBytes is bytes with a private copy.
func (s *source) copyBytes(off int64, n int) []byte {
	b := s.bytes(off, n)
	if b == nil {
		return nil
	}
	if s.mem != nil {
		return b
	}
	return append(s.alloc(len(b))[:0], b...)
}

func (s *source) page(po int64) *page {
	s.clock++
	var victim *page
	for i := range s.pages {
		pg := &s.pages[i]
		if pg.off == po {
			pg.used = s.clock
			return pg
		}
		if victim == nil || pg.used < victim.used {
			victim = pg
		}
	}
	if victim.buf == nil {
		victim.buf = s.alloc(pageSize)
	}
	n := pageSize
	if rem := s.size - po; rem < int64(n) {
		n = int(rem)
	}
	got := s.fetch(victim.buf[:n], po)
	if got == 0 {
		return nil
	}
	victim.off, victim.n, victim.used = po, got, s.clock
	return victim
}

// be32 reads a big-endian integer; ok is false when the bytes are not
// there.
func (s *source) be32(off int64) (uint32, bool) {
	b := s.bytes(off, 4)
	if len(b) < 4 {
		return 0, false
	}
	return be32(b), true
}

func be16(b []byte) uint16 { return uint16(b[0])<<8 | uint16(b[1]) }
func le16(b []byte) uint16 { return uint16(b[1])<<8 | uint16(b[0]) }
func be32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}
func le32(b []byte) uint32 {
	return uint32(b[3])<<24 | uint32(b[2])<<16 | uint32(b[1])<<8 | uint32(b[0])
}
func be64(b []byte) uint64 { return uint64(be32(b))<<32 | uint64(be32(b[4:])) }
func le64(b []byte) uint64 { return uint64(le32(b[4:]))<<32 | uint64(le32(b)) }
