package bufpool

import (
	"syscall"
	"unsafe"
)

const madvHugepage = 14 // MADV_HUGEPAGE, which package syscall does not name

// adviseHuge asks the kernel to back b's whole 2 MiB pages with huge
// pages. b must be fresh: a large allocation that nothing has touched yet.
// The first read into it then faults in 2 MiB at a time instead of 4 KiB,
// which on a virtual machine costs a sizeable share of a scan. It is
// advice: where the kernel has transparent huge pages off, or no huge
// page is free, nothing changes.
func adviseHuge(b []byte) {
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	lo := (p + hugePage - 1) &^ (hugePage - 1)
	hi := (p + uintptr(len(b))) &^ (hugePage - 1)
	if hi <= lo {
		return
	}
	_ = syscall.Madvise(b[lo-p:hi-p], madvHugepage)
}
