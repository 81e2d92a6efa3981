package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Exit codes, the same for every command (clamscan's convention, minus its
// silent "OK" for files over its limits):
//
//	0  the job completed and found nothing: every file fully examined and clean
//	1  the job completed and found something, or left something unexamined
//	2  an error stopped the job or the command line was wrong
const (
	exitOK       = 0
	exitFound    = 1
	exitError    = 2
	exitHelpText = `Exit status:
  0  completed; everything examined and nothing found
  1  completed; something was found or could not be fully examined
  2  error (bad usage, unreadable case store, interrupted ...)`
)

// errFound is returned by a command that completed but found something or
// left something unexamined; it maps to exit status 1 and prints nothing.
var errFound = errors.New("findings present")

// usageError marks a command line the user must fix.
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

// hintError carries hint lines shown under the error message.
type hintError struct {
	err   error
	hints []string
}

func (h hintError) Error() string { return h.err.Error() }
func (h hintError) Unwrap() error { return h.err }

func withHint(err error, hints ...string) error { return hintError{err, hints} }

// exitCode prints err the kintsugi way and decides the exit status.
func exitCode(g *globals, err error) int {
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errFound):
		return exitFound
	}
	msg := err.Error()
	if errors.Is(err, context.Canceled) {
		msg = "interrupted; run the same command again to resume"
	}
	fmt.Fprintf(g.stderr, "kintsugi: %s\n", strings.TrimSuffix(msg, "."))
	var h hintError
	if errors.As(err, &h) {
		for _, s := range h.hints {
			fmt.Fprintf(g.stderr, "hint: %s\n", s)
		}
	}
	var u usageError
	if errors.As(err, &u) {
		fmt.Fprintln(g.stderr, "hint: run 'kintsugi help' or add --help to a command for its usage")
	}
	return exitError
}
