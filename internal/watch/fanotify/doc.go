// Package fanotify is the watch agent's access to Linux fanotify: groups
// that report directory entries and file ids with a pidfd for the process
// behind each event (close-write, modify, create, delete, rename), a
// permission group that answers open requests, the decoding of events,
// and turning the kernel's file handles back into paths and open files.
//
// Only internal/watch imports it. Parse is pure and fuzzed; everything
// else needs Linux 5.17 or later and CAP_SYS_ADMIN.
package fanotify
