package damage

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
)

// Synthetic fixtures for formats no tool on the build machine writes.
// They are small but structurally complete.

// plausibleCode returns n bytes that look like machine code (repeating
// instruction sequences, never uniform).
func plausibleCode(n int) []byte {
	pat := []byte{0x55, 0x48, 0x89, 0xe5, 0x48, 0x83, 0xec, 0x10, 0x89, 0x7d, 0xfc, 0x8b, 0x45, 0xfc,
		0x83, 0xc0, 0x01, 0xc9, 0xc3, 0x0f, 0x1f, 0x44, 0x00, 0x00, 0xe8, 0x00, 0x00, 0x00, 0x00}
	out := make([]byte, n)
	for i := range out {
		out[i] = pat[(i*7+i/29)%len(pat)] + byte(i/977%3)
	}
	return out
}

// synthPE builds a PE32+ image with a 16 KiB code section and a data
// section.
func synthPE() []byte {
	const textSize, dataSize = 16 << 10, 512
	var b bytes.Buffer
	dos := make([]byte, 0x80)
	copy(dos, "MZ")
	binary.LittleEndian.PutUint32(dos[0x3c:], 0x80)
	b.Write(dos)
	b.WriteString("PE\x00\x00")
	coff := make([]byte, 20)
	binary.LittleEndian.PutUint16(coff[0:], 0x8664)
	binary.LittleEndian.PutUint16(coff[2:], 2)
	binary.LittleEndian.PutUint16(coff[16:], 240)
	binary.LittleEndian.PutUint16(coff[18:], 0x22)
	b.Write(coff)
	opt := make([]byte, 240)
	binary.LittleEndian.PutUint16(opt[0:], 0x20b)
	binary.LittleEndian.PutUint32(opt[108:], 16) // number of data directories
	b.Write(opt)
	sec := func(name string, vsize, va, rsize, rptr, ch uint32) {
		s := make([]byte, 40)
		copy(s, name)
		binary.LittleEndian.PutUint32(s[8:], vsize)
		binary.LittleEndian.PutUint32(s[12:], va)
		binary.LittleEndian.PutUint32(s[16:], rsize)
		binary.LittleEndian.PutUint32(s[20:], rptr)
		binary.LittleEndian.PutUint32(s[36:], ch)
		b.Write(s)
	}
	sec(".text", textSize, 0x1000, textSize, 0x400, 0x60000020)
	sec(".data", dataSize, 0x1000+textSize, dataSize, 0x400+textSize, 0xc0000040)
	for b.Len() < 0x400 {
		b.WriteByte(0)
	}
	b.Write(plausibleCode(textSize))
	b.Write(bytes.Repeat([]byte("data\x00\x01"), dataSize/6+1)[:dataSize])
	return b.Bytes()
}

// synthCFB builds an OLE2 compound file with one FAT sector, one
// directory sector and a 14-sector stream.
func synthCFB() []byte {
	const ss = 512
	const nData = 14
	h := make([]byte, ss)
	copy(h, cfbMagic)
	binary.LittleEndian.PutUint16(h[24:], 0x3e)
	binary.LittleEndian.PutUint16(h[26:], 3)
	binary.LittleEndian.PutUint16(h[28:], 0xfffe)
	binary.LittleEndian.PutUint16(h[30:], 9)
	binary.LittleEndian.PutUint16(h[32:], 6)
	binary.LittleEndian.PutUint32(h[44:], 1) // FAT sectors
	binary.LittleEndian.PutUint32(h[48:], 1) // first directory sector
	binary.LittleEndian.PutUint32(h[56:], 4096)
	binary.LittleEndian.PutUint32(h[60:], 0xfffffffe)
	binary.LittleEndian.PutUint32(h[68:], 0xfffffffe)
	for i := 0; i < 109; i++ {
		binary.LittleEndian.PutUint32(h[76+4*i:], 0xffffffff)
	}
	binary.LittleEndian.PutUint32(h[76:], 0) // sector 0 is the FAT
	fat := make([]byte, ss)
	for i := 0; i < ss/4; i++ {
		binary.LittleEndian.PutUint32(fat[4*i:], 0xffffffff)
	}
	binary.LittleEndian.PutUint32(fat[0:], 0xfffffffd)
	binary.LittleEndian.PutUint32(fat[4:], 0xfffffffe)
	for i := 2; i < 2+nData; i++ {
		next := uint32(i + 1)
		if i == 1+nData {
			next = 0xfffffffe
		}
		binary.LittleEndian.PutUint32(fat[4*i:], next)
	}
	dir := make([]byte, ss)
	name := []byte{'R', 0, 'o', 0, 'o', 0, 't', 0, ' ', 0, 'E', 0, 'n', 0, 't', 0, 'r', 0, 'y', 0}
	copy(dir, name)
	binary.LittleEndian.PutUint16(dir[64:], uint16(len(name)+2))
	dir[66], dir[67] = 5, 1
	binary.LittleEndian.PutUint32(dir[116:], 2)
	binary.LittleEndian.PutUint32(dir[120:], nData*ss)
	var b bytes.Buffer
	b.Write(h)
	b.Write(fat)
	b.Write(dir)
	b.Write(bytes.Repeat([]byte("WordDocument text body 0123456789 "), nData*ss/34+1)[:nData*ss])
	return b.Bytes()
}

