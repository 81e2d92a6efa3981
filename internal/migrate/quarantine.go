package migrate

import (
	"archive/zip"
	"compress/flate"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"time"
	"unicode/utf8"

	"github.com/kintsugi-ir/kintsugi/internal/source"
)

// QuarantinePassword is the conventional password of malware archives:
// it keeps anti-virus software and curious double-clicks away from the
// file without hiding it from analysts.
const QuarantinePassword = "infected"

// quarantine keeps a refused file for analysts when --quarantine is set:
// a zip archive named after the file's SHA-256, encrypted with the
// traditional PKWARE cipher and the password "infected" (7-Zip, unzip and
// every malware lab open it), holding the file under its own name and a
// kintsugi-verdict.json with the path, verdict and findings. The file is
// read again for this; its hash is checked against the screened one.
func (m *Migrator) quarantine(ctx context.Context, ent source.Entry, e *Entry) {
	if m.cfg.Quarantine == "" || e.SHA256 == "" {
		return
	}
	name, err := writeQuarantine(ctx, m.cfg.Quarantine, ent, e)
	if err != nil {
		e.Notes = appendNote(e.Notes, "could not be quarantined: "+err.Error())
		m.cfg.Log.Warn("migrate: quarantine failed", "path", ent.Path, "err", err)
		return
	}
	e.Notes = appendNote(e.Notes, "kept in quarantine as "+name)
}

func writeQuarantine(ctx context.Context, dir string, ent source.Entry, e *Entry) (string, error) {
	in, _, err := source.Open(ent.Open, nil)
	if err != nil {
		return "", err
	}
	defer in.Close()
	name := e.SHA256 + ".zip"
	final := filepath.Join(dir, name)
	if _, err := os.Stat(final); err == nil {
		return name, nil // the same bytes are already kept
	}
	out, err := os.CreateTemp(dir, ".kintsugi-quarantine-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(out.Name())
	defer out.Close()
	zw := zip.NewWriter(out)
	now := time.Now().UTC()
	add := func(member string, r io.Reader) (string, error) {
		fh := &zip.FileHeader{Name: member, Method: zip.Deflate, Modified: now, NonUTF8: !utf8.ValidString(member)}
		fh.Flags |= 0x1 // encrypted
		fh.SetMode(0o600)
		check := byte(dosTime(now) >> 8)
		zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) {
			ew, err := newZipCrypto(w, QuarantinePassword, check)
			if err != nil {
				return nil, err
			}
			fw, err := flate.NewWriter(ew, flate.DefaultCompression)
			if err != nil {
				return nil, err
			}
			return fw, nil
		})
		w, err := zw.CreateHeader(fh)
		if err != nil {
			return "", err
		}
		h := sha256.New()
		if _, err := io.Copy(io.MultiWriter(w, h), r); err != nil {
			return "", err
		}
		return hex.EncodeToString(h.Sum(nil)), nil
	}
	got, err := add(filepath.Base(ent.Path), &ctxReader{ctx: ctx, r: in})
	if err != nil {
		return "", err
	}
	meta, _ := json.MarshalIndent(map[string]any{
		"path": ent.Path, "verdict": e.Verdict, "reason": e.Reason, "findings": e.Findings, "sha256": e.SHA256,
		"sha256_of_this_copy": got, "quarantined": now.Format(time.RFC3339),
	}, "", "  ")
	if _, err := add("kintsugi-verdict.json", bytesReader(meta)); err != nil {
		return "", err
	}
	if err := zw.Close(); err != nil {
		return "", err
	}
	if err := out.Sync(); err != nil {
		return "", err
	}
	if err := out.Close(); err != nil {
		return "", err
	}
	if got != e.SHA256 {
		name = got + ".zip"
		final = filepath.Join(dir, name)
	}
	if err := os.Rename(out.Name(), final); err != nil {
		return "", err
	}
	if got != e.SHA256 {
		return name, fmt.Errorf("the file changed after screening: the quarantined copy (%s) has SHA-256 %s", name, got)
	}
	return name, nil
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

type byteReader struct {
	b []byte
}

func bytesReader(b []byte) *byteReader { return &byteReader{b} }

func (r *byteReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

// dosTime is the MS-DOS time field archive/zip writes for t.
func dosTime(t time.Time) uint16 {
	return uint16(t.Hour()<<11 + t.Minute()<<5 + t.Second()>>1)
}

// zipCrypto encrypts with the traditional PKWARE stream cipher (APPNOTE
// 6.1). It is weak by design standards and used here only as a wrapper
// that keeps a refused file inert, not as protection.
type zipCrypto struct {
	w          io.Writer
	k0, k1, k2 uint32
	buf        []byte
	head       []byte // the encryption header, written before the first byte
}

func newZipCrypto(w io.Writer, password string, check byte) (*zipCrypto, error) {
	z := &zipCrypto{w: w, k0: 0x12345678, k1: 0x23456789, k2: 0x34567890}
	for i := 0; i < len(password); i++ {
		z.update(password[i])
	}
	head := make([]byte, 12)
	if _, err := rand.Read(head[:11]); err != nil {
		return nil, err
	}
	head[11] = check
	// archive/zip makes the compressor before it writes the local header:
	// the encryption header must wait for the first write.
	z.head = head
	return z, nil
}

func crcByte(crc uint32, b byte) uint32 { return crc32.IEEETable[byte(crc)^b] ^ crc>>8 }

func (z *zipCrypto) update(b byte) {
	z.k0 = crcByte(z.k0, b)
	z.k1 = (z.k1+z.k0&0xff)*134775813 + 1
	z.k2 = crcByte(z.k2, byte(z.k1>>24))
}

func (z *zipCrypto) stream() byte {
	t := uint16(z.k2 | 2)
	return byte((uint32(t) * uint32(t^1)) >> 8)
}

func (z *zipCrypto) Write(p []byte) (int, error) {
	z.buf = z.buf[:0]
	if z.head != nil {
		for _, b := range z.head {
			z.buf = append(z.buf, b^z.stream())
			z.update(b)
		}
		z.head = nil
	}
	for _, b := range p {
		z.buf = append(z.buf, b^z.stream())
		z.update(b)
	}
	if _, err := z.w.Write(z.buf); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (z *zipCrypto) Close() error { return nil }
