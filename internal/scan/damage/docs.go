package damage

import (
	"bytes"
	"compress/zlib"
	"io"
	"strconv"
)

// Documents and databases: PDF (header, startxref, cross-reference tables
// or streams, and every object they point at), SQLite (header, then every
// page's b-tree header or overflow pointer), OLE2 compound files (header,
// FAT sectors, directory).

// --- PDF ------------------------------------------------------------------

func sniffPDF(h []byte) bool {
	i := bytes.Index(h[:minInt(len(h), 1024)], []byte("%PDF-"))
	return i >= 0
}

func validatePDF(v *vctx) {
	v.rep.format = "pdf"
	v.rep.status = valid
	v.ok(0)
	pdfFromEnd(v, false)
}

func pdfHeadless(v *vctx) { pdfFromEnd(v, true) }

func pdfFromEnd(v *vctx, headless bool) {
	const window = 64 << 10
	start := maxInt64(0, v.size-window)
	t := v.s.copyBytes(start, int(v.size-start))
	i := bytes.LastIndex(t, []byte("startxref"))
	if i < 0 {
		if headless {
			return
		}
		v.fail(maxInt64(0, v.size-1024), "pdf-trailer", "startxref expected near the end")
		v.rep.end = v.size
		return
	}
	if headless {
		v.rep.status = valid
		v.rep.headless = true
	}
	// the logical end: after the %%EOF that follows startxref
	v.rep.end = v.size
	if j := bytes.Index(t[i:], []byte("%%EOF")); j >= 0 {
		e := i + j + 5
		for e < len(t) && (t[e] == '\r' || t[e] == '\n' || t[e] == ' ' || t[e] == 0) {
			e++
		}
		v.rep.end = start + int64(e)
	}
	num := bytes.Fields(t[i+9 : minInt(len(t), i+40)])
	if len(num) == 0 {
		v.fail(start+int64(i), "pdf-trailer", "startxref without an offset")
		return
	}
	x, err := strconv.ParseInt(string(num[0]), 10, 64)
	if err != nil || x <= 0 || x >= v.size {
		v.fail(start+int64(i), "pdf-trailer", "startxref offset out of range")
		return
	}
	v.ok(start + int64(i))
	seen := map[int64]bool{}
	var objs []int64
	for k := 0; x > 0 && !seen[x] && k < 64 && v.more(); k++ {
		seen[x] = true
		offs, prev, ok := pdfXref(v, x)
		if !ok {
			return
		}
		objs = append(objs, offs...)
		x = prev
	}
	step := 1
	if limit := v.budget / 2; limit > 0 && len(objs) > limit {
		step = len(objs)/limit + 1
	}
	if v.quick && len(objs) > 32 {
		step = len(objs) / 32
	}
	for k := 0; k < len(objs) && v.more(); k += step {
		o := objs[k]
		h := v.s.bytes(o, 32)
		if pdfObjHeader(h) {
			v.ok(o)
			continue
		}
		v.fail(o, "pdf-object", "cross-reference points at no object")
	}
}

// pdfObjHeader reports whether b starts with "N G obj" (after white space).
func pdfObjHeader(b []byte) bool {
	f := bytes.Fields(b)
	if len(f) < 2 {
		return false
	}
	if _, err := strconv.Atoi(string(f[0])); err != nil {
		return false
	}
	if len(f) >= 3 && bytes.HasPrefix(f[2], []byte("obj")) {
		_, err := strconv.Atoi(string(f[1]))
		return err == nil
	}
	// "1 0obj" and similar
	return bytes.HasPrefix(f[1], []byte("0obj")) || bytes.Contains(f[1], []byte("obj"))
}

// pdfXref reads the cross-reference section at x: a classic table or a
// cross-reference stream. It returns the in-use object offsets and the
// offset of the previous section.
func pdfXref(v *vctx, x int64) (offs []int64, prev int64, ok bool) {
	h := v.s.copyBytes(x, 64)
	if bytes.HasPrefix(bytes.TrimLeft(h, " \r\n\t"), []byte("xref")) {
		return pdfXrefTable(v, x)
	}
	if pdfObjHeader(h) {
		return pdfXrefStream(v, x)
	}
	v.fail(x, "pdf-xref", "cross-reference section expected at startxref")
	return nil, 0, false
}

