package watch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/kintsugi-ir/kintsugi/internal/watch/nft"
)

// IsolationState is what the state directory records about isolation, so
// that an agent restarting (or the host rebooting) isolates again.
type IsolationState struct {
	Since      time.Time `json:"since"`
	Reason     string    `json:"reason"`
	Management []string  `json:"management"`
}

func isolationFile(cfg *Config) string { return filepath.Join(cfg.StateDir, "isolation.json") }

// Isolate installs the isolation table and records it.
func Isolate(ctx context.Context, cfg *Config, n nft.NFT, reason string) error {
	mgmt, err := cfg.Management()
	if err != nil {
		return err
	}
	if len(mgmt) == 0 {
		return errors.New("no management endpoint configured: isolating would cut every connection, including yours")
	}
	if err := n.Isolate(ctx, mgmt); err != nil {
		return err
	}
	st := IsolationState{Since: time.Now().UTC(), Reason: reason}
	for _, m := range mgmt {
		st.Management = append(st.Management, m.String())
	}
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		return fmt.Errorf("isolation state: %w", err)
	}
	b, _ := json.MarshalIndent(st, "", "  ")
	if err := os.WriteFile(isolationFile(cfg), b, 0o600); err != nil {
		return fmt.Errorf("isolation state: %w (the host is isolated; 'kintsugi watch release' undoes it)", err)
	}
	return nil
}

// Release removes the isolation table and its record.
func Release(ctx context.Context, cfg *Config, n nft.NFT) error {
	if err := n.Release(ctx); err != nil {
		return err
	}
	if err := os.Remove(isolationFile(cfg)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("isolation state: %w", err)
	}
	return nil
}

// IsolationStatus returns the recorded isolation state, nil when not isolated.
func IsolationStatus(cfg *Config) (*IsolationState, error) {
	b, err := os.ReadFile(isolationFile(cfg))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var st IsolationState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("isolation state %s: %w", isolationFile(cfg), err)
	}
	return &st, nil
}

// RestoreIsolation reinstalls the isolation table when the state says the
// host is isolated and the table is missing (after a reboot).
func RestoreIsolation(ctx context.Context, cfg *Config, n nft.NFT) (bool, error) {
	st, err := IsolationStatus(cfg)
	if err != nil || st == nil {
		return false, err
	}
	ok, err := n.Isolated(ctx)
	if err != nil {
		return false, err
	}
	if ok {
		return true, nil
	}
	var mgmt []nft.Endpoint
	for _, m := range st.Management {
		e, err := nft.ParseEndpoint(m)
		if err != nil {
			return false, err
		}
		mgmt = append(mgmt, e)
	}
	return true, n.Isolate(ctx, mgmt)
}
