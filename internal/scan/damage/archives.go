package damage

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/flate"
	"hash/crc32"
	"io"

	"github.com/klauspost/compress/zstd"
)

// Archives and compressed streams. Their payload is random-looking by
// design, so only structure counts: signatures, header CRCs, the chain of
// local headers against the central directory, block headers, trailers.
// Where it is cheap enough (small members, full mode) the payload is also
// decompressed and its CRC checked, which catches damage anywhere in it.

// --- ZIP, OOXML, ODF, JAR -------------------------------------------------

func sniffZIP(h []byte) bool {
	if len(h) < 4 || h[0] != 'P' || h[1] != 'K' {
		return false
	}
	switch string(h[2:4]) {
	case "\x03\x04", "\x05\x06":
		return true
	case "\x07\x08", "00":
		// split archive marker
		return len(h) >= 8 && string(h[4:8]) == "PK\x03\x04"
	}
	return false
}

type zipEntry struct {
	name     []byte
	flags    uint16
	method   uint16
	crc      uint32
	csize    int64
	usize    int64
	lhOff    int64
	disk     uint32
	dataOff  int64
	cdOffset int64
}

func validateZIP(v *vctx) { zipWalk(v, false) }

// zipHeadless finds the end of central directory of a ZIP whose head is
// destroyed.
func zipHeadless(v *vctx) { zipWalk(v, true) }

func zipWalk(v *vctx, headless bool) {
	eocd, ok := zipFindEOCD(v)
	if !ok {
		if headless {
			return
		}
		// no central directory: walk the local headers to find where the
		// structure stops
		v.rep.status = valid
		zipLocalChain(v)
		return
	}
	v.rep.status = valid
	v.rep.headless = headless
	e := v.s.copyBytes(eocd, 22)
	if len(e) < 22 {
		v.rep.partial = true
		return
	}
	disk := uint32(le16(e[4:]))
	entries := int64(le16(e[10:]))
	cdSize := int64(le32(e[12:]))
	cdOff := int64(le32(e[16:]))
	clen := int64(le16(e[20:]))
	v.rep.end = eocd + 22 + clen
	if v.rep.end > v.size {
		v.rep.end = v.size
	}
	if entries == 0xffff || cdSize == 0xffffffff || cdOff == 0xffffffff {
		// ZIP64: the locator precedes the end record
		if l := v.s.bytes(eocd-20, 20); len(l) == 20 && string(l[:4]) == "PK\x06\x07" {
			z := int64(le64(l[8:]))
			if r := v.s.copyBytes(z, 56); len(r) == 56 && string(r[:4]) == "PK\x06\x06" {
				disk = le32(r[16:])
				entries = int64(le64(r[32:]))
				cdSize = int64(le64(r[40:]))
				cdOff = int64(le64(r[48:]))
			}
		}
	}
	v.ok(eocd)
	// archives with a prefix (self-extractors) shift every offset
	cdStart := eocd - cdSize
	if cdStart < 0 || cdSize < 0 {
		v.fail(eocd, "zip-eocd", "central directory size does not fit")
		return
	}
	base := cdStart - cdOff
	if cdSize > 64<<20 || entries > maxTableLen {
		v.rep.partial = true
		return
	}
	cd := v.s.copyBytes(cdStart, int(cdSize))
	var list []zipEntry
	for p := 0; p < len(cd) && int64(len(list)) < entries && v.more(); {
		if len(cd)-p < 46 || string(cd[p:p+4]) != "PK\x01\x02" {
			v.fail(cdStart+int64(p), "zip-central-directory", "central directory entry expected")
			break
		}
		c := cd[p:]
		n, m, k := int(le16(c[28:])), int(le16(c[30:])), int(le16(c[32:]))
		if 46+n+m+k > len(c) {
			v.fail(cdStart+int64(p), "zip-central-directory", "central directory entry runs past its end")
			break
		}
		en := zipEntry{
			name:     c[46 : 46+n],
			flags:    le16(c[8:]),
			method:   le16(c[10:]),
			crc:      le32(c[16:]),
			csize:    int64(le32(c[20:])),
			usize:    int64(le32(c[24:])),
			disk:     uint32(le16(c[34:])),
			lhOff:    int64(le32(c[42:])),
			cdOffset: cdStart + int64(p),
		}
		zip64Extra(c[46+n:46+n+m], &en)
		list = append(list, en)
		v.ok(cdStart + int64(p))
		p += 46 + n + m + k
	}
	for i := range list {
		if !v.more() {
			break
		}
		en := &list[i]
		if en.disk != disk {
			continue // member on another volume of a split archive
		}
		lh := base + en.lhOff
		h := v.s.bytes(lh, 30)
		if len(h) < 30 || string(h[:4]) != "PK\x03\x04" {
			v.fail(lh, "zip-local-header", "local file header expected where the central directory points")
			continue
		}
		n, m := int64(le16(h[26:])), int64(le16(h[28:]))
		name := v.s.bytes(lh+30, int(n))
		if !bytes.Equal(name, en.name) {
			v.fail(lh+30, "zip-local-header", "local file name differs from the central directory")
			continue
		}
		v.ok(lh)
		en.dataOff = lh + 30 + n + m
		zipCheckData(v, en)
	}
}

