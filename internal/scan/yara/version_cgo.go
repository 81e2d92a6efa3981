//go:build cgo

package yara

/*
#cgo LDFLAGS: -lyara
#include <yara.h>
*/
import "C"

// Available reports whether this build can scan with YARA.
const Available = true

// Version is the version of the libyara this binary is linked against.
func Version() string { return C.YR_VERSION }
