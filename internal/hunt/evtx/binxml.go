package evtx

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// BinXML tokens ([MS-EVEN6] 2.2.12; libevtx documentation). Bit 0x40 on a
// token only says "more data follows" and is masked off.
const (
	tokEOF              = 0x00
	tokOpenStart        = 0x01
	tokCloseStart       = 0x02
	tokCloseEmpty       = 0x03
	tokEndElement       = 0x04
	tokValue            = 0x05
	tokAttribute        = 0x06
	tokCDATA            = 0x07
	tokCharRef          = 0x08
	tokEntityRef        = 0x09
	tokPITarget         = 0x0a
	tokPIData           = 0x0b
	tokTemplateInstance = 0x0c
	tokNormalSubst      = 0x0d
	tokOptionalSubst    = 0x0e
	tokFragmentHeader   = 0x0f
)

// Limits that keep a crafted chunk from costing unbounded time or memory.
const (
	maxNesting        = 8        // BinXML values nested inside substitution values
	maxTemplateOps    = 8192     // ops in one compiled template
	maxValues         = 4096     // substitution values of one template instance
	maxOpsPerRecord   = 1 << 17  // ops executed for one record, nesting included
	maxOpsPerChunk    = 1 << 21  // ops executed and template tokens compiled for one chunk
	maxRecordText     = 1 << 20  // rendered text of one record
	maxChunkText      = 16 << 20 // rendered text of one chunk
	maxElementDepth   = 64
	maxFieldsPerEvent = 1024
)

var (
	errShort   = errors.New("data ends inside a BinXML token")
	errBudget  = errors.New("record expands beyond the decoding budget")
	errNesting = errors.New("BinXML nested too deeply")
)

type opKind uint8

const (
	opStart opKind = iota
	opAttr
	opCloseStart
	opEnd
	opText
	opSubst
)

// op is one compiled BinXML token of a template body.
type op struct {
	kind opKind
	name string // element or attribute name; literal text for opText
	sub  uint16 // substitution index
	opt  bool   // optional substitution: absent when the value is null
}

// template is a compiled template definition.
type template struct {
	ops []op
	err error // compile error, cached so a bad template fails fast
}

// valueRef locates one substitution value inside the chunk.
type valueRef struct {
	typ byte
	off int
	n   int
}

// decoder holds the state for one chunk. It is reused chunk after chunk by
// one worker and is not safe for concurrent use.
type decoder struct {
	data      []byte // the chunk
	names     map[uint32]string
	templates map[uint32]*template
	ext       extractor
	ops       int // ops executed for the current record
	chunkOps  int // ops and compiled tokens for the current chunk
	panics    bool
	valPool   [][]valueRef
}

func newDecoder() *decoder {
	return &decoder{
		names:     make(map[uint32]string),
		templates: make(map[uint32]*template),
	}
}

func (d *decoder) reset(chunk []byte) {
	d.data = chunk
	d.ext.total = 0
	d.chunkOps = 0
	clear(d.names)
	clear(d.templates)
}

// cursor reads tokens in chunk coordinates between pos and end.
type cursor struct {
	data []byte
	pos  int
	end  int
}

func (c *cursor) u8() (byte, error) {
	if c.pos+1 > c.end {
		return 0, errShort
	}
	v := c.data[c.pos]
	c.pos++
	return v, nil
}

func (c *cursor) u16() (uint16, error) {
	if c.pos+2 > c.end {
		return 0, errShort
	}
	v := binary.LittleEndian.Uint16(c.data[c.pos:])
	c.pos += 2
	return v, nil
}

func (c *cursor) u32() (uint32, error) {
	if c.pos+4 > c.end {
		return 0, errShort
	}
	v := binary.LittleEndian.Uint32(c.data[c.pos:])
	c.pos += 4
	return v, nil
}

func (c *cursor) skip(n int) error {
	if n < 0 || c.pos+n > c.end {
		return errShort
	}
	c.pos += n
	return nil
}

// name reads a name reference. Names live in the chunk; when the offset
// points at the current position the name is stored inline and skipped.
func (d *decoder) name(c *cursor) (string, error) {
	off, err := c.u32()
	if err != nil {
		return "", err
	}
	if int(off) == c.pos {
		s, size, err := d.readName(off)
		if err != nil {
			return "", err
		}
		if err := c.skip(size); err != nil {
			return "", err
		}
		return s, nil
	}
	s, _, err := d.readName(off)
	return s, err
}

