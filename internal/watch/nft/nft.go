// Package nft is the watch agent's network response through nftables:
// isolating the host (a table that drops everything but loopback and the
// management endpoints) and blocking source addresses for a while. It
// drives nft(8) with complete scripts, which nft applies atomically; the
// tables live in the kernel, so isolation survives an agent restart, and
// Release is the only way out.
//
// Only internal/watch and cmd/kintsugi import it. Scripts are built from
// parsed addresses only, never from raw text.
package nft

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// Table names.
const (
	IsolationTable = "kintsugi_isolation"
	BlockTable     = "kintsugi_block"
)

// Endpoint is a management endpoint: addresses and, optionally, one local
// TCP port they may reach (0: any port).
type Endpoint struct {
	Prefix netip.Prefix
	Port   uint16
}

func (e Endpoint) String() string {
	a := e.Prefix.String()
	if e.Prefix.IsSingleIP() {
		a = e.Prefix.Addr().String()
	}
	if e.Port == 0 {
		return a
	}
	if e.Prefix.Addr().Is6() {
		return "[" + a + "]:" + strconv.Itoa(int(e.Port))
	}
	return a + ":" + strconv.Itoa(int(e.Port))
}

// ParseEndpoint parses "10.0.0.5", "10.0.0.5:22", "10.0.0.0/24:22",
// "fd00::5" or "[fd00::5]:22".
func ParseEndpoint(s string) (Endpoint, error) {
	s = strings.TrimSpace(s)
	host, port := s, ""
	switch {
	case strings.HasPrefix(s, "["):
		end := strings.Index(s, "]")
		if end < 0 {
			return Endpoint{}, fmt.Errorf("management endpoint %q: missing ]", s)
		}
		host = s[1:end]
		if rest := s[end+1:]; rest != "" {
			if !strings.HasPrefix(rest, ":") {
				return Endpoint{}, fmt.Errorf("management endpoint %q: want [address]:port", s)
			}
			port = rest[1:]
		}
	case strings.Count(s, ":") == 1:
		host, port, _ = strings.Cut(s, ":")
	}
	var e Endpoint
	if strings.Contains(host, "/") {
		p, err := netip.ParsePrefix(host)
		if err != nil {
			return Endpoint{}, fmt.Errorf("management endpoint %q: %w", s, err)
		}
		e.Prefix = p.Masked()
	} else {
		a, err := netip.ParseAddr(host)
		if err != nil {
			return Endpoint{}, fmt.Errorf("management endpoint %q: %w", s, err)
		}
		a = a.Unmap()
		e.Prefix = netip.PrefixFrom(a, a.BitLen())
	}
	if port != "" {
		n, err := strconv.ParseUint(port, 10, 16)
		if err != nil || n == 0 {
			return Endpoint{}, fmt.Errorf("management endpoint %q: bad port", s)
		}
		e.Port = uint16(n)
	}
	return e, nil
}

// IsolationScript is the nft script that installs (or replaces) the
// isolation table.
func IsolationScript(mgmt []Endpoint) string {
	var in, out strings.Builder
	for _, m := range mgmt {
		fam := "ip"
		if m.Prefix.Addr().Is6() {
			fam = "ip6"
		}
		if m.Port == 0 {
			fmt.Fprintf(&in, "\t\t%s saddr %s accept\n", fam, m.Prefix)
			fmt.Fprintf(&out, "\t\t%s daddr %s accept\n", fam, m.Prefix)
			continue
		}
		fmt.Fprintf(&in, "\t\t%s saddr %s tcp dport %d accept\n", fam, m.Prefix, m.Port)
		fmt.Fprintf(&out, "\t\t%s daddr %s tcp sport %d accept\n", fam, m.Prefix, m.Port)
	}
	return fmt.Sprintf(`add table inet %[1]s
delete table inet %[1]s
table inet %[1]s {
	chain input {
		type filter hook input priority -300; policy drop;
		iif "lo" accept
%[2]s	}
	chain output {
		type filter hook output priority -300; policy drop;
		oif "lo" accept
%[3]s	}
	chain forward {
		type filter hook forward priority -300; policy drop;
	}
}
`, IsolationTable, in.String(), out.String())
}

