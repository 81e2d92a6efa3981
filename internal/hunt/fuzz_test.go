package hunt

import (
	"bytes"
	"compress/gzip"
	"io"
	"testing"
)

// FuzzDecompress feeds arbitrary bytes to the compression peeling that
// runs before format detection: no panic, and reading stays bounded.
func FuzzDecompress(f *testing.F) {
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write([]byte("Mar  3 23:58:09 web01 sshd[1]: Accepted password for root from 203.0.113.7 port 1 ssh2\n"))
	w.Close()
	f.Add(gz.Bytes())
	f.Add(gz.Bytes()[:gz.Len()/2])
	f.Add([]byte("BZh91AY&SY"))
	f.Add([]byte("\xfd7zXZ\x00\x00"))
	f.Add([]byte{0x28, 0xb5, 0x2f, 0xfd, 0x00})
	f.Add([]byte("ElfFile\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		src, head, _, _ := decompress(bytes.NewReader(b))
		if len(head) > SniffSize {
			t.Fatalf("head of %d bytes", len(head))
		}
		io.Copy(io.Discard, io.LimitReader(src, 1<<20))
	})
}
