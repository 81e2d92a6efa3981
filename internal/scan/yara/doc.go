// Package yara is the scan detector that matches YARA rules, and the only
// package that uses cgo (hillu/go-yara over the system's libyara). A build
// without cgo still compiles; it then says plainly that YARA is unavailable.
package yara
