//go:build !linux

package watch

import (
	"context"
	"errors"
)

// Agent is unavailable outside Linux.
type Agent struct{}

// ErrUnsupported is returned outside Linux.
var ErrUnsupported = errors.New("watch needs Linux (fanotify, pidfds, nftables)")

// New fails outside Linux.
func New(*Config, Options) (*Agent, error) { return nil, ErrUnsupported }

// Run fails outside Linux.
func (a *Agent) Run(context.Context) error { return ErrUnsupported }

// Stats returns nothing outside Linux.
func (a *Agent) Stats() *Stats { return &Stats{} }
