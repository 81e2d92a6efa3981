package account

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/kintsugi-ir/kintsugi/internal/incident"
)

// maxKeyFile bounds what is read of one watched file.
const maxKeyFile = 4 << 20

// KeyWatcher compares authorized_keys and sudoers files with what they
// held before and reports new entries. Files whose state was never
// recorded are learnt silently on the first Scan; a file that appears
// later is new in full.
type KeyWatcher struct {
	list  func() []string
	known map[string]map[string]bool // file -> entry hashes
	stamp map[string]stamp
	first bool
}

type stamp struct {
	size  int64
	mtime time.Time
	ino   uint64
}

// NewKeyWatcher watches the files list returns (called at each Scan, so
// new accounts are picked up); known is a saved state (State).
func NewKeyWatcher(list func() []string, known map[string][]string) *KeyWatcher {
	k := &KeyWatcher{list: list, known: map[string]map[string]bool{}, stamp: map[string]stamp{}, first: true}
	for f, hs := range known {
		m := map[string]bool{}
		for _, h := range hs {
			m[h] = true
		}
		k.known[f] = m
	}
	return k
}

// State returns what the watcher knows, to be saved.
func (k *KeyWatcher) State() map[string][]string {
	out := map[string][]string{}
	for f, m := range k.known {
		hs := make([]string, 0, len(m))
		for h := range m {
			hs = append(hs, h)
		}
		sort.Strings(hs)
		out[f] = hs
	}
	return out
}

// Scan reads the files that changed since the last Scan.
func (k *KeyWatcher) Scan(now time.Time) []Finding {
	first := k.first
	k.first = false
	var out []Finding
	seen := map[string]bool{}
	for _, f := range k.list() {
		seen[f] = true
		fi, err := os.Stat(f)
		if err != nil {
			continue
		}
		st := stamp{size: fi.Size(), mtime: fi.ModTime(), ino: inode(fi)}
		if old, ok := k.stamp[f]; ok && old == st {
			continue
		}
		k.stamp[f] = st
		b, err := readLimited(f)
		if err != nil {
			continue
		}
		sudoers := isSudoers(f)
		entries := parseEntries(b, sudoers)
		known, had := k.known[f]
		if !had {
			known = map[string]bool{}
			k.known[f] = known
		}
		current := map[string]bool{}
		for _, e := range entries {
			h := entryHash(e)
			current[h] = true
			if known[h] || first && !had {
				continue
			}
			out = append(out, keyFinding(f, e, sudoers, now))
		}
		// entries removed are forgotten: adding them back is news again
		k.known[f] = current
	}
	for f := range k.stamp {
		if !seen[f] {
			delete(k.stamp, f)
		}
	}
	return out
}

func readLimited(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxKeyFile))
}

func inode(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Ino)
	}
	return 0
}

func isSudoers(p string) bool {
	return p == "/etc/sudoers" || strings.HasPrefix(p, "/etc/sudoers.d/") || strings.Contains(filepath.Base(p), "sudoers")
}

// parseEntries returns the meaningful lines: for authorized_keys every
// key line, for sudoers every rule and directive (comments dropped, but
// #include and #includedir are directives).
func parseEntries(b []byte, sudoers bool) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	var cont string
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if sudoers && strings.HasSuffix(l, "\\") {
			cont += strings.TrimSuffix(l, "\\") + " "
			continue
		}
		l = strings.TrimSpace(cont + l)
		cont = ""
		if l == "" {
			continue
		}
		if strings.HasPrefix(l, "#") && !(sudoers && (strings.HasPrefix(l, "#include") || strings.HasPrefix(l, "#includedir"))) {
			continue
		}
		out = append(out, strings.Join(strings.Fields(l), " "))
	}
	return out
}

func entryHash(e string) string {
	s := sha256.Sum256([]byte(e))
	return hex.EncodeToString(s[:12])
}

