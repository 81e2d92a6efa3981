package yara

import "bytes"

// FileType names a file's type from its first bytes the way LOKI and THOR
// fill the "filetype" external variable, so that rules written for them
// (filetype == "EXE") work unchanged. Unknown content gives "".
func FileType(head []byte) string {
	for _, m := range magics {
		if bytes.HasPrefix(head, m.magic) {
			return m.kind
		}
	}
	return ""
}

var magics = []struct {
	magic []byte
	kind  string
}{
	{[]byte("MZ"), "EXE"},
	{[]byte("\x7fELF"), "ELF"},
	{[]byte("\xca\xfe\xba\xbe"), "MACH-O"},
	{[]byte("\xcf\xfa\xed\xfe"), "MACH-O"},
	{[]byte("\xce\xfa\xed\xfe"), "MACH-O"},
	{[]byte("PK\x03\x04"), "ZIP"},
	{[]byte("Rar!"), "RAR"},
	{[]byte("7z\xbc\xaf\x27\x1c"), "7Z"},
	{[]byte{0x1f, 0x8b}, "GZIP"},
	{[]byte("%PDF"), "PDF"},
	{[]byte("\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"), "MS-OFFICE"},
	{[]byte("{\\rtf"), "RTF"},
	{[]byte("\xff\xd8\xff"), "JPEG"},
	{[]byte("\x89PNG"), "PNG"},
	{[]byte("GIF8"), "GIF"},
	{[]byte("L\x00\x00\x00\x01\x14\x02\x00"), "LNK"},
	{[]byte("#!"), "SCRIPT"},
	{[]byte("<?php"), "PHP"},
	{[]byte("dex\n"), "DEX"},
	{[]byte("\xed\xab\xee\xdb"), "RPM"},
	{[]byte("!<arch>"), "DEB"},
}
