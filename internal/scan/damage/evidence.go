package damage

import (
	"github.com/kintsugi-ir/kintsugi/internal/incident"
)

// Patterns of encryption, as reported in Evidence.Pattern.
const (
	// PatternFull: the whole file (as far as examined) is ciphertext.
	PatternFull = "full"
	// PatternHead: the file starts with ciphertext, the rest is intact.
	PatternHead = "head"
	// PatternStriped: ciphertext chunks repeat with a fixed period.
	PatternStriped = "striped"
	// PatternPercent: a few evenly spread chunks, whose count times their
	// spacing is the file size (a percentage of the file).
	PatternPercent = "percent"
	// PatternPartial: ciphertext in places that follow no regular layout.
	PatternPartial = "partial"
)

// Evidence is the detail behind a damage verdict, stored as the finding's
// evidence. Field names are stable: see docs/design/damage.md.
type Evidence struct {
	// Format is the format the content has, or was expected to have:
	// "mp4", "zip", "text/utf-8" ...; empty when unknown.
	Format string `json:"format,omitempty"`
	// FormatFrom says how Format was established: "content" (signature
	// present), "structure" (structure found past a destroyed head) or
	// "name" (only the file name claims it).
	FormatFrom string `json:"format_from,omitempty"`
	// Check names the check that failed ("mp4-box", "zip-local-header",
	// "signature", "random-blocks", "random-content" ...).
	Check string `json:"check"`
	// Detail says in words what the check found.
	Detail string `json:"detail,omitempty"`
	// Offset is the first damaged byte found.
	Offset int64 `json:"offset"`
	// Pattern is full, head, striped, percent or partial.
	Pattern string `json:"pattern,omitempty"`
	// Chunk is the size of one encrypted chunk (the head size for head),
	// estimated to the resolution of the analysis.
	Chunk int64 `json:"chunk,omitempty"`
	// Period is the distance between the starts of consecutive chunks.
	Period int64 `json:"period,omitempty"`
	// Chunks is the number of encrypted chunks seen.
	Chunks int `json:"chunks,omitempty"`
	// Coverage is the estimated fraction of the file that is ciphertext.
	Coverage float64 `json:"coverage,omitempty"`
	// Family is a guess from footer size, trailer marker, layout and
	// appended extension; FamilyBasis says what fitted.
	Family      string `json:"family,omitempty"`
	FamilyBasis string `json:"family_basis,omitempty"`
	// TailBytes is the number of bytes after the format's logical end
	// (the appended key blob), -1 when the end could not be found.
	TailBytes int64 `json:"tail_bytes"`
	// TailRandom says whether those bytes look random.
	TailRandom bool `json:"tail_random,omitempty"`
	// Marker is printable text found at the very end of the file.
	Marker string `json:"marker,omitempty"`
	// Extension is what the name carries after its last known extension
	// (".lockbit"), for the record only.
	Extension string `json:"extension,omitempty"`
	// Blocks is a sample of analysed blocks.
	Blocks []BlockSample `json:"blocks,omitempty"`
	// Damage lists the first damaged regions found.
	Damage []Region `json:"damage,omitempty"`
	// Probes and Failed count the structural checkpoints examined and
	// those that failed.
	Probes int `json:"probes,omitempty"`
	Failed int `json:"failed,omitempty"`
	// Sampled is set when the file was sampled (quick mode, or budgets).
	Sampled bool `json:"sampled,omitempty"`
	// BytesRead is what the examination read beyond the engine's stream.
	BytesRead int64 `json:"bytes_read,omitempty"`
}

// BlockSample is one analysed block of the entropy profile.
type BlockSample struct {
	Offset  int64   `json:"offset"`
	Size    int     `json:"size"`
	Entropy float64 `json:"entropy"`
	Chi2    float64 `json:"chi2"`
	Random  bool    `json:"random"`
}

// Region is a damaged byte range; Len 0 means the extent is unknown.
type Region struct {
	Offset int64  `json:"offset"`
	Len    int64  `json:"len,omitempty"`
	Check  string `json:"check,omitempty"`
}

// Result is the outcome of Classify.
type Result struct {
	// Verdict is incident.Encrypted, incident.Suspect, or incident.Clean
	// for an intact file or content of unknown format that is not random.
	Verdict incident.Verdict
	// Intact is set when a validator recognised the format and found it
	// whole; Clean with Intact unset means "unknown format, not random".
	Intact bool
	// Reason is one line for people.
	Reason   string
	Evidence Evidence
}

// Finding turns a non-clean result into an incident finding.
func (r Result) Finding() (incident.Finding, bool) {
	if r.Verdict == incident.Clean || r.Verdict == "" {
		return incident.Finding{}, false
	}
	sev := incident.High
	if r.Verdict == incident.Suspect {
		sev = incident.Medium
	}
	f := incident.Finding{
		Detector: "damage",
		Rule:     r.Evidence.Check,
		Verdict:  r.Verdict,
		Severity: sev,
		Reason:   r.Reason,
	}
	return f.WithEvidence(r.Evidence), true
}
