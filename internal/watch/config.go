package watch

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/kintsugi-ir/kintsugi/internal/watch/account"
	"github.com/kintsugi-ir/kintsugi/internal/watch/nft"
	"github.com/kintsugi-ir/kintsugi/internal/watch/score"
	"github.com/kintsugi-ir/kintsugi/internal/workhours"
)

// Config is the agent's configuration (the --config file, YAML; docs/watch.md
// documents every field). The zero value plus Paths is the quick start.
type Config struct {
	// Host names this server in alerts (default: the host name).
	Host string `yaml:"host"`
	// Paths are the trees to watch; Exclude are trees inside them to
	// ignore (scratch space, the agent's own files are always excluded).
	Paths   []string `yaml:"paths"`
	Exclude []string `yaml:"exclude"`
	// StateDir keeps the journal, isolation state, canary list and the
	// account baselines (default /var/lib/kintsugi/watch).
	StateDir string `yaml:"state_dir"`
	// Journal is the JSONL alert journal (default StateDir/alerts.jsonl).
	Journal string `yaml:"journal"`

	Response Response    `yaml:"response"`
	Allow    []AllowRule `yaml:"allow"`
	// Boundaries are executable names whose processes are never part of a
	// scored tree and never stopped: daemons whose children are separate
	// sessions (added to the built-in list).
	Boundaries []string     `yaml:"boundaries"`
	Score      ScoreConfig  `yaml:"score"`
	Canaries   Canaries     `yaml:"canaries"`
	Accounts   Accounts     `yaml:"accounts"`
	Isolation  Isolation    `yaml:"isolation"`
	Alerts     AlertsConfig `yaml:"alerts"`

	dropMask uint64 // events left out (measurements)
}

// Response says what happens to a stopped tree.
type Response struct {
	// Action is "kill" (default) or "hold" (stay stopped for the operator).
	Action string `yaml:"action"`
	// DenyOpens refuses the tree's opens on the watched file systems while
	// it is flagged (default true).
	DenyOpens *bool `yaml:"deny_opens"`
	// Isolate isolates the host when a tree is stopped (default false).
	Isolate bool `yaml:"isolate"`
}

// AllowRule allow-lists one executable: its path and its SHA-256 (when
// empty, the hash of the file at start is pinned, so a later replacement
// is not allowed).
type AllowRule struct {
	Path   string `yaml:"path"`
	SHA256 string `yaml:"sha256"`
}

// ScoreConfig tunes scoring; zero fields keep their defaults.
type ScoreConfig struct {
	Threshold float64       `yaml:"threshold"`
	HalfLife  time.Duration `yaml:"half_life"`
	// SlowCount damaged files within SlowWindow stop a tree whatever the
	// decay.
	SlowCount  int           `yaml:"slow_count"`
	SlowWindow time.Duration `yaml:"slow_window"`
}

// Canaries configures decoy files.
type Canaries struct {
	// Enabled places decoys (default true).
	Enabled *bool `yaml:"enabled"`
	// Dirs is how many directories per watched path get decoys: the top
	// and the first subdirectories in name order (default 8).
	Dirs int `yaml:"dirs"`
}

// Accounts configures the account detections.
type Accounts struct {
	// Enabled follows the authentication logs (default true).
	Enabled *bool `yaml:"enabled"`
	// Logs are syslog files to follow (default /var/log/auth.log or
	// /var/log/secure, whichever exists; else the journal).
	Logs []string `yaml:"logs"`
	// Journal follows `journalctl -f` ("auto", "yes", "no").
	Journal string `yaml:"journal"`
	// Admins are privileged accounts besides root and the members of the
	// sudo, wheel and admin groups.
	Admins []string `yaml:"admins"`
	// WorkHours bound ordinary administration; logons outside are alerts.
	WorkHours WorkHours `yaml:"work_hours"`
	// BurstFailures failed logons from one source within BurstWindow, then
	// a success within SuccessWindow, are a brute-force success.
	BurstFailures int           `yaml:"burst_failures"`
	BurstWindow   time.Duration `yaml:"burst_window"`
	SuccessWindow time.Duration `yaml:"success_window"`
	// Keys are authorized_keys and sudoers files watched for new entries
	// (default: every account's ~/.ssh/authorized_keys, /etc/sudoers and
	// /etc/sudoers.d/*).
	Keys []string `yaml:"keys"`
	// Block blocks the source of a brute-force success or of a privileged
	// logon from a new source, for BlockFor (default off, 1 hour).
	Block    bool          `yaml:"block"`
	BlockFor time.Duration `yaml:"block_for"`
}