func pdfXrefTable(v *vctx, x int64) (offs []int64, prev int64, ok bool) {
	const chunk = 1 << 20
	buf := v.s.copyBytes(x, chunk)
	p := bytes.Index(buf, []byte("xref")) + 4
	for v.more() {
		// skip white space
		for p < len(buf) && (buf[p] == ' ' || buf[p] == '\r' || buf[p] == '\n' || buf[p] == '\t') {
			p++
		}
		if p >= len(buf) {
			break
		}
		if bytes.HasPrefix(buf[p:], []byte("trailer")) {
			v.ok(x)
			tr := buf[p:minInt(len(buf), p+4096)]
			if i := bytes.Index(tr, []byte("/Prev")); i >= 0 {
				if f := bytes.Fields(tr[i+5:]); len(f) > 0 {
					prev, _ = strconv.ParseInt(string(bytes.TrimRight(f[0], "/>")), 10, 64)
				}
			}
			return offs, prev, true
		}
		// subsection header: start count
		e := bytes.IndexAny(buf[p:], "\r\n")
		if e < 0 {
			break
		}
		f := bytes.Fields(buf[p : p+e])
		if len(f) != 2 {
			v.fail(x+int64(p), "pdf-xref", "cross-reference subsection header expected")
			return nil, 0, false
		}
		cnt, err := strconv.Atoi(string(f[1]))
		if err != nil || cnt < 0 || cnt > maxTableLen {
			v.fail(x+int64(p), "pdf-xref", "cross-reference subsection header expected")
			return nil, 0, false
		}
		p += e
		for p < len(buf) && (buf[p] == '\r' || buf[p] == '\n') {
			p++
		}
		for k := 0; k < cnt; k++ {
			if p+18 > len(buf) {
				v.rep.partial = true
				return offs, 0, true
			}
			ent := buf[p : p+18]
			if ent[10] != ' ' || ent[16] != ' ' || ent[17] != 'n' && ent[17] != 'f' {
				v.fail(x+int64(p), "pdf-xref", "cross-reference entry malformed")
				return nil, 0, false
			}
			if ent[17] == 'n' {
				o, err := strconv.ParseInt(string(ent[:10]), 10, 64)
				if err == nil && o > 0 && o < v.size {
					offs = append(offs, o)
				}
			}
			p += 20
		}
	}
	return offs, 0, true
}

