//go:build !linux

package bufpool

const hugePage = 2 << 20

// adviseHuge does nothing where transparent huge pages are not known.
func adviseHuge([]byte) {}
