// Package archive opens the containers a file server holds (zip and
// OOXML/ODF, tar, gzip, bzip2, xz, zstd, 7z, rar) and hands their members to
// the scan engine one at a time, so that members are screened like files.
// It only lists and decompresses; limits on depth, expansion and member
// counts are enforced by the caller through the readers it gets. Archives
// are attacker-made input: every error is returned, never a panic.
package archive

import (
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"github.com/bodgit/sevenzip"
	"github.com/klauspost/compress/zstd"
	"github.com/nwaples/rardecode/v2"
	"github.com/ulikunitz/xz"

	"archive/tar"
	"archive/zip"
)

// Format is a container format.
type Format string

// Known formats. None means "not a container".
const (
	None     Format = ""
	Zip      Format = "zip"
	Tar      Format = "tar"
	Gzip     Format = "gzip"
	Bzip2    Format = "bzip2"
	Xz       Format = "xz"
	Zstd     Format = "zstd"
	SevenZip Format = "7z"
	Rar      Format = "rar"
)

// ErrEncrypted means a member or the whole archive needs a password.
var ErrEncrypted = errors.New("encrypted: password required")

// ErrCorrupt wraps structural errors in an archive.
var ErrCorrupt = errors.New("corrupt archive")

// Detect names the container format of data from its first bytes (at
// least 512 for tar), or None.
func Detect(head []byte) Format {
	switch {
	case bytes.HasPrefix(head, []byte("PK\x03\x04")), bytes.HasPrefix(head, []byte("PK\x05\x06")):
		return Zip
	case bytes.HasPrefix(head, []byte("7z\xbc\xaf\x27\x1c")):
		return SevenZip
	case bytes.HasPrefix(head, []byte("Rar!\x1a\x07")):
		return Rar
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		return Gzip
	case bytes.HasPrefix(head, []byte("BZh")) && len(head) > 3 && head[3] >= '1' && head[3] <= '9':
		return Bzip2
	case bytes.HasPrefix(head, []byte("\xfd7zXZ\x00")):
		return Xz
	case bytes.HasPrefix(head, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return Zstd
	case len(head) >= 512 && isTarHeader(head[:512]):
		return Tar
	}
	return None
}

// isTarHeader checks the ustar magic or, for old v7 archives, the header
// checksum.
func isTarHeader(h []byte) bool {
	if bytes.Equal(h[257:262], []byte("ustar")) {
		return true
	}
	var sum, signed int64
	for i, b := range h {
		if i >= 148 && i < 156 {
			b = ' '
		}
		sum += int64(b)
		signed += int64(int8(b))
	}
	field := strings.TrimRight(strings.TrimLeft(string(h[148:156]), " \x00"), " \x00")
	if field == "" || h[0] == 0 {
		return false
	}
	var want int64
	if _, err := fmt.Sscanf(field, "%o", &want); err != nil {
		return false
	}
	return want == sum || want == signed
}

// Member is one entry of an archive.
type Member struct {
	// Name is the member's path inside the archive.
	Name string
	// Size is the declared uncompressed size, -1 when unknown. Never trust
	// it: count what Open's reader yields.
	Size int64
	// Packed is the declared compressed size, -1 when unknown.
	Packed  int64
	ModTime time.Time
	// Encrypted is set when the member needs a password; Open then fails
	// with ErrEncrypted.
	Encrypted bool
	// Open returns the member's content. It is valid only during the
	// callback that received the member.
	Open func() (io.ReadCloser, error)
}

// Walk calls fn for each regular member of the archive in r, in archive
// order. Directories and links inside archives are skipped. An error from
// fn stops the walk and is returned as is.
func Walk(ctx context.Context, f Format, r io.ReaderAt, size int64, name string, fn func(Member) error) error {
	switch f {
	case Zip:
		return walkZip(ctx, r, size, fn)
	case Tar:
		return walkTar(ctx, io.NewSectionReader(r, 0, size), fn)
	case Gzip, Bzip2, Xz, Zstd:
		return walkStream(f, r, size, name, fn)
	case SevenZip:
		return walk7z(ctx, r, size, fn)
	case Rar:
		return walkRar(ctx, io.NewSectionReader(r, 0, size), fn)
	}
	return fmt.Errorf("archive: unknown format %q", f)
}

func corrupt(err error) error {
	if errors.Is(err, ErrCorrupt) || errors.Is(err, ErrEncrypted) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrCorrupt, err)
}

func walkZip(ctx context.Context, r io.ReaderAt, size int64, fn func(Member) error) error {
	zr, err := zip.NewReader(r, size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return corrupt(err)
	}
	for _, zf := range zr.File {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if zf.FileInfo().IsDir() || !zf.Mode().IsRegular() && zf.Mode()&^0o777 != 0 {
			continue
		}
		enc := zf.Flags&0x1 != 0
		m := Member{
			Name: zf.Name, Size: int64(zf.UncompressedSize64), Packed: int64(zf.CompressedSize64),
			ModTime: zf.Modified, Encrypted: enc,
		}
		m.Open = func() (io.ReadCloser, error) {
			if enc {
				return nil, ErrEncrypted
			}
			rc, err := zf.Open()
			if err != nil {
				return nil, corrupt(err)
			}
			return wrapErrs(rc), nil
		}
		if err := fn(m); err != nil {
			return err
		}
	}
	return nil
}

