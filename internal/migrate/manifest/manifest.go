// Package manifest reads and writes kintsugi's migration manifest: JSON
// Lines, one record per migrated, refused, failed or skipped file between a
// header and an end record, every line chained to the one before by its
// SHA-256, and the chain head signed with ed25519. An auditor checks it with
// Verify (kintsugi manifest verify) without trusting the machine that wrote
// it. The format is specified in docs/design/manifest.md. It imports no
// other kintsugi package but incident, so verifiers can reuse it.
package manifest

import (
	"bufio"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/kintsugi-ir/kintsugi/internal/incident"
)

// Format names this version of the manifest format.
const Format = "kintsugi-manifest/1"

// signaturePrefix separates manifest signatures from any other use of the
// key: the signed message is this prefix followed by the chain head.
const signaturePrefix = "kintsugi-manifest/1 chain head "

// Record types.
const (
	TypeHeader    = "header"
	TypeFile      = "file"
	TypeEnd       = "end"
	TypeSignature = "signature"
)

// File statuses.
const (
	StatusMigrated = "migrated"
	StatusRefused  = "refused"
	StatusFailed   = "failed"
	StatusSkipped  = "skipped"
)

// Header is the first record: what the job was and who signs it.
type Header struct {
	Type       string   `json:"type"`
	Format     string   `json:"format"`
	Job        int64    `json:"job"`
	Host       string   `json:"host,omitempty"`
	Source     string   `json:"source"`
	SourceB64  string   `json:"source_b64,omitempty"`
	Dest       string   `json:"dest"`
	RuleSet    string   `json:"ruleset"`
	Detectors  []string `json:"detectors"`
	YaraRules  int      `json:"yara_rules,omitempty"`
	Kintsugi   string   `json:"kintsugi"`
	Created    string   `json:"created"`
	Args       []string `json:"args,omitempty"`
	PublicKey  string   `json:"public_key"`
	KeyID      string   `json:"key_id"`
	VerifyNote string   `json:"verify_method,omitempty"`
}

// Mapping records a destination name that differs from the source name.
type Mapping struct {
	Reason string `json:"reason"`
}

// Verification is the result of reading the stored copy back.
type Verification struct {
	Result string `json:"result"` // ok, mismatch, error, not-done
	SHA256 string `json:"sha256,omitempty"`
	Method string `json:"method,omitempty"`
	At     string `json:"at,omitempty"`
	Error  string `json:"error,omitempty"`
}

// Record is one file of the job.
type Record struct {
	Type    string `json:"type"`
	Prev    string `json:"prev"`
	Seq     int64  `json:"seq"`
	Path    string `json:"path"`
	PathB64 string `json:"path_b64,omitempty"`
	Status  string `json:"status"`
	Size    int64  `json:"size"`
	MTime   string `json:"mtime,omitempty"`
	Mode    string `json:"mode,omitempty"`
	SHA256  string `json:"sha256,omitempty"`
	// Verdict and its evidence: what the screening said.
	Verdict  incident.Verdict   `json:"verdict,omitempty"`
	Reason   string             `json:"reason,omitempty"`
	Findings []incident.Finding `json:"findings,omitempty"`
	// FromScan: refused on an earlier scan's verdict of the unchanged
	// file, without being read again.
	FromScan  bool   `json:"from_scan,omitempty"`
	RuleSet   string `json:"ruleset,omitempty"`
	ScannedAt string `json:"scanned_at,omitempty"`
	// DestKey is the name at the destination (relative to it).
	DestKey    string        `json:"dest_key,omitempty"`
	DestKeyB64 string        `json:"dest_key_b64,omitempty"`
	Mapping    *Mapping      `json:"mapping,omitempty"`
	Verify     *Verification `json:"verify,omitempty"`
	Notes      []string      `json:"notes,omitempty"`
}

// SourcePath returns the exact bytes of the source path.
func (r *Record) SourcePath() (string, error) {
	if r.PathB64 == "" {
		return r.Path, nil
	}
	b, err := base64.StdEncoding.DecodeString(r.PathB64)
	return string(b), err
}

// Key returns the exact destination key.
func (r *Record) Key() (string, error) {
	if r.DestKeyB64 == "" {
		return r.DestKey, nil
	}
	b, err := base64.StdEncoding.DecodeString(r.DestKeyB64)
	return string(b), err
}

// SetPath fills Path (and PathB64 when the bytes are not UTF-8).
func (r *Record) SetPath(p string) { r.Path, r.PathB64 = textAndBytes(p) }