// WorkHours are the site's working hours.
type WorkHours struct {
	Zone  string   `yaml:"zone"`  // default Asia/Tokyo
	Start int      `yaml:"start"` // default 8
	End   int      `yaml:"end"`   // default 19
	Days  []string `yaml:"days"`  // default mon..fri
}

// Isolation configures host isolation.
type Isolation struct {
	// Management are the endpoints that stay reachable ("10.0.0.5:22",
	// "10.0.0.0/24:22", "[fd00::5]:22"; no port: every port).
	Management []string `yaml:"management"`
	// Nft is the nft binary (default: nft from PATH).
	Nft string `yaml:"nft"`
}

// AlertsConfig configures alert delivery beyond the journal.
type AlertsConfig struct {
	Syslog  bool          `yaml:"syslog"`
	Webhook WebhookConfig `yaml:"webhook"`
	// CaseStore also stores alerts in the case store (default true when
	// the command has one).
	CaseStore *bool `yaml:"case_store"`
}

// WebhookConfig configures the webhook. The token is read from a file or
// an environment variable, never from the configuration itself, so the
// configuration can be shown and kept in version control.
type WebhookConfig struct {
	URL       string        `yaml:"url"`
	TokenFile string        `yaml:"token_file"`
	TokenEnv  string        `yaml:"token_env"`
	Attempts  int           `yaml:"attempts"`
	Backoff   time.Duration `yaml:"backoff"`
}

// DefaultStateDir is where the agent keeps its state by default.
const DefaultStateDir = "/var/lib/kintsugi/watch"

// LoadConfig reads a configuration file. Unknown fields are errors: a
// misspelt setting must not silently fall back to a default.
func LoadConfig(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return &c, nil
}

// Normalize fills in defaults and checks the configuration.
func (c *Config) Normalize() error {
	if len(c.Paths) == 0 {
		return errors.New("no path to watch")
	}
	for i, p := range c.Paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			return fmt.Errorf("path %s: %w", p, err)
		}
		fi, err := os.Stat(abs)
		if err != nil {
			return fmt.Errorf("path %s: %w", p, err)
		}
		if !fi.IsDir() {
			return fmt.Errorf("path %s: not a directory", p)
		}
		c.Paths[i] = filepath.Clean(abs)
	}
	for i, p := range c.Exclude {
		abs, err := filepath.Abs(p)
		if err != nil {
			return fmt.Errorf("exclude %s: %w", p, err)
		}
		c.Exclude[i] = filepath.Clean(abs)
	}
	if c.Host == "" {
		h, err := os.Hostname()
		if err != nil {
			return fmt.Errorf("host name: %w", err)
		}
		c.Host = h
	}
	if c.StateDir == "" {
		c.StateDir = DefaultStateDir
	}
	c.StateDir = filepath.Clean(c.StateDir)
	if c.Journal == "" {
		c.Journal = filepath.Join(c.StateDir, "alerts.jsonl")
	}
	switch c.Response.Action {
	case "":
		c.Response.Action = "kill"
	case "kill", "hold":
	default:
		return fmt.Errorf("response action %q: want kill or hold", c.Response.Action)
	}
	if c.Response.DenyOpens == nil {
		t := true
		c.Response.DenyOpens = &t
	}
	for _, a := range c.Allow {
		if !filepath.IsAbs(a.Path) {
			return fmt.Errorf("allow %q: want an absolute executable path", a.Path)
		}
		if a.SHA256 != "" && (len(a.SHA256) != 64 || strings.Trim(strings.ToLower(a.SHA256), "0123456789abcdef") != "") {
			return fmt.Errorf("allow %s: sha256 %q is not 64 hex digits", a.Path, a.SHA256)
		}
	}
	if c.Canaries.Enabled == nil {
		t := true
		c.Canaries.Enabled = &t
	}
	if c.Canaries.Dirs <= 0 {
		c.Canaries.Dirs = 8
	}
	if c.Accounts.Enabled == nil {
		t := true
		c.Accounts.Enabled = &t
	}
	switch c.Accounts.Journal {
	case "":
		c.Accounts.Journal = "auto"
	case "auto", "yes", "no":
	default:
		return fmt.Errorf("accounts journal %q: want auto, yes or no", c.Accounts.Journal)
	}
	if _, err := c.Accounts.detectorConfig(); err != nil {
		return err
	}
	if c.Accounts.BlockFor <= 0 {
		c.Accounts.BlockFor = time.Hour
	}
	if _, err := c.Management(); err != nil {
		return err
	}
	if c.Response.Isolate && len(c.Isolation.Management) == 0 {
		return errors.New("response isolate needs isolation management endpoints: the host would lose every connection")
	}
	if u := c.Alerts.Webhook.URL; u != "" {
		pu, err := url.Parse(u)
		if err != nil || pu.Host == "" || (pu.Scheme != "https" && pu.Scheme != "http") {
			return errors.New("alerts webhook url: want http:// or https:// and a host")
		}
	}
	return nil
}