// pdfXrefStream decodes a cross-reference stream (PDF 1.5+).
func pdfXrefStream(v *vctx, x int64) (offs []int64, prev int64, ok bool) {
	head := v.s.copyBytes(x, 4096)
	si := bytes.Index(head, []byte("stream"))
	if si < 0 {
		v.fail(x, "pdf-xref", "cross-reference stream expected")
		return nil, 0, false
	}
	dict := head[:si]
	if !bytes.Contains(dict, []byte("/XRef")) {
		v.fail(x, "pdf-xref", "cross-reference stream expected")
		return nil, 0, false
	}
	w := pdfInts(dict, "/W")
	if len(w) != 3 || w[0] < 0 || w[1] < 0 || w[2] < 0 || w[0]+w[1]+w[2] == 0 || w[0]+w[1]+w[2] > 32 {
		v.fail(x, "pdf-xref", "cross-reference stream /W invalid")
		return nil, 0, false
	}
	if p := pdfInts(dict, "/Prev"); len(p) == 1 {
		prev = int64(p[0])
	}
	cols := 0
	pred := 1
	if c := pdfInts(dict, "/Columns"); len(c) == 1 {
		cols = c[0]
	}
	if c := pdfInts(dict, "/Predictor"); len(c) == 1 {
		pred = c[0]
	}
	ds := x + int64(si) + 6
	if b := v.s.bytes(ds, 2); len(b) >= 1 && b[0] == '\r' {
		ds++
	}
	if b := v.s.bytes(ds, 1); len(b) == 1 && b[0] == '\n' {
		ds++
	}
	n := int64(1 << 20)
	if l := pdfInts(dict, "/Length"); len(l) == 1 && !bytes.Contains(dict, []byte("R")) {
		n = int64(l[0])
	}
	n = minInt64(n, v.size-ds)
	var data []byte
	if bytes.Contains(dict, []byte("/FlateDecode")) {
		zr, err := zlib.NewReader(io.NewSectionReader(readerAtSource{v.s}, ds, n))
		if err != nil {
			v.fail(ds, "pdf-xref", "cross-reference stream does not decompress")
			return nil, 0, false
		}
		data, err = io.ReadAll(io.LimitReader(zr, 8<<20))
		if err != nil && err != io.ErrUnexpectedEOF && len(data) == 0 {
			v.fail(ds, "pdf-xref", "cross-reference stream does not decompress")
			return nil, 0, false
		}
	} else {
		data = v.s.copyBytes(ds, int(n))
	}
	rw := w[0] + w[1] + w[2]
	if pred >= 10 && cols == rw {
		// PNG predictors: one filter byte per row
		var out []byte
		prevRow := make([]byte, rw)
		for p := 0; p+rw+1 <= len(data); p += rw + 1 {
			row := append([]byte(nil), data[p+1:p+1+rw]...)
			if data[p] == 2 {
				for k := range row {
					row[k] += prevRow[k]
				}
			}
			out = append(out, row...)
			prevRow = row
		}
		data = out
	}
	v.ok(x)
	field := func(b []byte) int64 {
		var n int64
		for _, c := range b {
			n = n<<8 | int64(c)
		}
		return n
	}
	for p := 0; p+rw <= len(data); p += rw {
		typ := int64(1)
		if w[0] > 0 {
			typ = field(data[p : p+w[0]])
		}
		if typ == 1 {
			o := field(data[p+w[0] : p+w[0]+w[1]])
			if o > 0 && o < v.size {
				offs = append(offs, o)
			}
		}
	}
	return offs, prev, true
}

// pdfInts reads the integers after key in a dictionary ("/W [1 2 1]").
func pdfInts(dict []byte, key string) []int {
	i := bytes.Index(dict, []byte(key))
	if i < 0 {
		return nil
	}
	rest := dict[i+len(key):]
	if len(rest) > 0 && (rest[0] >= 'a' && rest[0] <= 'z' || rest[0] >= 'A' && rest[0] <= 'Z') {
		return nil // a longer key
	}
	rest = bytes.TrimLeft(rest, " \r\n\t")
	var out []int
	if len(rest) > 0 && rest[0] == '[' {
		end := bytes.IndexByte(rest, ']')
		if end < 0 {
			return nil
		}
		for _, f := range bytes.Fields(rest[1:end]) {
			n, err := strconv.Atoi(string(f))
			if err != nil {
				return nil
			}
			out = append(out, n)
		}
		return out
	}
	f := bytes.Fields(rest)
	if len(f) == 0 {
		return nil
	}
	s := bytes.TrimRight(f[0], "/>]")
	n, err := strconv.Atoi(string(s))
	if err != nil {
		return nil
	}
	return []int{n}
}

// --- SQLite ---------------------------------------------------------------

func sniffSQLite(h []byte) bool { return len(h) >= 100 && string(h[:16]) == "SQLite format 3\x00" }