// SetDestKey fills DestKey (and DestKeyB64 when not UTF-8).
func (r *Record) SetDestKey(k string) { r.DestKey, r.DestKeyB64 = textAndBytes(k) }

func textAndBytes(s string) (string, string) {
	if utf8.ValidString(s) {
		return s, ""
	}
	return strings.ToValidUTF8(s, "\uFFFD"), base64.StdEncoding.EncodeToString([]byte(s))
}

// Counts sums the records by status.
type Counts struct {
	Migrated      int64 `json:"migrated"`
	MigratedBytes int64 `json:"migrated_bytes"`
	Refused       int64 `json:"refused"`
	RefusedBytes  int64 `json:"refused_bytes"`
	Failed        int64 `json:"failed"`
	Skipped       int64 `json:"skipped"`
}

func (c *Counts) add(r *Record) {
	switch r.Status {
	case StatusMigrated:
		c.Migrated++
		c.MigratedBytes += r.Size
	case StatusRefused:
		c.Refused++
		c.RefusedBytes += r.Size
	case StatusFailed:
		c.Failed++
	case StatusSkipped:
		c.Skipped++
	}
}

// End closes the chain: how many file records there were and what they
// add up to.
type End struct {
	Type     string `json:"type"`
	Prev     string `json:"prev"`
	Seq      int64  `json:"seq"`
	Records  int64  `json:"records"`
	Counts   Counts `json:"counts"`
	Finished string `json:"finished"`
	// Complete is false when the run ended before every file was
	// handled (interrupted or stopped by an error).
	Complete bool `json:"complete"`
}

// Signature is the last line: ed25519 over the chain head, which is the
// SHA-256 of the end record's line.
type Signature struct {
	Type      string `json:"type"`
	Prev      string `json:"prev"`
	Alg       string `json:"alg"`
	KeyID     string `json:"key_id"`
	Signature string `json:"signature"`
}

// lineHash is the chain link: hex SHA-256 of one line without its newline.
func lineHash(line []byte) string {
	h := sha256.Sum256(line)
	return hex.EncodeToString(h[:])
}

func signedMessage(head string) []byte { return []byte(signaturePrefix + head) }

// Writer writes a manifest. It is not safe for concurrent use.
type Writer struct {
	w      *bufio.Writer
	key    ed25519.PrivateKey
	prev   string
	seq    int64
	counts Counts
	err    error
}

// NewWriter writes the header and returns a Writer for the records. The
// header's public key and key id are filled in from key.
func NewWriter(w io.Writer, h Header, key ed25519.PrivateKey) (*Writer, error) {
	pub := key.Public().(ed25519.PublicKey)
	h.Type, h.Format, h.PublicKey, h.KeyID = TypeHeader, Format, MarshalPublicKey(pub), KeyID(pub)
	mw := &Writer{w: bufio.NewWriterSize(w, 1<<16), key: key}
	mw.line(h)
	return mw, mw.err
}

func (mw *Writer) line(v any) {
	if mw.err != nil {
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		mw.err = err
		return
	}
	if _, err := mw.w.Write(append(b, '\n')); err != nil {
		mw.err = err
		return
	}
	mw.prev = lineHash(b)
}

// Add appends one file record, filling in its type, sequence number and
// chain link.
func (mw *Writer) Add(r Record) error {
	mw.seq++
	r.Type, r.Prev, r.Seq = TypeFile, mw.prev, mw.seq
	mw.counts.add(&r)
	mw.line(r)
	return mw.err
}

// Counts returns the counts of the records added so far.
func (mw *Writer) Counts() Counts { return mw.counts }

// Close writes the end record and the signature and flushes. It does not
// close the underlying writer.
func (mw *Writer) Close(finished string, complete bool) error {
	mw.line(End{Type: TypeEnd, Prev: mw.prev, Seq: mw.seq + 1, Records: mw.seq, Counts: mw.counts, Finished: finished, Complete: complete})
	if mw.err != nil {
		return mw.err
	}
	head := mw.prev
	sig := ed25519.Sign(mw.key, signedMessage(head))
	pub := mw.key.Public().(ed25519.PublicKey)
	mw.line(Signature{Type: TypeSignature, Prev: head, Alg: "ed25519", KeyID: KeyID(pub), Signature: base64.StdEncoding.EncodeToString(sig)})
	if mw.err != nil {
		return mw.err
	}
	return mw.w.Flush()
}

// MaxLine bounds one manifest line when reading; longer lines are an error.
const MaxLine = 16 << 20

// Problem is one thing wrong with a manifest, at a line.
type Problem struct {
	Line   int64  `json:"line"`
	Reason string `json:"reason"`
}