// zip64Extra reads 64-bit sizes and offset from the ZIP64 extra field.
func zip64Extra(x []byte, en *zipEntry) {
	for len(x) >= 4 {
		id, n := le16(x), int(le16(x[2:]))
		if 4+n > len(x) {
			return
		}
		if id == 1 {
			d := x[4 : 4+n]
			if en.usize == 0xffffffff && len(d) >= 8 {
				en.usize, d = int64(le64(d)), d[8:]
			}
			if en.csize == 0xffffffff && len(d) >= 8 {
				en.csize, d = int64(le64(d)), d[8:]
			}
			if en.lhOff == 0xffffffff && len(d) >= 8 {
				en.lhOff = int64(le64(d))
			}
			return
		}
		x = x[4+n:]
	}
}

// zipCheckData decompresses a member and checks its CRC, within the deep
// budget; encrypted members are left alone.
func zipCheckData(v *vctx, en *zipEntry) {
	if en.flags&1 != 0 || en.csize <= 0 || en.dataOff+en.csize > v.size {
		return
	}
	cost := int64(costCRC)
	if en.method == 8 {
		cost = costInflate
	}
	if en.method != 0 && en.method != 8 || !v.spend(en.csize, cost) {
		return
	}
	var r io.Reader = io.NewSectionReader(readerAtSource{v.s}, en.dataOff, en.csize)
	switch en.method {
	case 0:
	case 8:
		fr := flate.NewReader(bufio.NewReaderSize(r, 32<<10))
		defer fr.Close()
		r = fr
	default:
		return
	}
	h := crc32.NewIEEE()
	n, err := io.Copy(h, io.LimitReader(r, en.usize+1))
	if v.s.err != nil {
		return
	}
	if err != nil || n != en.usize || h.Sum32() != en.crc {
		if v.fail(en.dataOff, "zip-member-crc", "member data does not match its CRC") {
			v.setLen(en.dataOff, en.csize)
		}
		return
	}
	v.ok(en.dataOff)
}

// readerAtSource lets standard decoders read through the source.
type readerAtSource struct{ s *source }

func (r readerAtSource) ReadAt(p []byte, off int64) (int, error) {
	if off >= r.s.size {
		return 0, io.EOF
	}
	b := r.s.bytes(off, len(p))
	n := copy(p, b)
	if n < len(p) {
		if r.s.err != nil {
			return n, r.s.err
		}
		if !r.s.ok() {
			return n, errBudget
		}
		return n, io.EOF
	}
	return n, nil
}

// zipFindEOCD looks for the end of central directory record in the last
// 64 KiB + 22 bytes.
func zipFindEOCD(v *vctx) (int64, bool) {
	n := int64(65536 + 22)
	if n > v.size {
		n = v.size
	}
	start := v.size - n
	t := v.s.copyBytes(start, int(n))
	for i := len(t) - 22; i >= 0; i-- {
		j := bytes.LastIndex(t[:i+4], []byte("PK\x05\x06"))
		if j < 0 {
			break
		}
		i = j
		e := t[j:]
		if len(e) < 22 {
			continue
		}
		cdSize, cdOff := int64(le32(e[12:])), int64(le32(e[16:]))
		off := start + int64(j)
		if cdSize == 0xffffffff || cdOff == 0xffffffff || le16(e[10:]) == 0xffff {
			return off, true
		}
		if cdSize <= off && le16(e[8:]) <= le16(e[10:]) && le16(e[10:]) > 0 || cdSize == 0 && le16(e[10:]) == 0 {
			// the central directory must end where the record starts
			if c := v.s.bytes(off-cdSize, 4); cdSize == 0 || len(c) == 4 && string(c) == "PK\x01\x02" {
				return off, true
			}
		}
	}
	return 0, false
}