func walkTar(ctx context.Context, r io.Reader, fn func(Member) error) error {
	tr := tar.NewReader(r)
	for {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return corrupt(err)
		}
		if h.Typeflag != tar.TypeReg && h.Typeflag != tar.TypeRegA && h.Typeflag != tar.TypeGNUSparse {
			continue
		}
		m := Member{Name: h.Name, Size: h.Size, Packed: h.Size, ModTime: h.ModTime}
		m.Open = func() (io.ReadCloser, error) { return io.NopCloser(wrapErrs(io.NopCloser(tr))), nil }
		if err := fn(m); err != nil {
			return err
		}
	}
}

// walkStream handles single-stream compressors: one member named after the
// file without its compression extension.
func walkStream(f Format, r io.ReaderAt, size int64, name string, fn func(Member) error) error {
	base := path.Base(strings.ReplaceAll(name, "\\", "/"))
	inner := strings.TrimSuffix(base, path.Ext(base))
	switch strings.ToLower(path.Ext(base)) {
	case ".tgz", ".tbz", ".tbz2", ".txz", ".tzst":
		inner += ".tar"
	}
	if inner == "" || inner == base {
		inner = base + ".out"
	}
	open := func() (io.ReadCloser, error) {
		sr := io.NewSectionReader(r, 0, size)
		var rc io.ReadCloser
		switch f {
		case Gzip:
			zr, err := gzip.NewReader(sr)
			if err != nil {
				return nil, corrupt(err)
			}
			if zr.Name != "" {
				inner = path.Base(zr.Name)
			}
			rc = zr
		case Bzip2:
			rc = io.NopCloser(bzip2.NewReader(sr))
		case Xz:
			xr, err := xz.NewReader(sr)
			if err != nil {
				return nil, corrupt(err)
			}
			rc = io.NopCloser(xr)
		case Zstd:
			zr, err := zstd.NewReader(sr, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(1<<30))
			if err != nil {
				return nil, corrupt(err)
			}
			rc = zr.IOReadCloser()
		}
		return wrapErrs(rc), nil
	}
	// Gzip names the member in its header: open once to learn it.
	if f == Gzip {
		if rc, err := open(); err == nil {
			rc.Close()
		}
	}
	return fn(Member{Name: inner, Size: -1, Packed: size, Open: open})
}

func walk7z(ctx context.Context, r io.ReaderAt, size int64, fn func(Member) error) error {
	zr, err := sevenzip.NewReader(r, size)
	if err != nil {
		var re *sevenzip.ReadError
		if errors.As(err, &re) && re.Encrypted {
			return fmt.Errorf("%w (headers encrypted)", ErrEncrypted)
		}
		return corrupt(err)
	}
	for _, zf := range zr.File {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if zf.FileInfo().IsDir() {
			continue
		}
		m := Member{Name: zf.Name, Size: int64(zf.UncompressedSize), Packed: -1, ModTime: zf.Modified}
		m.Open = func() (io.ReadCloser, error) {
			rc, err := zf.Open()
			if err != nil {
				return nil, sevenErr(err)
			}
			return sevenReader{rc}, nil
		}
		if err := fn(m); err != nil {
			return err
		}
	}
	return nil
}

type sevenReader struct{ io.ReadCloser }

func (s sevenReader) Read(p []byte) (int, error) {
	n, err := s.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		err = sevenErr(err)
	}
	return n, err
}

func sevenErr(err error) error {
	var re *sevenzip.ReadError
	if errors.As(err, &re) && re.Encrypted {
		return ErrEncrypted
	}
	return corrupt(err)
}

func walkRar(ctx context.Context, r io.Reader, fn func(Member) error) error {
	rr, err := rardecode.NewReader(r)
	if err != nil {
		return rarErr(err)
	}
	for {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		h, err := rr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return rarErr(err)
		}
		if h.IsDir || h.HostOS == 0xff {
			continue
		}
		m := Member{Name: h.Name, Size: h.UnPackedSize, Packed: h.PackedSize, ModTime: h.ModificationTime, Encrypted: h.Encrypted}
		if !h.UnKnownSize {
			m.Size = h.UnPackedSize
		} else {
			m.Size = -1
		}
		m.Open = func() (io.ReadCloser, error) {
			if h.Encrypted {
				return nil, ErrEncrypted
			}
			return rarReader{io.NopCloser(rr)}, nil
		}
		if err := fn(m); err != nil {
			return err
		}
	}
}

type rarReader struct{ io.ReadCloser }

func (r rarReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		err = rarErr(err)
	}
	return n, err
}

func rarErr(err error) error {
	if errors.Is(err, rardecode.ErrArchiveEncrypted) || errors.Is(err, rardecode.ErrArchivedFileEncrypted) || errors.Is(err, rardecode.ErrBadPassword) {
		return ErrEncrypted
	}
	if errors.Is(err, rardecode.ErrFileNameRequired) {
		return fmt.Errorf("%w: multi-volume archive: the other volumes are needed", ErrCorrupt)
	}
	return corrupt(err)
}

// wrapErrs marks decompression errors as corruption so callers can tell
// them from I/O errors of their own.
func wrapErrs(rc io.ReadCloser) io.ReadCloser { return errReader{rc} }

type errReader struct{ io.ReadCloser }

func (e errReader) Read(p []byte) (int, error) {
	n, err := e.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		err = corrupt(err)
	}
	return n, err
}
