//go:build !cgo

package yara

import (
	"context"
	"errors"
	"io"

	"github.com/kintsugi-ir/kintsugi/internal/scan"
	"github.com/kintsugi-ir/kintsugi/internal/scan/rulepack"
)

// ErrUnavailable is returned by Compile in builds without cgo.
var ErrUnavailable = errors.New("YARA is unavailable: this kintsugi was built without cgo")

// Rules is a compiled rule set (never produced in this build).
type Rules struct {
	Digest  string
	Files   []string
	Count   int
	Skipped []CompileError
}

// CompileError reports a rule file that does not compile.
type CompileError struct {
	File    string
	Line    int
	Message string
}

func (e *CompileError) Error() string { return e.File + ": " + e.Message }

// Compile always fails in this build.
func Compile(Options) (*Rules, error) { return nil, ErrUnavailable }

// Detector is never usable in this build.
type Detector struct{}

var _ scan.Detector = (*Detector)(nil)

// NewDetector returns a detector that refuses every file.
func NewDetector(*Rules, Options) *Detector { return &Detector{} }

// Name is "yara".
func (d *Detector) Name() string { return "yara" }

// RuleSetDigest identifies the (absent) rules.
func (d *Detector) RuleSetDigest() string { return "yara:unavailable" }

// Close does nothing.
func (d *Detector) Close() {}

// Begin fails: no file can be examined with YARA in this build.
func (d *Detector) Begin(context.Context, *scan.File) (scan.Examination, error) {
	return nil, ErrUnavailable
}

// Export writes the built-in pack.
func Export(w io.Writer) error { return rulepack.Export(w) }