// Management parses the management endpoints.
func (c *Config) Management() ([]nft.Endpoint, error) {
	var out []nft.Endpoint
	for _, m := range c.Isolation.Management {
		e, err := nft.ParseEndpoint(m)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// ScoreConfig returns the scoring configuration.
func (c *Config) scoreConfig() score.Config {
	sc := score.Config{HalfLife: c.Score.HalfLife, SlowCount: c.Score.SlowCount, SlowWindow: c.Score.SlowWindow}
	sc.Weights = score.DefaultWeights()
	if c.Score.Threshold > 0 {
		sc.Weights.Threshold = c.Score.Threshold
	}
	return sc
}

// watched reports whether p lies in a watched tree and not in an
// excluded one or the agent's own state.
func (c *Config) watched(p string) bool {
	in := slices.ContainsFunc(c.Paths, func(root string) bool { return within(p, root) })
	if !in {
		return false
	}
	if within(p, c.StateDir) || p == c.Journal {
		return false
	}
	return !slices.ContainsFunc(c.Exclude, func(ex string) bool { return within(p, ex) })
}

func within(p, root string) bool {
	if root == "/" {
		return strings.HasPrefix(p, "/")
	}
	return p == root || strings.HasPrefix(p, root) && len(p) > len(root) && p[len(root)] == '/'
}

// WorldWritable reports a file, or a directory leading to it, that anyone
// may change (without the sticky bit): such a configuration or binary
// lets any local user control the agent.
func WorldWritable(path string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return err
	}
	if fi.Mode().Perm()&0o002 != 0 {
		return fmt.Errorf("%s is world-writable", abs)
	}
	for d := filepath.Dir(abs); ; d = filepath.Dir(d) {
		di, err := os.Stat(d)
		if err != nil {
			return err
		}
		if di.Mode().Perm()&0o002 != 0 && di.Mode()&os.ModeSticky == 0 {
			return fmt.Errorf("%s is in %s, which is world-writable", abs, d)
		}
		if d == "/" || d == "." {
			return nil
		}
	}
}

// detectorConfig turns the configuration into the detector's.
func (ac Accounts) detectorConfig() (account.Config, error) {
	h := workhours.Hours{WorkStart: ac.WorkHours.Start, WorkEnd: ac.WorkHours.End}
	if err := h.Fill(); err != nil {
		return account.Config{}, fmt.Errorf("accounts work_hours: %w", err)
	}
	if ac.WorkHours.Zone != "" {
		loc, err := time.LoadLocation(ac.WorkHours.Zone)
		if err != nil {
			return account.Config{}, fmt.Errorf("accounts work_hours zone: %w", err)
		}
		h.Location = loc
	}
	if len(ac.WorkHours.Days) > 0 {
		days := map[string]time.Weekday{"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}
		h.WorkDays = nil
		for _, d := range ac.WorkHours.Days {
			wd, ok := days[strings.ToLower(strings.TrimSpace(d))[:min(3, len(strings.TrimSpace(d)))]]
			if !ok {
				return account.Config{}, fmt.Errorf("accounts work_hours days: %q is not a weekday", d)
			}
			h.WorkDays = append(h.WorkDays, wd)
		}
	}
	return account.Config{Hours: h, Admins: ac.Admins,
		BurstFailures: ac.BurstFailures, BurstWindow: ac.BurstWindow, SuccessWindow: ac.SuccessWindow}, nil
}