// zipLocalChain walks local headers from the start when no central
// directory exists (a damaged tail, a stream without one).
func zipLocalChain(v *vctx) {
	off := int64(0)
	for off < v.size && v.more() {
		h := v.s.bytes(off, 30)
		if len(h) < 30 || string(h[:4]) != "PK\x03\x04" {
			break
		}
		flags := le16(h[6:])
		cs := int64(le32(h[18:]))
		n, m := int64(le16(h[26:])), int64(le16(h[28:]))
		if flags&8 != 0 {
			// sizes follow the data: cannot walk further cheaply
			v.rep.partial = true
			return
		}
		v.ok(off)
		off += 30 + n + m + cs
	}
	if off < v.size {
		v.fail(off, "zip-local-header", "local file header or central directory expected")
	}
	v.rep.end = off
}

// --- gzip -----------------------------------------------------------------

func sniffGzip(h []byte) bool { return len(h) >= 10 && h[0] == 0x1f && h[1] == 0x8b && h[2] == 8 }

func validateGzip(v *vctx) {
	v.rep.status = valid
	off := int64(0)
	for member := 0; off < v.size && v.more(); member++ {
		h := v.s.bytes(off, 10)
		if len(h) < 10 || h[0] != 0x1f || h[1] != 0x8b || h[2] != 8 {
			if member == 0 {
				v.fail(off, "gzip-header", "gzip member header expected")
			}
			break // a tail after the last member
		}
		if h[3]&0xe0 != 0 {
			v.fail(off, "gzip-header", "reserved flag bits set")
			return
		}
		v.ok(off)
		limit := v.deep / costInflate
		if v.quick || limit <= 0 {
			v.rep.partial = true
			return
		}
		cr := &countReader{r: bufio.NewReaderSize(io.NewSectionReader(readerAtSource{v.s}, off, v.size-off), 64<<10)}
		end, err := gzipMember(cr, limit)
		v.deep -= cr.n * costInflate
		if v.s.err != nil {
			return
		}
		if err == errBudget {
			v.rep.partial = true
			return
		}
		if err != nil {
			at := off + cr.n - 1
			if at < off+10 {
				at = off + 10
			}
			v.fail(at, "gzip-stream", "deflate stream or trailer broken")
			v.rep.end = v.size
			return
		}
		off += end
		v.ok(off - 8)
	}
	v.rep.end = off
}

// countReader counts bytes consumed through ReadByte and Read, so that the
// end of a deflate stream is known exactly.
type countReader struct {
	r *bufio.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func (c *countReader) ReadByte() (byte, error) {
	b, err := c.r.ReadByte()
	if err == nil {
		c.n++
	}
	return b, err
}

// gzipMember decodes one member, checks its trailer, and returns its
// length. It gives up with errBudget after limit input bytes.
func gzipMember(cr *countReader, limit int64) (int64, error) {
	var hdr [10]byte
	if _, err := io.ReadFull(cr, hdr[:]); err != nil {
		return 0, err
	}
	flg := hdr[3]
	if flg&4 != 0 {
		var x [2]byte
		if _, err := io.ReadFull(cr, x[:]); err != nil {
			return 0, err
		}
		if _, err := io.CopyN(io.Discard, cr, int64(le16(x[:]))); err != nil {
			return 0, err
		}
	}
	for _, bit := range []byte{8, 16} {
		if flg&bit != 0 {
			for {
				b, err := cr.ReadByte()
				if err != nil {
					return 0, err
				}
				if b == 0 {
					break
				}
			}
		}
	}
	if flg&2 != 0 {
		if _, err := io.CopyN(io.Discard, cr, 2); err != nil {
			return 0, err
		}
	}
	fr := flate.NewReader(cr)
	h := crc32.NewIEEE()
	buf := make([]byte, 32<<10)
	var total int64
	for {
		if cr.n > limit {
			return 0, errBudget
		}
		n, err := fr.Read(buf)
		h.Write(buf[:n])
		total += int64(n)
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, err
		}
	}
	var tr [8]byte
	if _, err := io.ReadFull(cr, tr[:]); err != nil {
		return 0, err
	}
	if le32(tr[:]) != h.Sum32() || le32(tr[4:]) != uint32(total) {
		return 0, io.ErrUnexpectedEOF
	}
	return cr.n, nil
}

