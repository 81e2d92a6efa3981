package bufpool

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"testing"
	"unsafe"
)

// A fresh buffer of a huge-page class lies in a mapping the kernel was
// told to back with huge pages ("hg" among its VmFlags in smaps).
func TestFreshBuffersAskForHugePages(t *testing.T) {
	if b, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled"); err != nil || strings.Contains(string(b), "[never]") {
		t.Skip("transparent huge pages are off on this machine")
	}
	for _, n := range []int{4 << 20, 33 << 20, 200 << 20} {
		b := New(1 << 30).Get(n)
		mid := uintptr(unsafe.Pointer(&b[len(b)/2]))
		flags, err := vmFlags(mid)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(" "+flags+" ", " hg ") {
			t.Errorf("Get(%d): the mapping holding the buffer has VmFlags %q, no hg", n, flags)
		}
		b[0], b[len(b)-1] = 1, 2 // still ordinary writable memory
	}
	small := New(1 << 30).Get(64 << 10)
	small[0] = 1
}

// vmFlags returns the VmFlags of the mapping of this process holding addr.
func vmFlags(addr uintptr) (string, error) {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	in := false
	for sc.Scan() {
		line := sc.Text()
		// A mapping's header: "lo-hi perms offset dev inode [path]".
		if f := strings.Fields(line); len(f) >= 5 && len(f[1]) == 4 && strings.Count(f[0], "-") == 1 {
			var lo, hi uintptr
			if _, err := fmt.Sscanf(f[0], "%x-%x", &lo, &hi); err == nil {
				in = addr >= lo && addr < hi
				continue
			}
		}
		if in && strings.HasPrefix(line, "VmFlags:") {
			return strings.TrimSpace(strings.TrimPrefix(line, "VmFlags:")), nil
		}
	}
	return "", fmt.Errorf("no mapping holds %#x", addr)
}
