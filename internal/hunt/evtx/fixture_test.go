package evtx

import (
	"encoding/binary"
	"hash/crc32"
	"time"
	"unicode/utf16"
)

// This file writes small EVTX files from scratch, so that the decoder can
// be tested (and fuzzing seeded) without third-party samples. The layout
// follows [MS-EVEN6] and the libevtx documentation; only what the decoder
// needs is written (element data sizes and name hashes are left zero).

type fixtureRecord struct {
	id       uint64
	eventID  uint16
	time     time.Time
	provider string
	channel  string
	computer string
	user     string // TargetUserName
	ip       string // IpAddress
	logon    uint32 // LogonType
}

type binxml struct {
	chunk []byte // the whole chunk so far: offsets are chunk offsets
}

func (b *binxml) u8(v byte)    { b.chunk = append(b.chunk, v) }
func (b *binxml) u16(v uint16) { b.chunk = binary.LittleEndian.AppendUint16(b.chunk, v) }
func (b *binxml) u32(v uint32) { b.chunk = binary.LittleEndian.AppendUint32(b.chunk, v) }
func (b *binxml) u64(v uint64) { b.chunk = binary.LittleEndian.AppendUint64(b.chunk, v) }

func utf16le(s string) []byte {
	var out []byte
	for _, u := range utf16.Encode([]rune(s)) {
		out = binary.LittleEndian.AppendUint16(out, u)
	}
	return out
}

// name writes a name reference followed by the name itself, inline.
func (b *binxml) name(s string) {
	b.u32(uint32(len(b.chunk) + 4))
	b.u32(0) // next name offset
	b.u16(0) // hash
	b.u16(uint16(len([]rune(s))))
	b.chunk = append(b.chunk, utf16le(s)...)
	b.u16(0)
}

func (b *binxml) open(name string, attrs bool) {
	if attrs {
		b.u8(0x41)
	} else {
		b.u8(0x01)
	}
	b.u16(0xffff) // dependency id
	b.u32(0)      // data size
	b.name(name)
	if attrs {
		b.u32(0) // attribute list size
	}
}

func (b *binxml) attr(name string)        { b.u8(0x06); b.name(name) }
func (b *binxml) subst(id uint16, t byte) { b.u8(0x0e); b.u16(id); b.u8(t) }
func (b *binxml) text(s string) {
	b.u8(0x05)
	b.u8(0x01)
	b.u16(uint16(len([]rune(s))))
	b.chunk = append(b.chunk, utf16le(s)...)
}
func (b *binxml) closeStart() { b.u8(0x02) }
func (b *binxml) closeEmpty() { b.u8(0x03) }
func (b *binxml) end()        { b.u8(0x04) }
func (b *binxml) leaf(name string, id uint16, t byte) {
	b.open(name, false)
	b.closeStart()
	b.subst(id, t)
	b.end()
}

func (b *binxml) data(name string, id uint16, t byte) {
	b.open("Data", true)
	b.attr("Name")
	b.text(name)
	b.closeStart()
	b.subst(id, t)
	b.end()
}

// template writes the template body used by every fixture record.
func (b *binxml) template() {
	b.u8(0x0f)
	b.u8(1)
	b.u8(1)
	b.u8(0)
	b.open("Event", false)
	b.closeStart()
	b.open("System", false)
	b.closeStart()
	b.open("Provider", true)
	b.attr("Name")
	b.subst(0, typeString)
	b.closeEmpty()
	b.leaf("EventID", 1, typeUint16)
	b.open("TimeCreated", true)
	b.attr("SystemTime")
	b.subst(2, typeFileTime)
	b.closeEmpty()
	b.leaf("EventRecordID", 3, typeUint64)
	b.leaf("Channel", 4, typeString)
	b.leaf("Computer", 5, typeString)
	b.end() // System
	b.open("EventData", false)
	b.closeStart()
	b.data("TargetUserName", 6, typeString)
	b.data("IpAddress", 7, typeString)
	b.data("LogonType", 8, typeUint32)
	b.end() // EventData
	b.end() // Event
	b.u8(0x00)
}

func toFileTime(t time.Time) uint64 {
	return uint64(t.UnixNano()/100) + fileTimeEpochDelta
}