// --- xz -------------------------------------------------------------------

var xzMagic = []byte{0xfd, '7', 'z', 'X', 'Z', 0}

func sniffXZ(h []byte) bool { return len(h) >= 12 && bytes.Equal(h[:6], xzMagic) }

// validateXZ checks stream header and footer CRCs, the index CRC and every
// block header CRC the index leads to. Streams are walked from the end, as
// xz itself does.
func validateXZ(v *vctx) {
	h := v.s.bytes(0, 12)
	if len(h) < 12 {
		return
	}
	if crc32.ChecksumIEEE(h[6:8]) != le32(h[8:]) {
		v.fail(6, "xz-header", "stream header CRC mismatch")
		return
	}
	v.ok(0)
	v.rep.status = valid
	xzFromEnd(v, false)
}

func xzHeadless(v *vctx) { xzFromEnd(v, true) }

func xzFromEnd(v *vctx, headless bool) {
	end := v.size
	// stream padding: zeros in multiples of four
	for end >= 12 {
		z := v.s.bytes(end-4, 4)
		if !bytes.Equal(z, []byte{0, 0, 0, 0}) {
			break
		}
		end -= 4
	}
	f := v.s.copyBytes(end-12, 12)
	if len(f) < 12 || f[10] != 'Y' || f[11] != 'Z' {
		if headless {
			return
		}
		// the footer may be followed by a tail: look back a little
		t := v.s.copyBytes(maxInt64(0, v.size-65536), int(minInt64(v.size, 65536)))
		i := bytes.LastIndex(t, []byte("YZ"))
		found := false
		for ; i >= 10; i = bytes.LastIndex(t[:i], []byte("YZ")) {
			ft := t[i-10 : i+2]
			if crc32.ChecksumIEEE(ft[4:10]) == le32(ft) {
				end = maxInt64(0, v.size-65536) + int64(i) + 2
				f = append([]byte(nil), ft...)
				found = true
				break
			}
		}
		if !found {
			v.fail(v.size-12, "xz-footer", "stream footer expected at the end")
			return
		}
	}
	if crc32.ChecksumIEEE(f[4:10]) != le32(f) {
		if headless {
			return
		}
		v.fail(end-12, "xz-footer", "stream footer CRC mismatch")
		return
	}
	v.rep.status = valid
	v.rep.headless = headless
	v.rep.end = end
	v.ok(end - 12)
	back := (int64(le32(f[4:])) + 1) * 4
	idx := end - 12 - back
	if idx < 12 || back > 64<<20 {
		v.fail(end-12, "xz-footer", "index position out of range")
		return
	}
	ib := v.s.copyBytes(idx, int(back))
	if len(ib) < int(back) || ib[0] != 0 || crc32.ChecksumIEEE(ib[:back-4]) != le32(ib[back-4:]) {
		v.fail(idx, "xz-index", "index CRC mismatch")
		return
	}
	v.ok(idx)
	// records: unpadded size, uncompressed size
	p := 1
	n, k := uvarint(ib[p:])
	if k <= 0 {
		return
	}
	p += k
	blocks := idx
	var starts []int64
	var sizes []int64
	for i := uint64(0); i < n && i < maxProbes; i++ {
		unp, k1 := uvarint(ib[p:])
		if k1 <= 0 {
			return
		}
		_, k2 := uvarint(ib[p+k1:])
		if k2 <= 0 {
			return
		}
		p += k1 + k2
		sizes = append(sizes, int64((unp+3)&^3))
	}
	// blocks precede the index back to back
	var total int64
	for _, s := range sizes {
		total += s
	}
	off := blocks - total
	if off < 12 {
		v.fail(idx, "xz-index", "blocks do not fit before the index")
		return
	}
	for _, s := range sizes {
		starts = append(starts, off)
		off += s
	}
	for _, s := range starts {
		if !v.more() {
			return
		}
		bh := v.s.bytes(s, 1)
		if len(bh) < 1 || bh[0] == 0 {
			v.fail(s, "xz-block", "block header expected")
			continue
		}
		hs := (int(bh[0]) + 1) * 4
		b := v.s.bytes(s, hs)
		if len(b) < hs || crc32.ChecksumIEEE(b[:hs-4]) != le32(b[hs-4:]) {
			v.fail(s, "xz-block", "block header CRC mismatch")
			continue
		}
		v.ok(s)
	}
	if !headless && starts != nil && starts[0] != 12 {
		// another stream precedes this one: not followed further
		v.rep.partial = true
	}
}

