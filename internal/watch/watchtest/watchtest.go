//go:build linux

// Package watchtest holds helpers for the watch agent's tests: a private
// tmpfs to watch (so that file-system marks see only the test's own
// activity, never the rest of the machine) and the root check that
// fanotify, nftables and network namespaces need. Only tests import it.
package watchtest

import (
	"os"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

// RequireRoot skips the test unless it runs as root; CI runs as root, so
// there the test always runs.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (fanotify, mounts, nftables); CI runs these tests as root")
	}
}

// Tmpfs mounts a fresh tmpfs of the given size in MiB on a temporary
// directory and unmounts it when the test ends.
func Tmpfs(t testing.TB, mib int) string {
	t.Helper()
	RequireRoot(t)
	dir, err := os.MkdirTemp("", "kintsugi-watch-")
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "size="+strconv.Itoa(max(mib, 1))+"m,mode=0755"); err != nil {
		os.Remove(dir)
		t.Fatalf("mount tmpfs on %s: %v", dir, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
		os.Remove(dir)
	})
	return dir
}
