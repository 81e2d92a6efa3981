package evtx

import (
	"encoding/binary"
	"math"
	"strconv"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// BinXML value types ([MS-EVEN6] 2.2.12).
const (
	typeNull       = 0x00
	typeString     = 0x01
	typeAnsiString = 0x02
	typeInt8       = 0x03
	typeUint8      = 0x04
	typeInt16      = 0x05
	typeUint16     = 0x06
	typeInt32      = 0x07
	typeUint32     = 0x08
	typeInt64      = 0x09
	typeUint64     = 0x0a
	typeReal32     = 0x0b
	typeReal64     = 0x0c
	typeBool       = 0x0d
	typeBinary     = 0x0e
	typeGUID       = 0x0f
	typeSizeT      = 0x10
	typeFileTime   = 0x11
	typeSysTime    = 0x12
	typeSID        = 0x13
	typeHexInt32   = 0x14
	typeHexInt64   = 0x15
	typeEvtHandle  = 0x20
	typeBinXML     = 0x21
	typeEvtXML     = 0x23
	typeArray      = 0x80
)

// fileTimeEpochDelta is the number of 100 ns intervals between 1601-01-01
// and 1970-01-01.
const fileTimeEpochDelta = 116444736000000000

// fileTime converts a Windows FILETIME to UTC.
func fileTime(v uint64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	d := int64(v) - fileTimeEpochDelta
	if v > math.MaxInt64 {
		return time.Time{}
	}
	return time.Unix(d/10000000, (d%10000000)*100).UTC()
}

// elemSize is the size of one element of a fixed-size value type, 0 for
// variable-size types.
func elemSize(t byte) int {
	switch t {
	case typeInt8, typeUint8:
		return 1
	case typeInt16, typeUint16:
		return 2
	case typeInt32, typeUint32, typeReal32, typeHexInt32, typeBool:
		return 4
	case typeInt64, typeUint64, typeReal64, typeHexInt64, typeFileTime:
		return 8
	case typeGUID, typeSysTime:
		return 16
	}
	return 0
}

// appendValue renders one value of type t held in b the way the Windows
// XML view does and appends it to dst.
func appendValue(dst []byte, t byte, b []byte) []byte {
	if t&typeArray != 0 {
		return appendArray(dst, t&^typeArray, b)
	}
	switch t {
	case typeNull:
		return dst
	case typeString:
		return appendUTF16(dst, b)
	case typeAnsiString:
		for len(b) > 0 && b[len(b)-1] == 0 {
			b = b[:len(b)-1]
		}
		return appendLatin1(dst, b)
	case typeInt8:
		if len(b) >= 1 {
			return strconv.AppendInt(dst, int64(int8(b[0])), 10)
		}
	case typeUint8:
		if len(b) >= 1 {
			return strconv.AppendUint(dst, uint64(b[0]), 10)
		}
	case typeInt16:
		if len(b) >= 2 {
			return strconv.AppendInt(dst, int64(int16(binary.LittleEndian.Uint16(b))), 10)
		}
	case typeUint16:
		if len(b) >= 2 {
			return strconv.AppendUint(dst, uint64(binary.LittleEndian.Uint16(b)), 10)
		}
	case typeInt32:
		if len(b) >= 4 {
			return strconv.AppendInt(dst, int64(int32(binary.LittleEndian.Uint32(b))), 10)
		}
	case typeUint32:
		if len(b) >= 4 {
			return strconv.AppendUint(dst, uint64(binary.LittleEndian.Uint32(b)), 10)
		}
	case typeInt64:
		if len(b) >= 8 {
			return strconv.AppendInt(dst, int64(binary.LittleEndian.Uint64(b)), 10)
		}
	case typeUint64:
		if len(b) >= 8 {
			return strconv.AppendUint(dst, binary.LittleEndian.Uint64(b), 10)
		}
	case typeReal32:
		if len(b) >= 4 {
			return strconv.AppendFloat(dst, float64(math.Float32frombits(binary.LittleEndian.Uint32(b))), 'g', -1, 32)
		}
	case typeReal64:
		if len(b) >= 8 {
			return strconv.AppendFloat(dst, math.Float64frombits(binary.LittleEndian.Uint64(b)), 'g', -1, 64)
		}
	case typeBool:
		v := false
		for _, c := range b {
			if c != 0 {
				v = true
			}
		}
		return strconv.AppendBool(dst, v)
	case typeBinary:
		return appendHexUpper(dst, b)
	case typeGUID:
		if len(b) >= 16 {
			return appendGUID(dst, b)
		}
	case typeSizeT, typeHexInt32, typeHexInt64:
		var v uint64
		switch {
		case len(b) >= 8:
			v = binary.LittleEndian.Uint64(b)
		case len(b) >= 4:
			v = uint64(binary.LittleEndian.Uint32(b))
		default:
			return dst
		}
		dst = append(dst, '0', 'x')
		return strconv.AppendUint(dst, v, 16)
	case typeFileTime:
		if len(b) >= 8 {
			t := fileTime(binary.LittleEndian.Uint64(b))
			if t.IsZero() {
				return dst
			}
			return t.AppendFormat(dst, time.RFC3339Nano)
		}
	case typeSysTime:
		if len(b) >= 16 {
			return sysTime(b).AppendFormat(dst, time.RFC3339Nano)
		}
	case typeSID:
		return appendSID(dst, b)
	case typeEvtXML:
		return appendUTF16(dst, b)
	default:
		// Unknown types are rendered as hex so nothing is lost.
		return appendHexUpper(dst, b)
	}
	return dst
}

// appendArray renders an array value as its elements separated by
// commas; string arrays are split on NUL.
func appendArray(dst []byte, t byte, b []byte) []byte {
	if t == typeString {
		first := true
		for _, s := range splitUTF16Z(b) {
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = appendUTF16(dst, s)
		}
		return dst
	}
	n := elemSize(t)
	if n == 0 {
		return appendHexUpper(dst, b)
	}
	for i := 0; i+n <= len(b); i += n {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendValue(dst, t, b[i:i+n])
	}
	return dst
}

// splitUTF16Z splits a UTF-16LE multi-string on NUL characters, dropping
// the empty tail.
func splitUTF16Z(b []byte) [][]byte {
	var out [][]byte
	start := 0
	for i := 0; i+1 < len(b); i += 2 {
		if b[i] == 0 && b[i+1] == 0 {
			if i > start {
				out = append(out, b[start:i])
			}
			start = i + 2
		}
	}
	if start+1 < len(b) {
		out = append(out, b[start:])
	}
	return out
}

func sysTime(b []byte) time.Time {
	u := func(i int) int { return int(binary.LittleEndian.Uint16(b[i:])) }
	return time.Date(u(0), time.Month(u(2)), u(6), u(8), u(10), u(12), u(14)*int(time.Millisecond), time.UTC)
}

// appendUTF16 decodes UTF-16LE, dropping trailing NULs; unpaired
// surrogates become U+FFFD.
func appendUTF16(dst []byte, b []byte) []byte {
	n := len(b) &^ 1
	for n >= 2 && b[n-1] == 0 && b[n-2] == 0 {
		n -= 2
	}
	for i := 0; i < n; i += 2 {
		c := uint16(b[i]) | uint16(b[i+1])<<8
		if c < utf8.RuneSelf {
			dst = append(dst, byte(c))
			continue
		}
		r := rune(c)
		if utf16.IsSurrogate(r) {
			if c < 0xdc00 && i+3 < n {
				c2 := uint16(b[i+2]) | uint16(b[i+3])<<8
				if p := utf16.DecodeRune(r, rune(c2)); p != utf8.RuneError {
					dst = utf8.AppendRune(dst, p)
					i += 2
					continue
				}
			}
			r = utf8.RuneError
		}
		dst = utf8.AppendRune(dst, r)
	}
	return dst
}

func appendLatin1(dst []byte, b []byte) []byte {
	for _, c := range b {
		if c < utf8.RuneSelf {
			dst = append(dst, c)
		} else {
			dst = utf8.AppendRune(dst, rune(c))
		}
	}
	return dst
}

const hexUpper = "0123456789ABCDEF"

func appendHexUpper(dst []byte, b []byte) []byte {
	for _, c := range b {
		dst = append(dst, hexUpper[c>>4], hexUpper[c&15])
	}
	return dst
}

func appendHexBE(dst []byte, v uint64, digits int) []byte {
	for i := digits - 1; i >= 0; i-- {
		dst = append(dst, hexUpper[(v>>(uint(i)*4))&15])
	}
	return dst
}

func appendGUID(dst []byte, b []byte) []byte {
	dst = append(dst, '{')
	dst = appendHexBE(dst, uint64(binary.LittleEndian.Uint32(b)), 8)
	dst = append(dst, '-')
	dst = appendHexBE(dst, uint64(binary.LittleEndian.Uint16(b[4:])), 4)
	dst = append(dst, '-')
	dst = appendHexBE(dst, uint64(binary.LittleEndian.Uint16(b[6:])), 4)
	dst = append(dst, '-')
	dst = appendHexUpper(dst, b[8:10])
	dst = append(dst, '-')
	dst = appendHexUpper(dst, b[10:16])
	return append(dst, '}')
}

// appendSID renders a binary SID as S-R-I-S-S...
func appendSID(dst []byte, b []byte) []byte {
	if len(b) < 8 {
		return appendHexUpper(dst, b)
	}
	n := int(b[1])
	if 8+4*n > len(b) {
		n = (len(b) - 8) / 4
	}
	var auth uint64
	for _, c := range b[2:8] {
		auth = auth<<8 | uint64(c)
	}
	dst = append(dst, 'S', '-')
	dst = strconv.AppendUint(dst, uint64(b[0]), 10)
	dst = append(dst, '-')
	dst = strconv.AppendUint(dst, auth, 10)
	for i := 0; i < n; i++ {
		dst = append(dst, '-')
		dst = strconv.AppendUint(dst, uint64(binary.LittleEndian.Uint32(b[8+4*i:])), 10)
	}
	return dst
}