func (p Problem) String() string { return fmt.Sprintf("line %d: %s", p.Line, p.Reason) }

// Report is what Verify found.
type Report struct {
	Header   Header
	End      End
	Records  int64
	Counts   Counts
	KeyID    string
	Signed   bool // the signature verified against the chain head
	Trusted  bool // ...and the key is the one the caller expected
	Problems []Problem
}

// OK reports whether the manifest is intact: chain, counts and signature
// all check out, and the key is trusted when the caller named one.
func (r *Report) OK() bool { return r.Signed && len(r.Problems) == 0 }

// ErrNotManifest is returned for input that is not a kintsugi manifest.
var ErrNotManifest = errors.New("not a kintsugi manifest")

// VerifyOptions tune Verify.
type VerifyOptions struct {
	// PublicKey, when set, must be the key that signed the manifest.
	PublicKey ed25519.PublicKey
	// Each, when set, is called with every file record whose chain link
	// checked out (for example to re-read the destination); an error is
	// recorded as a problem at that line.
	Each func(line int64, r *Record) error
	// MaxProblems stops listing problems after this many (default 50).
	MaxProblems int
}

// Verify reads a manifest and checks its chain, counts and signature. It
// returns an error only for input that cannot be read at all; everything
// wrong with a manifest is a Problem in the report.
func Verify(in io.Reader, opts VerifyOptions) (*Report, error) {
	if opts.MaxProblems <= 0 {
		opts.MaxProblems = 50
	}
	rep := &Report{}
	problem := func(line int64, format string, args ...any) {
		if len(rep.Problems) < opts.MaxProblems {
			rep.Problems = append(rep.Problems, Problem{Line: line, Reason: fmt.Sprintf(format, args...)})
		}
	}
	br := bufio.NewReaderSize(in, 1<<16)
	var (
		n       int64
		prev    string
		pub     ed25519.PublicKey
		sawEnd  bool
		sawSig  bool
		counts  Counts
		lastSeq int64
	)
	for {
		line, err := readLine(br)
		if err == io.EOF {
			break
		}
		n++
		if errors.Is(err, errLongLine) {
			return rep, fmt.Errorf("line %d: longer than %d bytes: %w", n, MaxLine, ErrNotManifest)
		}
		if err != nil {
			return rep, fmt.Errorf("line %d: %w", n, err)
		}
		var probe struct {
			Type string `json:"type"`
			Prev string `json:"prev"`
		}
		if err := json.Unmarshal(line, &probe); err != nil {
			if n == 1 {
				return rep, fmt.Errorf("line 1: %w (%v)", ErrNotManifest, err)
			}
			problem(n, "not a JSON object: %v", err)
			prev = lineHash(line)
			continue
		}
		if sawSig {
			problem(n, "data after the signature")
			continue
		}
		if n == 1 {
			if probe.Type != TypeHeader {
				return rep, fmt.Errorf("line 1: %w (first record is %q, want a header)", ErrNotManifest, probe.Type)
			}
			if err := json.Unmarshal(line, &rep.Header); err != nil {
				return rep, fmt.Errorf("line 1: header: %w", err)
			}
			if rep.Header.Format != Format {
				return rep, fmt.Errorf("line 1: unsupported format %q (this kintsugi reads %s)", rep.Header.Format, Format)
			}
			k, err := ParsePublicKey(rep.Header.PublicKey)
			if err != nil {
				problem(1, "header public key: %v", err)
			} else {
				pub = k
				rep.KeyID = KeyID(k)
				if rep.Header.KeyID != rep.KeyID {
					problem(1, "header key_id %q does not match its public key (%s)", rep.Header.KeyID, rep.KeyID)
				}
			}
			prev = lineHash(line)
			continue
		}
		if probe.Prev != prev {
			problem(n, "chain broken: prev %q is not the SHA-256 of line %d (%s): a line was changed, removed or inserted", short(probe.Prev), n-1, short(prev))
		}
		switch probe.Type {
		case TypeFile:
			if sawEnd {
				problem(n, "file record after the end record")
			}
			var r Record
			if err := json.Unmarshal(line, &r); err != nil {
				problem(n, "file record: %v", err)
				break
			}
			if r.Seq != lastSeq+1 {
				problem(n, "sequence number %d, want %d", r.Seq, lastSeq+1)
			}
			lastSeq = r.Seq
			rep.Records++
			counts.add(&r)
			if err := checkRecord(&r); err != nil {
				problem(n, "%v", err)
			}
			if opts.Each != nil && probe.Prev == prev {
				if err := opts.Each(n, &r); err != nil {
					problem(n, "%s: %v", displayPath(&r), err)
				}
			}
		case TypeEnd:
			if sawEnd {
				problem(n, "second end record")
			}
			sawEnd = true
			if err := json.Unmarshal(line, &rep.End); err != nil {
				problem(n, "end record: %v", err)
				break
			}
			if rep.End.Records != rep.Records || rep.End.Seq != lastSeq+1 {
				problem(n, "end record counts %d file records, the manifest holds %d: records were removed or added", rep.End.Records, rep.Records)
			}
			if rep.End.Counts != counts {
				problem(n, "end record totals %+v do not add up to the records (%+v)", rep.End.Counts, counts)
			}
		case TypeSignature:
			sawSig = true
			if !sawEnd {
				problem(n, "signature before the end record")
			}
			var s Signature
			if err := json.Unmarshal(line, &s); err != nil {
				problem(n, "signature record: %v", err)
				break
			}
			sig, err := base64.StdEncoding.DecodeString(s.Signature)
			switch {
			case s.Alg != "ed25519":
				problem(n, "unknown signature algorithm %q", s.Alg)
			case err != nil || len(sig) != ed25519.SignatureSize:
				problem(n, "malformed signature")
			case pub == nil:
				problem(n, "no valid public key in the header to check the signature with")
			case s.Prev != prev:
				// Already reported as a broken chain.
			case !ed25519.Verify(pub, signedMessage(s.Prev), sig):
				problem(n, "bad signature: the chain head was not signed by key %s", rep.KeyID)
			default:
				rep.Signed = true
			}
		default:
			problem(n, "unknown record type %q", probe.Type)
		}
		prev = lineHash(line)
	}
	switch {
	case n == 0:
		return rep, fmt.Errorf("empty input: %w", ErrNotManifest)
	case !sawEnd:
		problem(n, "no end record: the manifest is truncated")
	case !sawSig:
		problem(n, "no signature record: the manifest is truncated or unsigned")
	}
	rep.Counts = counts
	if opts.PublicKey != nil {
		if pub != nil && pub.Equal(opts.PublicKey) {
			rep.Trusted = true
		} else {
			problem(1, "signed by key %s, not by the expected key %s", rep.KeyID, KeyID(opts.PublicKey))
		}
	}
	if !rep.Signed {
		rep.Trusted = false
	}
	return rep, nil
}

