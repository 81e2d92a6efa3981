package watch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"time"
)

// ControlRequest is one request on the control socket.
type ControlRequest struct {
	Op   string `json:"op"` // "status", "resume", "kill"
	Root int32  `json:"root,omitempty"`
}

// ControlReply is the answer.
type ControlReply struct {
	Error string      `json:"error,omitempty"`
	Held  []HeldTree  `json:"held,omitempty"`
	Stats StatsReport `json:"stats"`
	// Canaries lists the decoys in place.
	Canaries []string `json:"canaries,omitempty"`
	Paths    []string `json:"paths,omitempty"`
}

// HeldTree describes a held tree.
type HeldTree struct {
	Root    int32     `json:"root"`
	Since   time.Time `json:"since"`
	AlertID string    `json:"alert"`
	Pids    []int32   `json:"pids"`
}

// StatsReport is Stats as numbers.
type StatsReport struct {
	Events    int64 `json:"events"`
	Watched   int64 `json:"watched"`
	Judged    int64 `json:"judged"`
	Decisions int64 `json:"decisions"`
	Denied    int64 `json:"denied_opens"`
	Lost      int64 `json:"lost"`
	Procs     int64 `json:"process_events"`
}

// ControlSocket returns the control socket's path for a state directory.
func ControlSocket(stateDir string) string { return filepath.Join(stateDir, "control.sock") }

// Control sends one request to a running agent.
func Control(ctx context.Context, stateDir string, req ControlRequest) (ControlReply, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", ControlSocket(stateDir))
	if err != nil {
		return ControlReply{}, fmt.Errorf("no agent answers at %s: %w", ControlSocket(stateDir), err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if err := json.NewEncoder(c).Encode(req); err != nil {
		return ControlReply{}, err
	}
	var rep ControlReply
	if err := json.NewDecoder(c).Decode(&rep); err != nil {
		return ControlReply{}, fmt.Errorf("agent reply: %w", err)
	}
	if rep.Error != "" {
		return rep, errors.New(rep.Error)
	}
	return rep, nil
}
