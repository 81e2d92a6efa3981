package hunt

import (
	"context"
	"io"
	"time"
)

// Format decodes one kind of log file into Events. The reader (Read) picks
// a Format by content, never by file name, and hands it the decompressed
// bytes. Formats are passed in by the caller (see Options.Formats) because
// the format packages (evtx, authlog) import this one.
type Format interface {
	// Name is a short stable name used in reports: "evtx", "syslog",
	// "journal", "jsonl".
	Name() string
	// Sniff reports whether head, the first bytes of the decompressed
	// content (up to SniffSize), looks like this format.
	Sniff(head []byte) bool
	// Decode reads in and calls emit for every record it can read. A
	// record that cannot be read is counted in the returned stats, with a
	// reason, and decoding goes on; an error means the rest of the file
	// could not be read (the stats still count what was read before).
	// emit may return an error to stop decoding (a cancelled run).
	Decode(ctx context.Context, in *Input, emit func(*Event) error) (DecodeStats, error)
}

// SniffSize is how many leading bytes Sniff sees: enough for an EVTX file
// header and the magic of the first chunk after it.
const SniffSize = 8192

// Input is one file's content as a Format sees it.
type Input struct {
	// Path is the file as found, for evidence (Event.Source). For a
	// compressed file it is the compressed file's path.
	Path string
	// R streams the decompressed content.
	R io.Reader
	// ReaderAt and Size give random access to the same content when it is
	// available (plain files, and compressed files spooled for formats
	// that need it, see RandomAccess).
	ReaderAt io.ReaderAt
	Size     int64
	// ModTime is the file's modification time.
	ModTime time.Time
	// YearRef is the latest time the file's records can carry: the
	// earlier of its modification time and the first record of the next
	// newer file of its rotation set. Year-less timestamps (RFC 3164) are
	// placed in the year that puts them at or before YearRef.
	YearRef time.Time
	// Location is the zone of timestamps that carry none.
	Location *time.Location
	// Host is the host attributed to the file from its folder or --host;
	// a record's own host name wins over it.
	Host string
}

// RandomAccess is implemented by formats that need Input.ReaderAt (EVTX).
// The reader then spools compressed content to memory or a temporary file
// before decoding.
type RandomAccess interface {
	RandomAccess() bool
}

// DecodeStats counts what a Format read from one file.
type DecodeStats struct {
	// Records is the number of records turned into Events.
	Records int64 `json:"records"`
	// Bad is the number of records (or chunks, or lines) that could not be
	// read; BadReason says why, for the first of them.
	Bad       int64  `json:"bad,omitempty"`
	BadReason string `json:"bad_reason,omitempty"`
	// Partial is the number of records kept with something missing (a
	// line without a timestamp, placed at the previous line's time; a
	// line cut at the length limit).
	Partial int64 `json:"partial,omitempty"`
	// Lost is a count of bytes that could not be attributed to any record
	// (a truncated tail, a damaged chunk), when the format can tell.
	LostBytes int64 `json:"lost_bytes,omitempty"`
}

// AddBad counts n unreadable records, keeping the first reason.
func (s *DecodeStats) AddBad(n int64, reason string) {
	s.Bad += n
	if s.BadReason == "" {
		s.BadReason = reason
	}
}