var errLongLine = errors.New("line too long")

// readLine returns the next line without its newline; a final line
// without a newline is returned too.
func readLine(br *bufio.Reader) ([]byte, error) {
	var buf []byte
	for {
		frag, err := br.ReadSlice('\n')
		if len(buf)+len(frag) > MaxLine+1 {
			return nil, errLongLine
		}
		buf = append(buf, frag...)
		switch {
		case err == nil:
			return buf[:len(buf)-1], nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err == io.EOF && len(buf) > 0:
			return buf, nil
		default:
			return nil, err
		}
	}
}

// checkRecord checks what a file record must hold for its status.
func checkRecord(r *Record) error {
	if r.PathB64 != "" {
		if _, err := base64.StdEncoding.DecodeString(r.PathB64); err != nil {
			return fmt.Errorf("path_b64: %v", err)
		}
	}
	if r.Path == "" {
		return errors.New("file record without a path")
	}
	switch r.Status {
	case StatusMigrated:
		if len(r.SHA256) != 64 {
			return fmt.Errorf("%s: migrated without a SHA-256", displayPath(r))
		}
		if r.Verdict != incident.Clean {
			return fmt.Errorf("%s: migrated with verdict %q", displayPath(r), r.Verdict)
		}
		if r.Verify == nil || r.Verify.Result != "ok" || r.Verify.SHA256 != r.SHA256 {
			return fmt.Errorf("%s: migrated without a matching read-back verification", displayPath(r))
		}
		if r.DestKey == "" {
			return fmt.Errorf("%s: migrated without a destination key", displayPath(r))
		}
	case StatusRefused:
		if r.Verdict == incident.Clean || !r.Verdict.Valid() {
			return fmt.Errorf("%s: refused with verdict %q", displayPath(r), r.Verdict)
		}
	case StatusFailed, StatusSkipped:
	default:
		return fmt.Errorf("%s: unknown status %q", displayPath(r), r.Status)
	}
	return nil
}

func displayPath(r *Record) string { return r.Path }

func short(h string) string {
	if len(h) > 12 {
		return h[:12] + "…"
	}
	return h
}
