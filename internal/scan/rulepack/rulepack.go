// Package rulepack holds kintsugi's built-in YARA rule pack, written by
// this project and embedded in the binary: ransom notes (English and
// Japanese), the EICAR test file, tools found on ransomware victims, web
// shells and scripts that prepare an encryption run. It has no cgo, so
// `kintsugi rules export` works in every build.
package rulepack

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"sort"
)

//go:embed rules/*.yar
var files embed.FS

// File is one rule file of the pack.
type File struct {
	Name   string
	Source string
}

// Files returns the pack's rule files in name order.
func Files() []File {
	names, err := fs.Glob(files, "rules/*.yar")
	if err != nil {
		panic(err) // the pattern is a constant
	}
	sort.Strings(names)
	out := make([]File, 0, len(names))
	for _, n := range names {
		b, err := files.ReadFile(n)
		if err != nil {
			panic(err) // embedded at build time
		}
		out = append(out, File{Name: n[len("rules/"):], Source: string(b)})
	}
	return out
}

// Export writes the whole pack as one .yar file.
func Export(w io.Writer) error {
	fmt.Fprintf(w, "// kintsugi built-in YARA rule pack (Apache-2.0), digest %s\n", Digest())
	for _, f := range Files() {
		if _, err := fmt.Fprintf(w, "\n// ---- %s ----\n%s", f.Name, f.Source); err != nil {
			return err
		}
	}
	return nil
}

// Digest identifies the pack's content.
func Digest() string {
	h := sha256.New()
	for _, f := range Files() {
		fmt.Fprintf(h, "%s\x00%d\x00%s", f.Name, len(f.Source), f.Source)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}
