//go:build linux

package hunt

import (
	"errors"
	"os"
	"syscall"
)

// openEvidence opens a file read-only without following a final symlink,
// without updating its access time where the kernel permits it, and
// without blocking if it is a FIFO or device.
func openEvidence(path string) (*os.File, error) {
	flags := os.O_RDONLY | syscall.O_NOFOLLOW | syscall.O_NONBLOCK | syscall.O_CLOEXEC
	f, err := os.OpenFile(path, flags|syscall.O_NOATIME, 0)
	if errors.Is(err, syscall.EPERM) {
		// O_NOATIME needs ownership or CAP_FOWNER.
		f, err = os.OpenFile(path, flags, 0)
	}
	return f, err
}