func validateSQLite(v *vctx) {
	h := v.s.copyBytes(0, 100)
	v.rep.format = "sqlite"
	if len(h) < 100 {
		return
	}
	ps := int64(be16(h[16:]))
	if ps == 1 {
		ps = 65536
	}
	if ps < 512 || ps&(ps-1) != 0 || h[21] != 64 || h[22] != 32 || h[23] != 32 {
		v.fail(16, "sqlite-header", "database header fields invalid")
		return
	}
	v.ok(0)
	v.rep.status = valid
	usable := ps - int64(h[20])
	pages := int64(be32(h[28:]))
	if pages == 0 || be32(h[24:]) != be32(h[92:]) {
		pages = v.size / ps
	}
	v.rep.end = pages * ps
	if v.rep.end > v.size {
		v.rep.end = v.size
		pages = v.size / ps
	}
	step := int64(1)
	if limit := int64(v.budget / 2); limit > 0 && pages > limit {
		step = pages/limit + 1
	}
	if v.quick && pages > 64 {
		step = pages / 64
	}
	for pg := int64(1); pg <= pages && v.more(); pg += step {
		off := (pg - 1) * ps
		hdr := off
		if pg == 1 {
			hdr = 100
		}
		b := v.s.bytes(hdr, 12)
		if len(b) < 8 {
			break
		}
		if sqlitePageOK(b, hdr-off, usable, pages) {
			v.ok(off)
			continue
		}
		if v.fail(off, "sqlite-page", "page is neither a b-tree page nor a pointer page") {
			v.setLen(off, ps)
		}
	}
}

// sqlitePageOK checks a b-tree page header, or the next-page pointer that
// starts overflow and freelist trunk pages. Lock-byte and freelist leaf
// pages hold old data or zeros, never random bytes, and zeros pass.
func sqlitePageOK(b []byte, hdrAt, usable, pages int64) bool {
	switch b[0] {
	case 2, 5, 10, 13:
		free := int64(be16(b[1:]))
		cells := int64(be16(b[3:]))
		content := int64(be16(b[5:]))
		if content == 0 {
			content = 65536
		}
		hl := int64(8)
		if b[0] == 2 || b[0] == 5 {
			hl = 12
		}
		ok := (free == 0 || free >= hdrAt+hl && free < usable) &&
			cells*2+hdrAt+hl <= usable && content <= usable+1 && b[7] <= 60
		if ok && (b[0] == 2 || b[0] == 5) && len(b) >= 12 {
			ok = int64(be32(b[8:])) <= pages
		}
		if ok {
			return true
		}
	}
	return int64(be32(b)) <= pages
}

// --- OLE2 compound files (legacy Office, MSI, Thumbs.db) -------------------

var cfbMagic = []byte{0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1}

func sniffCFB(h []byte) bool { return len(h) >= 512 && bytes.Equal(h[:8], cfbMagic) }

// validateCFB checks the header, that every FAT sector it lists holds valid
// sector numbers, and that the directory chain holds directory entries.
func validateCFB(v *vctx) {
	h := v.s.copyBytes(0, 512)
	v.rep.format = "cfb"
	if len(h) < 512 {
		return
	}
	shift := le16(h[30:])
	if le16(h[28:]) != 0xfffe || shift != 9 && shift != 12 {
		v.fail(28, "cfb-header", "header fields invalid")
		return
	}
	v.ok(0)
	v.rep.status = valid
	ss := int64(1) << shift
	nsec := (v.size + ss - 1) / ss
	valid := func(n uint32) bool { return n >= 0xfffffffa || int64(n) < nsec }
	nfat := int64(le32(h[44:]))
	for i := int64(0); i < nfat && i < 109 && v.more(); i++ {
		s := le32(h[76+4*i:])
		if s >= 0xfffffffa {
			continue
		}
		off := (int64(s) + 1) * ss
		if off+ss > v.size {
			v.fail(76+4*i, "cfb-fat", "FAT sector outside the file")
			return
		}
		fat := v.s.bytes(off, int(ss))
		ok := true
		for p := 0; p+4 <= len(fat); p += 4 {
			if !valid(le32(fat[p:])) {
				ok = false
				break
			}
		}
		if ok {
			v.ok(off)
		} else if v.fail(off, "cfb-fat", "FAT sector holds invalid sector numbers") {
			v.setLen(off, ss)
		}
	}
	dir := le32(h[48:])
	if dir < 0xfffffffa {
		off := (int64(dir) + 1) * ss
		d := v.s.bytes(off, 128)
		if len(d) == 128 && le16(d[64:]) <= 64 && d[66] <= 5 && d[67] <= 1 {
			v.ok(off)
		} else {
			v.fail(off, "cfb-directory", "directory entry expected")
		}
	}
	v.rep.end = v.size
}