// readName decodes the name structure at off: next offset (4), hash (2),
// character count (2), UTF-16LE characters, NUL (2).
func (d *decoder) readName(off uint32) (string, int, error) {
	o := int(off)
	if o < 0 || o+8 > len(d.data) {
		return "", 0, fmt.Errorf("name offset %#x outside the chunk", off)
	}
	n := int(binary.LittleEndian.Uint16(d.data[o+6:]))
	if s, ok := d.names[off]; ok {
		return s, 8 + 2*n + 2, nil
	}
	if o+8+2*n > len(d.data) {
		return "", 0, fmt.Errorf("name at %#x runs past the chunk", off)
	}
	s := string(appendUTF16(nil, d.data[o+8:o+8+2*n]))
	d.names[off] = s
	return s, 8 + 2*n + 2, nil
}

// template returns the compiled template defined at off.
func (d *decoder) template(off uint32) (*template, error) {
	if t, ok := d.templates[off]; ok {
		return t, t.err
	}
	t := &template{}
	d.templates[off] = t
	o := int(off)
	if o < 0 || o+24 > len(d.data) {
		t.err = fmt.Errorf("template offset %#x outside the chunk", off)
		return t, t.err
	}
	size := int(binary.LittleEndian.Uint32(d.data[o+20:]))
	if size < 0 || o+24+size > len(d.data) {
		t.err = fmt.Errorf("template at %#x runs past the chunk", off)
		return t, t.err
	}
	c := cursor{data: d.data, pos: o + 24, end: o + 24 + size}
	t.ops, t.err = d.compile(&c)
	return t, t.err
}

// compile turns a template body into ops. Template bodies carry a
// dependency identifier in every element start.
func (d *decoder) compile(c *cursor) ([]op, error) {
	var ops []op
	for c.pos < c.end {
		if len(ops) > maxTemplateOps {
			return nil, errors.New("template has too many tokens")
		}
		if d.chunkOps++; d.chunkOps > maxOpsPerChunk {
			return nil, errBudget
		}
		tok, err := c.u8()
		if err != nil {
			return nil, err
		}
		switch tok & 0x3f {
		case tokEOF:
			return ops, nil
		case tokFragmentHeader:
			if err := c.skip(3); err != nil {
				return nil, err
			}
		case tokOpenStart:
			name, err := d.elementStart(c, tok, true)
			if err != nil {
				return nil, err
			}
			ops = append(ops, op{kind: opStart, name: name})
		case tokCloseStart:
			ops = append(ops, op{kind: opCloseStart})
		case tokCloseEmpty, tokEndElement:
			ops = append(ops, op{kind: opEnd})
		case tokAttribute:
			name, err := d.name(c)
			if err != nil {
				return nil, err
			}
			ops = append(ops, op{kind: opAttr, name: name})
		case tokValue, tokCDATA, tokCharRef, tokEntityRef, tokPITarget, tokPIData:
			s, err := d.text(c, tok&0x3f)
			if err != nil {
				return nil, err
			}
			if s != "" {
				ops = append(ops, op{kind: opText, name: s})
			}
		case tokNormalSubst, tokOptionalSubst:
			id, err := c.u16()
			if err != nil {
				return nil, err
			}
			if _, err := c.u8(); err != nil { // declared type; the instance's descriptor rules
				return nil, err
			}
			ops = append(ops, op{kind: opSubst, sub: id, opt: tok&0x3f == tokOptionalSubst})
		default:
			return nil, fmt.Errorf("unexpected BinXML token %#x in template", tok)
		}
	}
	return ops, nil
}

// elementStart reads an element start after its token byte.
func (d *decoder) elementStart(c *cursor, tok byte, dependency bool) (string, error) {
	if dependency {
		if err := c.skip(2); err != nil {
			return "", err
		}
	}
	if _, err := c.u32(); err != nil { // data size
		return "", err
	}
	name, err := d.name(c)
	if err != nil {
		return "", err
	}
	if tok&0x40 != 0 {
		if _, err := c.u32(); err != nil { // attribute list size
			return "", err
		}
	}
	return name, nil
}

// text reads the character data tokens and returns their text.
func (d *decoder) text(c *cursor, tok byte) (string, error) {
	switch tok {
	case tokValue:
		if _, err := c.u8(); err != nil { // value type, always string
			return "", err
		}
		fallthrough
	case tokCDATA, tokPIData:
		n, err := c.u16()
		if err != nil {
			return "", err
		}
		start := c.pos
		if err := c.skip(2 * int(n)); err != nil {
			return "", err
		}
		if tok == tokPIData {
			return "", nil
		}
		return string(appendUTF16(nil, c.data[start:c.pos])), nil
	case tokCharRef:
		v, err := c.u16()
		if err != nil {
			return "", err
		}
		return string(rune(v)), nil
	case tokEntityRef:
		name, err := d.name(c)
		if err != nil {
			return "", err
		}
		switch name {
		case "amp":
			return "&", nil
		case "lt":
			return "<", nil
		case "gt":
			return ">", nil
		case "quot":
			return `"`, nil
		case "apos":
			return "'", nil
		}
		return "&" + name + ";", nil
	case tokPITarget:
		_, err := d.name(c)
		return "", err
	}
	return "", nil
}