// BlockScript creates the block table if it is missing.
func BlockScript() string {
	return fmt.Sprintf(`table inet %[1]s {
	set v4 { type ipv4_addr; flags timeout; }
	set v6 { type ipv6_addr; flags timeout; }
	chain input {
		type filter hook input priority -300; policy accept;
		ip saddr @v4 drop
		ip6 saddr @v6 drop
	}
}
`, BlockTable)
}

// NFT runs nft(8).
type NFT struct {
	// Path is the nft binary (default "nft" from PATH).
	Path string
	// Prefix runs nft through another command (tests use
	// "ip netns exec NAME").
	Prefix []string
}

// ErrNotInstalled is returned when nft cannot be run.
var ErrNotInstalled = errors.New("nft (the nftables command) is not installed")

func (n NFT) run(ctx context.Context, stdin string, args ...string) ([]byte, error) {
	bin := n.Path
	if bin == "" {
		bin = "nft"
	}
	argv := append(append(append([]string{}, n.Prefix...), bin), args...)
	if len(n.Prefix) == 0 {
		if _, err := exec.LookPath(bin); err != nil {
			return nil, ErrNotInstalled
		}
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(errb.String())
		if i := strings.IndexByte(msg, '\n'); i > 0 {
			msg = msg[:i]
		}
		return nil, fmt.Errorf("nft %s: %v: %s", strings.Join(args, " "), err, msg)
	}
	return out.Bytes(), nil
}

// Isolate installs the isolation table.
func (n NFT) Isolate(ctx context.Context, mgmt []Endpoint) error {
	_, err := n.run(ctx, IsolationScript(mgmt), "-f", "-")
	return err
}

// Release removes the isolation table; it is not an error when there is
// none.
func (n NFT) Release(ctx context.Context) error {
	ok, err := n.Isolated(ctx)
	if err != nil || !ok {
		return err
	}
	_, err = n.run(ctx, "", "delete", "table", "inet", IsolationTable)
	return err
}

// Isolated reports whether the isolation table is installed.
func (n NFT) Isolated(ctx context.Context) (bool, error) {
	out, err := n.run(ctx, "", "list", "tables", "inet")
	if err != nil {
		return false, err
	}
	return hasTable(out, IsolationTable), nil
}

func hasTable(list []byte, name string) bool {
	for _, l := range strings.Split(string(list), "\n") {
		if strings.TrimSpace(l) == "table inet "+name {
			return true
		}
	}
	return false
}

// Block drops traffic from addr for d (at least a second).
func (n NFT) Block(ctx context.Context, addr netip.Addr, d time.Duration) error {
	addr = addr.Unmap()
	if !addr.IsValid() || addr.IsLoopback() || addr.IsUnspecified() {
		return fmt.Errorf("block %s: not a remote address", addr)
	}
	set := "v4"
	if addr.Is6() {
		set = "v6"
	}
	secs := max(int(d.Seconds()), 1)
	script := BlockScript() + fmt.Sprintf("add element inet %s %s { %s timeout %ds }\n", BlockTable, set, addr, secs)
	_, err := n.run(ctx, script, "-f", "-")
	return err
}

// Blocked lists the addresses currently blocked.
func (n NFT) Blocked(ctx context.Context) ([]netip.Addr, error) {
	out, err := n.run(ctx, "", "list", "tables", "inet")
	if err != nil || !hasTable(out, BlockTable) {
		return nil, err
	}
	var addrs []netip.Addr
	for _, set := range []string{"v4", "v6"} {
		out, err := n.run(ctx, "", "list", "set", "inet", BlockTable, set)
		if err != nil {
			return nil, err
		}
		s := string(out)
		i := strings.Index(s, "elements = {")
		if i < 0 {
			continue
		}
		s = s[i+len("elements = {"):]
		s, _, _ = strings.Cut(s, "}")
		for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' || r == '\t' }) {
			f = strings.TrimSpace(f)
			tok, _, _ := strings.Cut(f, " ")
			if a, err := netip.ParseAddr(tok); err == nil {
				addrs = append(addrs, a)
			}
		}
	}
	return addrs, nil
}

// Unblock removes the block table with every block in it.
func (n NFT) Unblock(ctx context.Context) error {
	out, err := n.run(ctx, "", "list", "tables", "inet")
	if err != nil || !hasTable(out, BlockTable) {
		return err
	}
	_, err = n.run(ctx, "", "delete", "table", "inet", BlockTable)
	return err
}
