package damage

// Executables: ELF and PE. Headers, program and section tables must point
// inside the file; machine code, symbol and string tables are raw (never
// uniformly random). Data appended after the last section (installer
// payloads, signatures) is legitimate and often compressed, so no tail is
// reported for them.

func sniffELF(h []byte) bool {
	return len(h) >= 64 && string(h[:4]) == "\x7fELF" && (h[4] == 1 || h[4] == 2) && (h[5] == 1 || h[5] == 2) && h[6] == 1
}

func validateELF(v *vctx) {
	h := v.s.copyBytes(0, 64)
	v.rep.format = "elf"
	if len(h) < 64 {
		return
	}
	is64 := h[4] == 2
	le := h[5] == 1
	u16 := func(b []byte) int64 {
		if le {
			return int64(le16(b))
		}
		return int64(be16(b))
	}
	u32 := func(b []byte) int64 {
		if le {
			return int64(le32(b))
		}
		return int64(be32(b))
	}
	u64 := func(b []byte) int64 {
		if le {
			return int64(le64(b))
		}
		return int64(be64(b))
	}
	var phoff, shoff, phent, phnum, shent, shnum int64
	if is64 {
		phoff, shoff = u64(h[32:]), u64(h[40:])
		phent, phnum, shent, shnum = u16(h[54:]), u16(h[56:]), u16(h[58:]), u16(h[60:])
	} else {
		phoff, shoff = u32(h[28:]), u32(h[32:])
		phent, phnum, shent, shnum = u16(h[42:]), u16(h[44:]), u16(h[46:]), u16(h[48:])
	}
	if phoff < 0 || shoff < 0 || phoff+phent*phnum > v.size || shoff+shent*shnum > v.size {
		v.fail(0, "elf-header", "program or section table outside the file")
		return
	}
	v.ok(0)
	v.rep.status = valid
	// a program header entry is 56 bytes in ELF64 and 32 in ELF32; a
	// table of smaller entries is not read (its fields would lie past
	// the entry)
	minPhent := int64(32)
	if is64 {
		minPhent = 56
	}
	for i := int64(0); i < phnum && i < 4096 && v.more(); i++ {
		p := v.s.bytes(phoff+i*phent, int(phent))
		if int64(len(p)) < phent || phent < minPhent {
			break
		}
		var off, fsz int64
		if is64 {
			off, fsz = u64(p[8:]), u64(p[32:])
		} else {
			off, fsz = u32(p[4:]), u32(p[16:])
		}
		if off < 0 || fsz < 0 || off+fsz > v.size {
			v.fail(phoff+i*phent, "elf-program-header", "segment outside the file")
			return
		}
		v.ok(phoff + i*phent)
	}
	for i := int64(0); i < shnum && i < 65536 && v.more(); i++ {
		s := v.s.bytes(shoff+i*shent, int(shent))
		if int64(len(s)) < shent || shent < 40 {
			break
		}
		typ := u32(s[4:])
		var flags, off, size int64
		if is64 {
			flags, off, size = u64(s[8:]), u64(s[24:]), u64(s[32:])
		} else {
			flags, off, size = u32(s[8:]), u32(s[16:]), u32(s[20:])
		}
		if typ > 19 && typ < 0x60000000 {
			v.fail(shoff+i*shent, "elf-section-header", "section of unknown type")
			return
		}
		if typ != 8 && (off < 0 || size < 0 || off+size > v.size) {
			v.fail(shoff+i*shent, "elf-section-header", "section outside the file")
			return
		}
		v.ok(shoff + i*shent)
		// code, symbols, strings, relocations
		if typ != 8 && (flags&4 != 0 || typ == 2 || typ == 3 || typ == 4 || typ == 9 || typ == 11) {
			v.raw(off, off+size)
		}
	}
	v.rep.end = v.size
}

func sniffPE(h []byte) bool {
	if len(h) < 64 || h[0] != 'M' || h[1] != 'Z' {
		return false
	}
	o := int(le32(h[60:]))
	return o > 0 && o+24 <= len(h) && string(h[o:o+4]) == "PE\x00\x00"
}

func validatePE(v *vctx) {
	h := v.s.copyBytes(0, 4096)
	v.rep.format = "pe"
	if len(h) < 64 {
		return
	}
	o := int64(le32(h[60:]))
	c := v.s.copyBytes(o, 24)
	if len(c) < 24 {
		return
	}
	nsec := int64(le16(c[6:]))
	opt := int64(le16(c[20:]))
	if nsec == 0 || nsec > 96 {
		v.fail(o+6, "pe-header", "section count out of range")
		return
	}
	v.ok(0)
	v.rep.status = valid
	st := o + 24 + opt
	for i := int64(0); i < nsec && v.more(); i++ {
		s := v.s.bytes(st+i*40, 40)
		if len(s) < 40 {
			v.fail(st+i*40, "pe-section", "section table cut short")
			return
		}
		rsize, rptr := int64(le32(s[16:])), int64(le32(s[20:]))
		ch := le32(s[36:])
		if rsize > 0 && rptr+rsize > v.size+4096 {
			v.fail(st+i*40, "pe-section", "section outside the file")
			return
		}
		v.ok(st + i*40)
		if ch&0x20 != 0 && rsize > 0 {
			v.raw(rptr, rptr+rsize)
		}
	}
	v.rep.end = v.size
}
