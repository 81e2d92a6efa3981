//go:build !linux

package bufpool

// adviseHuge does nothing where transparent huge pages are not known.
func adviseHuge([]byte) {}
