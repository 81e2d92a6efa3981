// Package judge tells the watch agent what a file's new content is: a
// format whose structure holds (a copy, an edit, a compressed archive), or
// random bytes where the name or the old content promised a format (what
// encryption leaves). The agent's scores depend on the difference, so the
// judgement is an interface: Damage plugs in scan's damage detector, and
// Entropy is a self-contained fallback. Notes recognises ransom notes with
// scan's YARA note rules.
//
// Only internal/watch imports it; it reads what it is given and writes
// nothing.
package judge

import (
	"context"
	"io"
	"path"
	"strings"
)

// Kind is what a file's content is.
type Kind int

// Kinds, from harmless to damaging.
const (
	// Unknown: the content could not be judged (too short, unreadable).
	Unknown Kind = iota
	// Plain: no known format and not random (text, logs, data).
	Plain
	// Intact: a known format whose structure holds.
	Intact
	// Container: a valid compressed or encrypted container (gzip, zip,
	// 7z, xz, zstd ...): random-looking by design, yet a format.
	Container
	// Random: random bytes of no known format, where nothing promised a
	// format (an unknown extension).
	Random
	// Damaged: random bytes where the name or the head promised a format:
	// what encryption by ransomware leaves, whole or in stripes.
	Damaged
)

func (k Kind) String() string {
	switch k {
	case Plain:
		return "plain"
	case Intact:
		return "intact"
	case Container:
		return "container"
	case Random:
		return "random"
	case Damaged:
		return "damaged"
	}
	return "unknown"
}

// MarshalText makes kinds readable in alerts.
func (k Kind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// Verdict is a judgement of one file's content.
type Verdict struct {
	Kind Kind `json:"kind"`
	// Format is the format found or expected ("docx", "gzip" ...).
	Format string `json:"format,omitempty"`
	// Protected is set for a password-protected container (an encrypted
	// zip or 7z): a format, but one only its key holder can read.
	Protected bool `json:"protected,omitempty"`
	// Reason is one line for people.
	Reason string `json:"reason,omitempty"`
}

// Judge judges content. Implementations must be safe for concurrent use
// and must bound what they read: the agent calls them on every settled
// file a process rewrites.
type Judge interface {
	Judge(ctx context.Context, r io.ReaderAt, size int64, name string) (Verdict, error)
}

// Func adapts a function to Judge.
type Func func(ctx context.Context, r io.ReaderAt, size int64, name string) (Verdict, error)

// Judge calls f.
func (f Func) Judge(ctx context.Context, r io.ReaderAt, size int64, name string) (Verdict, error) {
	return f(ctx, r, size, name)
}

// formatExts maps extensions to the format they promise.
var formatExts = map[string]string{
	"doc": "ole", "xls": "ole", "ppt": "ole", "msg": "ole", "docx": "zip", "xlsx": "zip", "pptx": "zip",
	"odt": "zip", "ods": "zip", "odp": "zip", "zip": "zip", "jar": "zip", "apk": "zip", "epub": "zip",
	"pdf": "pdf", "jpg": "jpeg", "jpeg": "jpeg", "png": "png", "gif": "gif", "tif": "tiff", "tiff": "tiff",
	"bmp": "bmp", "psd": "psd", "heic": "isobmff", "mp4": "isobmff", "m4v": "isobmff", "m4a": "isobmff",
	"mov": "isobmff", "3gp": "isobmff", "mxf": "mxf", "mkv": "matroska", "webm": "matroska", "avi": "riff",
	"wav": "riff", "webp": "riff", "mp3": "mp3", "flac": "flac", "ogg": "ogg", "7z": "7z", "rar": "rar",
	"gz": "gzip", "tgz": "gzip", "xz": "xz", "bz2": "bzip2", "zst": "zstd", "tar": "tar", "txt": "text",
	"csv": "text", "log": "text", "md": "text", "html": "text", "htm": "text", "xml": "text", "json": "text",
	"yaml": "text", "yml": "text", "ini": "text", "conf": "text", "sql": "text", "rtf": "text", "svg": "text",
	"sqlite": "sqlite", "db": "sqlite", "exe": "pe", "dll": "pe", "iso": "iso", "vmdk": "vmdk", "ai": "pdf",
	"dwg": "dwg", "r3d": "r3d", "braw": "braw", "dpx": "dpx", "exr": "exr", "cr2": "tiff", "nef": "tiff",
	"dng": "tiff", "arw": "tiff",
}

// ExpectedFormat returns the format a file name promises: the format of
// its last known extension, also under an appended unknown one
// ("report.docx.lockbit" promises zip), "" when it promises none.
func ExpectedFormat(name string) string {
	base := strings.ToLower(path.Base(name))
	for range 3 {
		ext := path.Ext(base)
		if ext == "" {
			return ""
		}
		if f, ok := formatExts[ext[1:]]; ok {
			return f
		}
		base = strings.TrimSuffix(base, ext)
	}
	return ""
}

// KnownExtension reports whether ext (".docx", "docx") is one whose
// format the judge knows: a rename to an extension outside this list and
// a few benign suffixes is a rename to a new extension.
func KnownExtension(ext string) bool {
	ext = strings.ToLower(strings.TrimPrefix(ext, "."))
	if _, ok := formatExts[ext]; ok {
		return true
	}
	switch ext {
	case "bak", "old", "orig", "tmp", "temp", "part", "partial", "swp", "new", "save", "backup", "":
		return true
	}
	// rotated logs and numbered versions: .1, .2, .20240301
	return strings.Trim(ext, "0123456789") == ""
}
