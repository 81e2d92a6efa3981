package evtx

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"

	"github.com/kintsugi-ir/kintsugi/internal/hunt"
)

const (
	fileHeaderSize  = 4096
	chunkSize       = 65536
	chunkHeaderSize = 512
	recordHeader    = 24
)

var (
	fileMagic   = []byte("ElfFile\x00")
	chunkMagic  = []byte("ElfChnk\x00")
	recordMagic = []byte{0x2a, 0x2a, 0x00, 0x00}
)

// chunkResult is what one chunk yielded.
type chunkResult struct {
	index      int
	events     []hunt.Event
	empty      bool // never written (all zero)
	bad        bool // header unusable; records were carved
	suspect    bool // checksum mismatch: records used, but altered or torn
	recordsBad int
	delivered  int // events passed to fn by the worker (Options.Concurrent)
	problems   []Problem
}

func (r *chunkResult) problem(off int64, format string, args ...any) {
	if len(r.problems) < maxProblems {
		r.problems = append(r.problems, Problem{Chunk: r.index, Offset: off, Reason: fmt.Sprintf(format, args...)})
	}
}

// decodeChunk decodes every readable record of one chunk. data may be
// shorter than a chunk when the file is truncated. base is the chunk's
// offset in the file, for problem reports. It never panics on bad input:
// a panic in the decoder is caught and reported as a lost chunk.
func (d *decoder) decodeChunk(index int, base int64, data []byte, source string) (res chunkResult) {
	res.index = index
	defer func() {
		if d.panics {
			return
		}
		if p := recover(); p != nil {
			res.bad = true
			res.problem(base, "decoder failure: %v", p)
		}
	}()
	if len(data) < chunkSize {
		res.problem(base, "chunk truncated to %d of %d bytes", len(data), chunkSize)
	}
	if len(data) < 8 {
		res.bad = true
		return res
	}
	headerOK := bytes.Equal(data[:8], chunkMagic)
	if !headerOK {
		if allZero(data) {
			res.empty = true
			res.problems = nil
			return res
		}
		res.bad = true
		res.problem(base, "chunk signature missing; records carved")
	}
	limit := len(data)
	if headerOK && len(data) >= chunkHeaderSize {
		h := data[:chunkHeaderSize]
		sum := crc32.NewIEEE()
		sum.Write(h[:120])
		sum.Write(h[128:512])
		if sum.Sum32() != binary.LittleEndian.Uint32(h[0x7c:]) {
			res.suspect = true
			res.problem(base, "chunk header checksum mismatch")
		}
		free := int(binary.LittleEndian.Uint32(h[0x30:]))
		if free >= chunkHeaderSize && free <= len(data) {
			limit = free
			if crc32.ChecksumIEEE(data[chunkHeaderSize:free]) != binary.LittleEndian.Uint32(h[0x34:]) {
				res.suspect = true
				res.problem(base, "event records checksum mismatch")
			}
		} else if free > len(data) && len(data) == chunkSize {
			res.suspect = true
			res.problem(base, "free space offset %#x outside the chunk", free)
		}
	}
	d.reset(data)
	// Typical records are a few hundred bytes.
	res.events = make([]hunt.Event, 0, 64)
	pos := chunkHeaderSize
	for pos+recordHeader+4 <= limit {
		if !bytes.Equal(data[pos:pos+4], recordMagic) {
			next := findRecord(data[:limit], pos+1)
			if next < 0 {
				if !allZero(data[pos:limit]) {
					res.recordsBad++
					res.problem(base+int64(pos), "%d bytes without a record signature", limit-pos)
				}
				break
			}
			res.recordsBad++
			res.problem(base+int64(pos), "%d bytes without a record signature skipped", next-pos)
			pos = next
			continue
		}
		size := int(binary.LittleEndian.Uint32(data[pos+4:]))
		if size < recordHeader+4 || pos+size > len(data) || binary.LittleEndian.Uint32(data[pos+size-4:]) != uint32(size) {
			res.recordsBad++
			res.problem(base+int64(pos), "record size %d inconsistent", size)
			next := findRecord(data[:limit], pos+4)
			if next < 0 {
				break
			}
			pos = next
			continue
		}
		res.events = append(res.events, hunt.Event{})
		ev := &res.events[len(res.events)-1]
		if err := d.record(ev, data[pos:pos+size], pos, source); err != nil {
			res.events = res.events[:len(res.events)-1]
			res.recordsBad++
			res.problem(base+int64(pos), "record %d: %v", binary.LittleEndian.Uint64(data[pos+8:]), err)
		}
		pos += size
	}
	return res
}

// record decodes one record (header included) at chunk offset pos.
func (d *decoder) record(ev *hunt.Event, rec []byte, pos int, source string) (err error) {
	d.ops = 0
	d.ext.begin(ev)
	c := cursor{data: d.data, pos: pos + recordHeader, end: pos + len(rec) - 4}
	if err := d.stream(&c, 0); err != nil {
		return err
	}
	d.ext.finish()
	ev.Source = source
	ev.RecordID = binary.LittleEndian.Uint64(rec[8:])
	if d.ext.hasID {
		ev.RecordID = d.ext.recordID
	}
	if ev.Time.IsZero() {
		ev.Time = fileTime(binary.LittleEndian.Uint64(rec[16:]))
	}
	if ev.Channel == "" && ev.EventID == 0 && len(ev.Fields) == 0 {
		return fmt.Errorf("no event content")
	}
	return nil
}

// findRecord returns the offset of the next record signature at or after
// from, or -1.
func findRecord(data []byte, from int) int {
	if from >= len(data) {
		return -1
	}
	i := bytes.Index(data[from:], recordMagic)
	if i < 0 {
		return -1
	}
	return from + i
}

func allZero(b []byte) bool {
	for len(b) >= 8 {
		if binary.LittleEndian.Uint64(b) != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
