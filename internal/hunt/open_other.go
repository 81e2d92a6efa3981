//go:build !linux

package hunt

import "os"

// openEvidence opens a file read-only. Without Linux's open flags the
// caller's Lstat check is what keeps links and FIFOs out.
func openEvidence(path string) (*os.File, error) {
	return os.Open(path)
}