func uvarint(b []byte) (uint64, int) {
	var x uint64
	for i := 0; i < len(b) && i < 9; i++ {
		x |= uint64(b[i]&0x7f) << (7 * i)
		if b[i] < 0x80 {
			return x, i + 1
		}
	}
	return 0, -1
}

func maxInt64(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

// --- bzip2 ----------------------------------------------------------------

func sniffBzip2(h []byte) bool {
	return len(h) >= 10 && h[0] == 'B' && h[1] == 'Z' && h[2] == 'h' && h[3] >= '1' && h[3] <= '9' &&
		(bytes.Equal(h[4:10], []byte{0x31, 0x41, 0x59, 0x26, 0x53, 0x59}) ||
			bytes.Equal(h[4:10], []byte{0x17, 0x72, 0x45, 0x38, 0x50, 0x90}))
}

// validateBzip2 decompresses within the deep budget: the block CRCs and
// the stream CRC then cover every byte.
func validateBzip2(v *vctx) {
	v.ok(0)
	v.rep.status = valid
	if !v.spend(v.size, costBzip2) {
		return
	}
	cr := &countReader{r: bufio.NewReaderSize(io.NewSectionReader(readerAtSource{v.s}, 0, v.size), 64<<10)}
	_, err := io.Copy(io.Discard, bzip2.NewReader(cr))
	if v.s.err != nil {
		return
	}
	if err == bzip2.StructuralError("bad magic value in continuation file") {
		// the stream ended and something else follows: a tail whose
		// start the decoder does not tell
		return
	}
	decodeFailed(v, err, cr.n, "bzip2-stream", "block data or CRC broken")
	if err == nil {
		v.rep.end = v.size
	}
}

// decodeFailed records a decoder failure. Compressed data looks random
// whether damaged or not, so the bytes cannot be judged; a stream that
// simply ends early is a truncated copy, anything else (a bad block, a
// checksum mismatch) is damage, located as near as the decoder's read
// position allows.
func decodeFailed(v *vctx, err error, consumed int64, check, detail string) {
	switch {
	case err == nil:
		return
	case err == io.ErrUnexpectedEOF || err == io.EOF:
		v.rep.corrupt++
		v.rep.note = "truncated"
		return
	}
	at := consumed - 128<<10
	if at < 0 {
		at = 0
	}
	v.brk(at, 0, check, detail+": "+err.Error())
}

// --- zstd -----------------------------------------------------------------

func sniffZstd(h []byte) bool {
	return len(h) >= 6 && (le32(h) == 0xfd2fb528 || le32(h)&0xfffffff0 == 0x184d2a50)
}

// validateZstd walks frames and their block headers: three bytes before
// every block (at most 128 KiB) say its type and size, so the walk covers
// the file densely without decoding.
func validateZstd(v *vctx) {
	v.rep.status = valid
	off := int64(0)
	for off < v.size && v.more() {
		h := v.s.bytes(off, 18)
		if len(h) < 8 {
			break
		}
		magic := le32(h)
		if magic&0xfffffff0 == 0x184d2a50 {
			// skippable frame
			off += 8 + int64(le32(h[4:]))
			v.ok(off)
			continue
		}
		if magic != 0xfd2fb528 {
			if off == 0 {
				v.fail(off, "zstd-frame", "frame magic expected")
			}
			break // tail
		}
		fd := h[4]
		if fd&0x08 != 0 {
			v.fail(off+4, "zstd-frame", "reserved bit set in frame header")
			return
		}
		v.ok(off)
		single := fd&0x20 != 0
		didSize := []int64{0, 1, 2, 4}[fd&3]
		fcsSize := []int64{0, 2, 4, 8}[fd>>6]
		if fd>>6 == 0 && single {
			fcsSize = 1
		}
		p := off + 5 + didSize + fcsSize
		if !single {
			p++
		}
		for p < v.size && v.more() {
			b := v.s.bytes(p, 3)
			if len(b) < 3 {
				v.fail(p, "zstd-block", "block header expected")
				return
			}
			bh := uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16
			last := bh&1 != 0
			typ := (bh >> 1) & 3
			size := int64(bh >> 3)
			switch typ {
			case 1:
				size = 1
			case 3:
				v.fail(p, "zstd-block", "reserved block type")
				return
			}
			if typ != 1 && size > 128<<10 || p+3+size > v.size {
				v.fail(p, "zstd-block", "block size out of range")
				return
			}
			v.ok(p)
			p += 3 + size
			if last {
				break
			}
		}
		if fd&4 != 0 {
			p += 4
		}
		off = p
	}
	if off > v.size {
		off = v.size
	}
	v.rep.end = off
	if v.rep.status == valid && v.spend(off, costZstd) {
		// decode: block contents and the content checksum cover every byte
		cr := &countReader{r: bufio.NewReaderSize(io.NewSectionReader(readerAtSource{v.s}, 0, off), 64<<10)}
		d, err := zstd.NewReader(cr, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxMemory(256<<20), zstd.WithDecoderMaxWindow(32<<20))
		if err != nil {
			return
		}
		defer d.Close()
		_, err = io.Copy(io.Discard, d)
		if v.s.err == nil {
			decodeFailed(v, err, cr.n, "zstd-block", "block data or checksum broken")
		}
	}
}

// --- 7z -------------------------------------------------------------------

var sevenZipMagic = []byte{'7', 'z', 0xbc, 0xaf, 0x27, 0x1c}

func sniff7z(h []byte) bool { return len(h) >= 32 && bytes.Equal(h[:6], sevenZipMagic) }

// validate7z checks the start header CRC and the CRC of the header at the
// end of the archive (encoded or encrypted alike). The packed streams in
// between are opaque.
func validate7z(v *vctx) {
	h := v.s.copyBytes(0, 32)
	if len(h) < 32 {
		return
	}
	if crc32.ChecksumIEEE(h[12:32]) != le32(h[8:]) {
		v.fail(8, "7z-start-header", "start header CRC mismatch")
		return
	}
	v.ok(0)
	v.rep.status = valid
	next := int64(le64(h[12:]))
	nsize := int64(le64(h[20:]))
	ncrc := le32(h[28:])
	if next == 0 && nsize == 0 {
		v.rep.end = 32
		return
	}
	at := 32 + next
	if next < 0 || nsize <= 0 || at+nsize > v.size || at+nsize < at {
		// a first volume of a multi-volume archive ends early
		v.rep.note = "next header beyond the end of the file"
		v.rep.partial = true
		v.rep.end = v.size
		return
	}
	v.rep.end = at + nsize
	if nsize > 64<<20 {
		v.rep.partial = true
		return
	}
	b := v.s.bytes(at, int(nsize))
	if int64(len(b)) < nsize {
		return
	}
	if crc32.ChecksumIEEE(b) != ncrc {
		v.fail(at, "7z-header", "archive header CRC mismatch")
		return
	}
	if b[0] != 0x01 && b[0] != 0x17 {
		v.fail(at, "7z-header", "archive header of unknown kind")
		return
	}
	v.ok(at)
}

// --- RAR ------------------------------------------------------------------

func sniffRAR(h []byte) bool {
	return len(h) >= 8 && string(h[:6]) == "Rar!\x1a\x07" && (h[6] == 0 || h[6] == 1 && h[7] == 0)
}

// validateRAR walks the block headers, each protected by a CRC.
func validateRAR(v *vctx) {
	h := v.s.bytes(0, 8)
	if len(h) < 8 {
		return
	}
	v.ok(0)
	v.rep.status = valid
	if h[6] == 1 {
		rar5(v)
	} else {
		rar4(v)
	}
}

func rar4(v *vctx) {
	off := int64(7)
	for off < v.size && v.more() {
		b := v.s.bytes(off, 11)
		if len(b) < 7 {
			break
		}
		typ := b[2]
		flags := le16(b[3:])
		hs := int64(le16(b[5:]))
		if hs < 7 || typ < 0x72 || typ > 0x7b {
			v.fail(off, "rar-block", "block header expected")
			return
		}
		hb := v.s.bytes(off, int(hs))
		if int64(len(hb)) < hs || uint16(crc32.ChecksumIEEE(hb[2:])) != le16(hb) && typ != 0x72 {
			v.fail(off, "rar-block", "block header CRC mismatch")
			return
		}
		v.ok(off)
		add := int64(0)
		if flags&0x8000 != 0 || typ == 0x74 {
			if len(b) >= 11 {
				add = int64(le32(b[7:]))
			}
		}
		if typ == 0x73 && flags&0x80 != 0 {
			// encrypted headers: nothing more to check
			v.rep.end = v.size
			return
		}
		off += hs + add
		if typ == 0x7b {
			break
		}
	}
	v.rep.end = off
}

func rar5(v *vctx) {
	off := int64(8)
	for off < v.size && v.more() {
		b := v.s.copyBytes(off, 4+3+3*10)
		if len(b) < 7 {
			break
		}
		hsize, k := uvarint(b[4:])
		if k <= 0 || hsize == 0 || hsize > 2<<20 {
			v.fail(off, "rar-block", "header size expected")
			return
		}
		hb := v.s.bytes(off+4, k+int(hsize))
		if len(hb) < k+int(hsize) || crc32.ChecksumIEEE(hb) != le32(b) {
			v.fail(off, "rar-block", "header CRC mismatch")
			return
		}
		v.ok(off)
		body := hb[k:]
		typ, k1 := uvarint(body)
		flags, k2 := uvarint(body[k1:])
		q := k1 + k2
		if flags&1 != 0 {
			_, k3 := uvarint(body[q:])
			q += k3
		}
		var data uint64
		if flags&2 != 0 {
			data, _ = uvarint(body[q:])
		}
		off += 4 + int64(k) + int64(hsize) + int64(data)
		if typ == 4 {
			// archive encryption header: the rest is ciphertext
			v.rep.end = v.size
			return
		}
		if typ == 5 {
			break
		}
	}
	v.rep.end = off
}

// --- tar ------------------------------------------------------------------

func sniffTar(h []byte) bool {
	return len(h) >= 512 && (string(h[257:262]) == "ustar") && tarSumOK(h[:512])
}

func tarSumOK(h []byte) bool {
	var sum int64
	for i, c := range h[:512] {
		if i >= 148 && i < 156 {
			c = ' '
		}
		sum += int64(c)
	}
	want, ok := octal(h[148:156])
	return ok && want == sum
}

func octal(b []byte) (int64, bool) {
	b = bytes.Trim(b, " \x00")
	if len(b) == 0 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '7' {
			return 0, false
		}
		n = n*8 + int64(c-'0')
	}
	return n, true
}

// validateTar walks the 512-byte headers; each carries a checksum.
func validateTar(v *vctx) {
	v.rep.status = valid
	off := int64(0)
	for off+512 <= v.size && v.more() {
		h := v.s.bytes(off, 512)
		if len(h) < 512 {
			break
		}
		if bytes.Count(h, []byte{0}) == 512 {
			// end of archive: zero blocks up to the record size, then
			// anything is a tail
			for off < v.size {
				z := v.s.bytes(off, 512)
				if len(z) == 0 || bytes.Count(z, []byte{0}) != len(z) {
					break
				}
				off += int64(len(z))
			}
			break
		}
		if !tarSumOK(h) {
			v.fail(off, "tar-header", "header checksum mismatch")
			return
		}
		v.ok(off)
		var size int64
		if h[124]&0x80 != 0 {
			for _, c := range h[125:136] {
				size = size<<8 | int64(c)
			}
		} else {
			size, _ = octal(h[124:136])
		}
		off += 512 + (size+511)&^511
	}
	if off > v.size {
		off = v.size
	}
	v.rep.end = off
}
