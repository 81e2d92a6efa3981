//go:build linux

package watch

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/kintsugi-ir/kintsugi/internal/watch/fanotify"
)

// canaryNames are the decoys placed in each chosen directory: names that
// sort first and last (encryptors often walk in name order) and look like
// ordinary office files. Names that say "canary" would be skipped.
var canaryNames = []string{"0000_Invoice_List_2024.xlsx", "zzzz_Project_Archive_Index.docx"}

// canarySet holds the placed decoys.
type canarySet struct {
	mu     sync.Mutex
	byObj  map[fanotify.Handle]string
	byPath map[string]bool
	placed []placedCanary
	file   string
}

type placedCanary struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
}

func (c *canarySet) is(obj fanotify.Handle, p, oldp string) bool {
	if c == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.byObj[obj]; ok && !obj.IsZero() {
		return true
	}
	return c.byPath[p] || oldp != "" && c.byPath[oldp]
}

// Paths lists the placed decoys.
func (c *canarySet) paths() []string {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, p := range c.placed {
		out = append(out, p.Path)
	}
	return out
}

// placeCanaries writes decoys into the top of each watched tree and its
// first subdirectories. A name that already exists is left alone: the
// agent never overwrites a file it did not write. Decoys of an earlier run
// (listed in the state directory) are removed first if unchanged.
func placeCanaries(cfg *Config, log *slog.Logger) (*canarySet, error) {
	c := &canarySet{byObj: map[fanotify.Handle]string{}, byPath: map[string]bool{}, file: filepath.Join(cfg.StateDir, "canaries.json")}
	removeListed(c.file, log)
	for _, root := range cfg.Paths {
		for _, dir := range canaryDirs(cfg, root) {
			for _, name := range canaryNames {
				p := filepath.Join(dir, name)
				body := canaryContent(name)
				f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
				if err != nil {
					continue
				}
				_, err = f.Write(body)
				if cerr := f.Close(); err == nil {
					err = cerr
				}
				if err != nil {
					os.Remove(p)
					log.Warn("decoy not written", "path", p, "err", err)
					continue
				}
				h, err := handleOf(p)
				if err != nil {
					os.Remove(p)
					continue
				}
				sum := sha256.Sum256(body)
				c.byObj[h] = p
				c.byPath[p] = true
				c.placed = append(c.placed, placedCanary{Path: p, SHA256: hex.EncodeToString(sum[:])})
			}
		}
	}
	b, _ := json.Marshal(c.placed)
	if err := os.WriteFile(c.file, b, 0o600); err != nil {
		return c, fmt.Errorf("decoy list: %w", err)
	}
	return c, nil
}

// canaryDirs picks the directories that get decoys: the root and its
// first subdirectories in name order (hidden and excluded ones skipped).
func canaryDirs(cfg *Config, root string) []string {
	dirs := []string{root}
	ents, err := os.ReadDir(root)
	if err != nil {
		return dirs
	}
	var subs []string
	for _, e := range ents {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			p := filepath.Join(root, e.Name())
			if cfg.watched(p) {
				subs = append(subs, p)
			}
		}
	}
	sort.Strings(subs)
	for _, s := range subs {
		if len(dirs) >= cfg.Canaries.Dirs {
			break
		}
		dirs = append(dirs, s)
	}
	return dirs
}

// handleOf returns the fanotify handle of the file at p.
func handleOf(p string) (fanotify.Handle, error) {
	fh, _, err := unix.NameToHandleAt(unix.AT_FDCWD, p, 0)
	if err != nil {
		return fanotify.Handle{}, err
	}
	fsid, err := fanotify.FSID(p)
	if err != nil {
		return fanotify.Handle{}, err
	}
	return fanotify.Handle{FSID: fsid, Type: fh.Type(), Bytes: string(fh.Bytes())}, nil
}

// remove deletes the decoys that are still as written.
func (c *canarySet) remove(log *slog.Logger) {
	if c == nil {
		return
	}
	removeListed(c.file, log)
}

func removeListed(list string, log *slog.Logger) {
	b, err := os.ReadFile(list)
	if err != nil {
		return
	}
	var placed []placedCanary
	if json.Unmarshal(b, &placed) != nil {
		return
	}
	for _, p := range placed {
		body, err := os.ReadFile(p.Path)
		if err != nil {
			continue
		}
		sum := sha256.Sum256(body)
		if hex.EncodeToString(sum[:]) != p.SHA256 {
			log.Warn("decoy changed since it was placed: left in place for inspection", "path", p.Path)
			continue
		}
		os.Remove(p.Path)
	}
	os.Remove(list)
}

// canaryContent is a small valid Office Open XML file with text that
// reads like a real document.
func canaryContent(name string) []byte {
	r := rand.New(rand.NewPCG(uint64(len(name)), 7))
	words := []string{"invoice", "project", "total", "client", "delivery", "schedule", "budget", "render", "edit",
		"colour", "grading", "master", "archive", "approved", "pending", "March", "April", "Tokyo", "Osaka", "review"}
	var text strings.Builder
	for i := 0; i < 6000; i++ {
		text.WriteString(words[r.IntN(len(words))])
		if i%12 == 11 {
			text.WriteString(". ")
		} else {
			text.WriteByte(' ')
		}
	}
	var buf bytes.Buffer
	z := zip.NewWriter(&buf)
	add := func(n, s string) {
		w, _ := z.Create(n)
		w.Write([]byte(s))
	}
	add("[Content_Types].xml", `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/></Types>`)
	if strings.HasSuffix(name, ".xlsx") {
		add("xl/sharedStrings.xml", "<sst>"+text.String()+"</sst>")
	} else {
		add("word/document.xml", "<w:document><w:body><w:p><w:r><w:t>"+text.String()+"</w:t></w:r></w:p></w:body></w:document>")
	}
	z.Close()
	return buf.Bytes()
}
