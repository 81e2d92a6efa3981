package fanotify

import "encoding/binary"

// putResponse encodes a struct fanotify_response.
func putResponse(b []byte, fd int32, response uint32) {
	binary.NativeEndian.PutUint32(b[0:], uint32(fd))
	binary.NativeEndian.PutUint32(b[4:], response)
}