func putVint(b *bytes.Buffer, v uint64) {
	for v >= 0x80 {
		b.WriteByte(byte(v) | 0x80)
		v >>= 7
	}
	b.WriteByte(byte(v))
}

// synthRAR5 builds a RAR 5 archive with one stored file.
func synthRAR5() []byte {
	var out bytes.Buffer
	out.WriteString("Rar!\x1a\x07\x01\x00")
	block := func(body []byte, data []byte) {
		var h bytes.Buffer
		putVint(&h, uint64(len(body)))
		h.Write(body)
		var c [4]byte
		binary.LittleEndian.PutUint32(c[:], crc32.ChecksumIEEE(h.Bytes()))
		out.Write(c[:])
		out.Write(h.Bytes())
		out.Write(data)
	}
	var main bytes.Buffer
	putVint(&main, 1) // main archive header
	putVint(&main, 0) // flags
	putVint(&main, 0) // archive flags
	block(main.Bytes(), nil)
	content := bytes.Repeat([]byte("stored file content, plain text line\n"), 300)
	var fh bytes.Buffer
	putVint(&fh, 2) // file header
	putVint(&fh, 2) // flags: data area present
	putVint(&fh, uint64(len(content)))
	putVint(&fh, 0) // file flags
	putVint(&fh, uint64(len(content)))
	putVint(&fh, 0x20) // attributes
	putVint(&fh, 0)    // compression: stored
	putVint(&fh, 1)    // host OS: Unix
	putVint(&fh, 8)
	fh.WriteString("file.txt")
	block(fh.Bytes(), content)
	var end bytes.Buffer
	putVint(&end, 5)
	putVint(&end, 0)
	putVint(&end, 0)
	block(end.Bytes(), nil)
	return out.Bytes()
}

// synthPSD builds an 8-bit RGB Photoshop file with raw planes.
func synthPSD() []byte {
	const w, h = 64, 64
	var b bytes.Buffer
	b.WriteString("8BPS")
	binary.Write(&b, binary.BigEndian, uint16(1))
	b.Write(make([]byte, 6))
	binary.Write(&b, binary.BigEndian, uint16(3))
	binary.Write(&b, binary.BigEndian, uint32(h))
	binary.Write(&b, binary.BigEndian, uint32(w))
	binary.Write(&b, binary.BigEndian, uint16(8))
	binary.Write(&b, binary.BigEndian, uint16(3))
	for i := 0; i < 3; i++ {
		binary.Write(&b, binary.BigEndian, uint32(0))
	}
	binary.Write(&b, binary.BigEndian, uint16(0))
	for c := 0; c < 3; c++ {
		for i := 0; i < w*h; i++ {
			b.WriteByte(byte((i%w)*3 + (i/w)*2 + c*40))
		}
	}
	return b.Bytes()
}

// synthEXR builds an uncompressed single-channel (half) scan-line OpenEXR.
func synthEXR() []byte {
	const w, h = 64, 64
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, uint32(20000630))
	binary.Write(&b, binary.LittleEndian, uint32(2))
	attr := func(name, typ string, val []byte) {
		b.WriteString(name + "\x00" + typ + "\x00")
		binary.Write(&b, binary.LittleEndian, uint32(len(val)))
		b.Write(val)
	}
	var ch bytes.Buffer
	ch.WriteString("Y\x00")
	binary.Write(&ch, binary.LittleEndian, int32(1))
	ch.Write([]byte{0, 0, 0, 0})
	binary.Write(&ch, binary.LittleEndian, int32(1))
	binary.Write(&ch, binary.LittleEndian, int32(1))
	ch.WriteByte(0)
	attr("channels", "chlist", ch.Bytes())
	attr("compression", "compression", []byte{0})
	box := make([]byte, 16)
	binary.LittleEndian.PutUint32(box[8:], w-1)
	binary.LittleEndian.PutUint32(box[12:], h-1)
	attr("dataWindow", "box2i", box)
	attr("displayWindow", "box2i", box)
	attr("lineOrder", "lineOrder", []byte{0})
	attr("pixelAspectRatio", "float", []byte{0, 0, 0x80, 0x3f})
	attr("screenWindowCenter", "v2f", make([]byte, 8))
	attr("screenWindowWidth", "float", []byte{0, 0, 0x80, 0x3f})
	b.WriteByte(0)
	table := b.Len()
	b.Write(make([]byte, 8*h))
	for y := 0; y < h; y++ {
		binary.LittleEndian.PutUint64(b.Bytes()[table+8*y:], uint64(b.Len()))
		binary.Write(&b, binary.LittleEndian, int32(y))
		binary.Write(&b, binary.LittleEndian, int32(2*w))
		for x := 0; x < w; x++ {
			binary.Write(&b, binary.LittleEndian, uint16(0x3c00+x*4+y))
		}
	}
	return b.Bytes()
}