// DescribeKey shows an authorized_keys line as its options, type,
// SHA256 fingerprint and comment (the base64 blob is not repeated).
func DescribeKey(line string) string {
	fs := strings.Fields(line)
	for i := 0; i+1 < len(fs); i++ {
		if !keyType(fs[i]) {
			continue
		}
		blob, err := base64.StdEncoding.DecodeString(fs[i+1])
		if err != nil {
			break
		}
		sum := sha256.Sum256(blob)
		d := fs[i] + " SHA256:" + strings.TrimRight(base64.StdEncoding.EncodeToString(sum[:]), "=")
		if i > 0 {
			d = strings.Join(fs[:i], " ") + " " + d
		}
		if len(fs) > i+2 {
			d += " " + strings.Join(fs[i+2:], " ")
		}
		return d
	}
	if len(line) > 120 {
		return line[:120] + "…"
	}
	return line
}

func keyType(s string) bool {
	return strings.HasPrefix(s, "ssh-") || strings.HasPrefix(s, "ecdsa-sha2-") || strings.HasPrefix(s, "sk-")
}

func keyFinding(file, entry string, sudoers bool, now time.Time) Finding {
	f := Finding{Time: now, File: file, Severity: incident.High}
	if sudoers {
		f.Rule, f.Title, f.Entry = RuleNewSudoers, "New sudoers entry", entry
		f.Summary = fmt.Sprintf("%s gained: %s", file, entry)
		return f
	}
	f.Rule, f.Title, f.Entry = RuleNewKey, "New SSH authorized key", DescribeKey(entry)
	f.Account = ownerOf(file)
	f.Summary = fmt.Sprintf("%s gained a key: %s", file, f.Entry)
	return f
}

// ownerOf guesses the account from the path (/root/..., /home/NAME/...).
func ownerOf(p string) string {
	if strings.HasPrefix(p, "/root/") {
		return "root"
	}
	parts := strings.Split(p, "/")
	for i, s := range parts {
		if s == ".ssh" && i > 0 {
			return parts[i-1]
		}
	}
	return ""
}

// DefaultKeyFiles lists every account's authorized_keys files (from the
// passwd file) and the sudoers files.
func DefaultKeyFiles(passwd string) []string {
	var out []string
	homes := map[string]bool{"/root": true}
	if b, err := os.ReadFile(passwd); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			f := strings.Split(l, ":")
			if len(f) >= 7 && f[5] != "" && f[5] != "/" && !strings.HasPrefix(f[5], "/nonexistent") {
				homes[f[5]] = true
			}
		}
	}
	for h := range homes {
		out = append(out, filepath.Join(h, ".ssh", "authorized_keys"), filepath.Join(h, ".ssh", "authorized_keys2"))
	}
	out = append(out, "/etc/sudoers")
	if ents, err := os.ReadDir("/etc/sudoers.d"); err == nil {
		for _, e := range ents {
			n := e.Name()
			if !e.IsDir() && !strings.HasPrefix(n, ".") && !strings.HasSuffix(n, "~") {
				out = append(out, filepath.Join("/etc/sudoers.d", n))
			}
		}
	}
	sort.Strings(out)
	return out
}

// AdminMembers returns the accounts in the sudo, wheel and admin groups
// (listed members and those whose primary group it is).
func AdminMembers(groupFile, passwdFile string) []string {
	gids := map[string]bool{}
	set := map[string]bool{}
	if b, err := os.ReadFile(groupFile); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			f := strings.Split(l, ":")
			if len(f) < 4 {
				continue
			}
			switch f[0] {
			case "sudo", "wheel", "admin":
				gids[f[2]] = true
				for _, m := range strings.Split(f[3], ",") {
					if m = strings.TrimSpace(m); m != "" {
						set[m] = true
					}
				}
			}
		}
	}
	if b, err := os.ReadFile(passwdFile); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			f := strings.Split(l, ":")
			if len(f) >= 4 && gids[f[3]] {
				set[f[0]] = true
			}
		}
	}
	out := make([]string, 0, len(set))
	for m := range set {
		out = append(out, m)
	}
	sort.Strings(out)
	return out
}