// stream decodes a BinXML fragment (a record body or a BinXML substitution
// value) into the extractor. Element starts outside templates carry no
// dependency identifier.
func (d *decoder) stream(c *cursor, depth int) error {
	if depth > maxNesting {
		return errNesting
	}
	for c.pos < c.end {
		tok, err := c.u8()
		if err != nil {
			return err
		}
		if err := d.tick(); err != nil {
			return err
		}
		switch tok & 0x3f {
		case tokEOF:
			return nil
		case tokFragmentHeader:
			if err := c.skip(3); err != nil {
				return err
			}
		case tokTemplateInstance:
			if err := d.instance(c, depth); err != nil {
				return err
			}
		case tokOpenStart:
			name, err := d.elementStart(c, tok, false)
			if err != nil {
				return err
			}
			if err := d.ext.start(name); err != nil {
				return err
			}
		case tokCloseStart:
			d.ext.closeStart()
		case tokCloseEmpty, tokEndElement:
			d.ext.end()
		case tokAttribute:
			name, err := d.name(c)
			if err != nil {
				return err
			}
			d.ext.attr(name)
		case tokValue, tokCDATA, tokCharRef, tokEntityRef, tokPITarget, tokPIData:
			s, err := d.text(c, tok&0x3f)
			if err != nil {
				return err
			}
			if err := d.ext.text(s); err != nil {
				return err
			}
		default:
			return fmt.Errorf("unexpected BinXML token %#x", tok)
		}
	}
	return nil
}

// instance decodes a template instance: the template reference, an inline
// definition when the chunk has not seen it yet, then the substitution
// values, and runs the template's ops over them.
func (d *decoder) instance(c *cursor, depth int) error {
	if err := c.skip(1); err != nil {
		return err
	}
	if _, err := c.u32(); err != nil { // template id
		return err
	}
	defOff, err := c.u32()
	if err != nil {
		return err
	}
	if int(defOff) == c.pos {
		// Inline definition: next offset (4), GUID (16), size (4), body.
		if c.pos+24 > c.end {
			return errShort
		}
		size := int(binary.LittleEndian.Uint32(c.data[c.pos+20:]))
		if err := c.skip(24 + size); err != nil {
			return err
		}
	}
	t, err := d.template(defOff)
	if err != nil {
		return fmt.Errorf("template at %#x: %w", defOff, err)
	}
	n, err := c.u32()
	if err != nil {
		return err
	}
	if n > maxValues {
		return fmt.Errorf("template instance declares %d values", n)
	}
	if c.pos+4*int(n) > c.end {
		return errShort
	}
	vals := d.values(depth, int(n))
	off := c.pos + 4*int(n)
	for i := range vals {
		size := int(binary.LittleEndian.Uint16(c.data[c.pos+4*i:]))
		vals[i] = valueRef{typ: c.data[c.pos+4*i+2], off: off, n: size}
		off += size
	}
	if off > c.end {
		return errShort
	}
	c.pos = off
	return d.run(t.ops, vals, depth)
}

// tick counts one decoding step against the record and chunk budgets.
func (d *decoder) tick() error {
	d.ops++
	d.chunkOps++
	if d.ops > maxOpsPerRecord || d.chunkOps > maxOpsPerChunk {
		return errBudget
	}
	return nil
}

// values returns a scratch slice for the substitution values at depth.
func (d *decoder) values(depth, n int) []valueRef {
	for len(d.valPool) <= depth {
		d.valPool = append(d.valPool, nil)
	}
	v := d.valPool[depth]
	if cap(v) < n {
		v = make([]valueRef, n)
	}
	v = v[:n]
	d.valPool[depth] = v
	return v
}

// run executes compiled template ops with their substitution values.
func (d *decoder) run(ops []op, vals []valueRef, depth int) error {
	for i := range ops {
		o := &ops[i]
		if err := d.tick(); err != nil {
			return err
		}
		switch o.kind {
		case opStart:
			if err := d.ext.start(o.name); err != nil {
				return err
			}
		case opAttr:
			d.ext.attr(o.name)
		case opCloseStart:
			d.ext.closeStart()
		case opEnd:
			d.ext.end()
		case opText:
			if err := d.ext.text(o.name); err != nil {
				return err
			}
		case opSubst:
			if int(o.sub) >= len(vals) {
				continue
			}
			v := vals[o.sub]
			if v.typ == typeNull || v.n == 0 {
				continue
			}
			if v.typ == typeBinXML {
				sub := cursor{data: d.data, pos: v.off, end: v.off + v.n}
				// The nested fragment uses the value scratch of deeper levels.
				if err := d.stream(&sub, depth+1); err != nil {
					return err
				}
				continue
			}
			if err := d.ext.value(v.typ, d.data[v.off:v.off+v.n]); err != nil {
				return err
			}
		}
	}
	return nil
}
