//go:build cgo

package yara

import (
	goyara "github.com/hillu/go-yara/v4"
)

// headKeep is how much of the start of a streamed file stays in memory for
// rule conditions and modules (PE and ELF headers, magic numbers) that
// read at fixed offsets after the string scan. libyara fetches the block
// again for every such read and go-yara copies it each time, so it must
// stay small: with signature-base, a 4 MiB head made streamed scans three
// times slower than 256 KiB.
const headKeep = 256 << 10

// stream turns the engine's pushes (Write calls) into the pulls of a YARA
// memory-block iterator, so that a file too big for memory is scanned in
// one read: libyara runs on its own goroutine and asks for blocks; each
// pushed chunk becomes one block, prefixed with the end of the previous
// chunk so that strings match across block boundaries.
//
// After the string scan, conditions and modules may walk the blocks
// again; they then see the head (first 256 KiB) and the tail (last 256
// KiB) of the file. Offsets in between read as undefined, as in any YARA block scan.
type stream struct {
	size     int64
	in       chan []byte
	consumed chan struct{}
	done     chan streamResult
	result   *streamResult

	// iterator state, touched only by the scanning goroutine
	cur       []byte
	curBase   int64
	next      int64 // offset of the next pushed chunk
	prevTail  []byte
	head      []byte
	ended     bool
	condPhase int
}

type streamResult struct {
	c   *collector
	err error
}

func (e *exam) startStream(first []byte) (*stream, error) {
	s, c, err := e.prepare(first)
	if err != nil {
		return nil, err
	}
	if err := setFiletype(s.Scanner, first); err != nil {
		e.d.putScanner(s)
		return nil, err
	}
	st := &stream{
		size:     e.f.Size,
		in:       make(chan []byte),
		consumed: make(chan struct{}),
		done:     make(chan streamResult, 1),
	}
	go func() {
		err := s.ScanMemBlocks(st)
		if err != nil {
			err = scanError(err, e.timeout())
		}
		e.d.putScanner(s)
		st.done <- streamResult{c: c, err: err}
	}()
	return st, nil
}

// push hands one chunk to the scanning goroutine and waits until it has
// been copied, because the engine reuses the chunk's buffer.
func (st *stream) push(p []byte) (int, error) {
	if st.result != nil {
		return len(p), nil // the scan already ended; finish reports why
	}
	select {
	case st.in <- p:
	case r := <-st.done:
		st.result = &r
		return len(p), nil
	}
	select {
	case <-st.consumed:
	case r := <-st.done:
		st.result = &r
	}
	return len(p), nil
}

// finish ends the stream and waits for the verdict.
func (st *stream) finish() (*collector, error) {
	if st.result == nil {
		close(st.in)
		r := <-st.done
		st.result = &r
	}
	return st.result.c, st.result.err
}

// First implements goyara.MemoryBlockIterator.
func (st *stream) First() *goyara.MemoryBlock {
	if st.ended {
		st.condPhase = 0
		return st.condBlock()
	}
	return st.pull()
}

// Next implements goyara.MemoryBlockIterator.
func (st *stream) Next() *goyara.MemoryBlock {
	if st.ended {
		st.condPhase++
		return st.condBlock()
	}
	return st.pull()
}

// Filesize implements goyara.MemoryBlockIteratorWithFilesize.
func (st *stream) Filesize() uint64 { return uint64(st.size) }

func (st *stream) pull() *goyara.MemoryBlock {
	p, ok := <-st.in
	if !ok {
		st.ended = true
		return nil
	}
	st.cur = p
	st.curBase = st.next
	st.next += int64(len(p))
	pre := st.prevTail
	base := st.curBase - int64(len(pre))
	return &goyara.MemoryBlock{
		Base: uint64(base),
		Size: uint64(len(pre) + len(p)),
		FetchData: func(buf []byte) {
			n := copy(buf, pre)
			copy(buf[n:], st.cur)
			st.keep()
			st.consumed <- struct{}{}
		},
	}
}

// keep saves what later blocks and the condition phase need from the
// current chunk before its buffer goes back to the engine.
func (st *stream) keep() {
	if len(st.head) < headKeep && st.curBase < headKeep {
		want := min(int64(len(st.cur)), headKeep-st.curBase)
		st.head = append(st.head, st.cur[:want]...)
	}
	tail := st.cur
	if len(tail) >= overlap {
		st.prevTail = append(st.prevTail[:0], tail[len(tail)-overlap:]...)
	} else {
		// A short chunk: keep the end of the previous tail plus it.
		joined := append(append([]byte{}, st.prevTail...), tail...)
		if len(joined) > overlap {
			joined = joined[len(joined)-overlap:]
		}
		st.prevTail = joined
	}
}

// condBlock serves the head and the tail of the file after the string
// scan.
func (st *stream) condBlock() *goyara.MemoryBlock {
	var data []byte
	var base int64
	switch st.condPhase {
	case 0:
		data = st.head
	case 1:
		data = st.prevTail
		base = st.next - int64(len(data))
		if base < int64(len(st.head)) {
			return nil // the head already covers it
		}
	default:
		return nil
	}
	if len(data) == 0 {
		return nil
	}
	return &goyara.MemoryBlock{
		Base:      uint64(base),
		Size:      uint64(len(data)),
		FetchData: func(buf []byte) { copy(buf, data) },
	}
}
