//go:build !cgo

package yara

// Available reports whether this build can scan with YARA.
const Available = false

// Version says that this build has no YARA.
func Version() string { return "unavailable (built without cgo)" }
