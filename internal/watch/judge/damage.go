package judge

import (
	"context"
	"io"

	"github.com/kintsugi-ir/kintsugi/internal/incident"
	"github.com/kintsugi-ir/kintsugi/internal/scan/damage"
)

// Damage judges with scan's ransomware-damage detector in quick mode: its
// format validators tell an intact MP4, zip or 7z from one whose
// structure was overwritten, and its entropy profile finds encrypted
// stripes; reads are bounded by the quick plan and budget.
type Damage struct {
	// Options are passed on; Quick is always set.
	Options damage.Options
}

var _ Judge = Damage{}

// containers are the formats that are valid and random-looking at once.
var containers = map[string]bool{
	"zip": true, "7z": true, "gzip": true, "xz": true, "zstd": true, "bzip2": true, "rar": true,
	"lz4": true, "cab": true, "tar": true, "tgz": true,
}

// Judge implements Judge.
func (d Damage) Judge(ctx context.Context, r io.ReaderAt, size int64, name string) (Verdict, error) {
	if size <= 0 {
		return Verdict{Kind: Unknown, Reason: "empty"}, nil
	}
	opts := d.Options
	opts.Quick = true
	res, err := damage.Classify(ctx, r, size, name, opts)
	if err != nil {
		return Verdict{}, err
	}
	v := Verdict{Format: res.Evidence.Format, Reason: res.Reason}
	switch {
	case res.Verdict == incident.Encrypted && res.Evidence.Format == "":
		// ciphertext where nothing promised a format (vault.bin): the
		// agent treats it as weak evidence, like any random blob
		v.Kind = Random
	case res.Verdict == incident.Encrypted:
		v.Kind = Damaged
	case res.Verdict == incident.Suspect:
		v.Kind = Random
	case res.Intact && containers[res.Evidence.Format]:
		v.Kind = Container
	case res.Intact:
		v.Kind = Intact
	default:
		v.Kind = Plain
	}
	if v.Kind == Container {
		head, err := readAt(r, make([]byte, min(size, sniffSize)), 0)
		if err == nil {
			f, _ := Sniff(head)
			v.Protected = protected(r, size, f, head)
		}
	}
	return v, nil
}