// buildEVTX returns a one-chunk EVTX file holding recs.
func buildEVTX(recs []fixtureRecord) []byte {
	b := &binxml{chunk: make([]byte, chunkHeaderSize)}
	templateOff := uint32(0)
	for _, r := range recs {
		start := len(b.chunk)
		b.u32(0x00002a2a)
		b.u32(0) // size, patched below
		b.u64(r.id)
		b.u64(toFileTime(r.time))
		b.u8(0x0f)
		b.u8(1)
		b.u8(1)
		b.u8(0)
		b.u8(0x0c)
		b.u8(0x01)
		b.u32(1) // template id
		if templateOff == 0 {
			templateOff = uint32(len(b.chunk) + 4)
			b.u32(templateOff)
			b.u32(0)                                       // next template
			b.chunk = append(b.chunk, make([]byte, 16)...) // GUID
			sizeAt := len(b.chunk)
			b.u32(0)
			bodyStart := len(b.chunk)
			b.template()
			binary.LittleEndian.PutUint32(b.chunk[sizeAt:], uint32(len(b.chunk)-bodyStart))
		} else {
			b.u32(templateOff)
		}
		vals := [][]byte{
			utf16le(r.provider),
			binary.LittleEndian.AppendUint16(nil, r.eventID),
			binary.LittleEndian.AppendUint64(nil, toFileTime(r.time)),
			binary.LittleEndian.AppendUint64(nil, r.id),
			utf16le(r.channel),
			utf16le(r.computer),
			utf16le(r.user),
			utf16le(r.ip),
			binary.LittleEndian.AppendUint32(nil, r.logon),
		}
		types := []byte{typeString, typeUint16, typeFileTime, typeUint64, typeString, typeString, typeString, typeString, typeUint32}
		b.u32(uint32(len(vals)))
		for i, v := range vals {
			b.u16(uint16(len(v)))
			b.u8(types[i])
			b.u8(0)
		}
		for _, v := range vals {
			b.chunk = append(b.chunk, v...)
		}
		b.u8(0x00) // end of fragment
		for (len(b.chunk)-start+4)%8 != 0 {
			b.u8(0)
		}
		size := uint32(len(b.chunk) - start + 4)
		b.u32(size)
		binary.LittleEndian.PutUint32(b.chunk[start+4:], size)
	}
	free := len(b.chunk)
	chunk := append(b.chunk, make([]byte, chunkSize-len(b.chunk))...)
	h := chunk[:chunkHeaderSize]
	copy(h, chunkMagic)
	if len(recs) > 0 {
		binary.LittleEndian.PutUint64(h[0x08:], 1)
		binary.LittleEndian.PutUint64(h[0x10:], uint64(len(recs)))
		binary.LittleEndian.PutUint64(h[0x18:], recs[0].id)
		binary.LittleEndian.PutUint64(h[0x20:], recs[len(recs)-1].id)
	}
	binary.LittleEndian.PutUint32(h[0x28:], 128)
	binary.LittleEndian.PutUint32(h[0x30:], uint32(free))
	binary.LittleEndian.PutUint32(h[0x34:], crc32.ChecksumIEEE(chunk[chunkHeaderSize:free]))
	sum := crc32.NewIEEE()
	sum.Write(h[:120])
	sum.Write(h[128:512])
	binary.LittleEndian.PutUint32(h[0x7c:], sum.Sum32())

	file := make([]byte, fileHeaderSize)
	copy(file, fileMagic)
	binary.LittleEndian.PutUint64(file[0x18:], uint64(len(recs)+1))
	binary.LittleEndian.PutUint32(file[0x20:], 128)
	binary.LittleEndian.PutUint16(file[0x24:], 1)
	binary.LittleEndian.PutUint16(file[0x26:], 3)
	binary.LittleEndian.PutUint16(file[0x28:], fileHeaderSize)
	binary.LittleEndian.PutUint16(file[0x2a:], 1)
	binary.LittleEndian.PutUint32(file[0x7c:], crc32.ChecksumIEEE(file[:120]))
	return append(file, chunk...)
}

// sampleRecords are the records of the fixture files: failed and
// successful logons, with a Japanese account name.
func sampleRecords() []fixtureRecord {
	t0 := time.Date(2024, 3, 1, 2, 3, 4, 500000000, time.UTC)
	var recs []fixtureRecord
	for i := 0; i < 6; i++ {
		r := fixtureRecord{
			id: uint64(100 + i), eventID: 4625, time: t0.Add(time.Duration(i) * time.Second),
			provider: "Microsoft-Windows-Security-Auditing", channel: "Security", computer: "FS01.corp.example",
			user: "administrator", ip: "203.0.113.7", logon: 3,
		}
		if i == 5 {
			r.eventID, r.user, r.logon = 4624, "山田太郎", 10
		}
		recs = append(recs, r)
	}
	return recs
}
