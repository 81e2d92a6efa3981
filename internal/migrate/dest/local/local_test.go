package local

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kintsugi-ir/kintsugi/internal/migrate/dest/desttest"
)

func TestConformance(t *testing.T) {
	desttest.Run(t, func(t *testing.T) desttest.Target {
		root := filepath.Join(t.TempDir(), "dst")
		d, err := New(root)
		if err != nil {
			t.Fatal(err)
		}
		return desttest.Target{Dest: d, BigSize: 5 << 20, Leftovers: func(t *testing.T) []string {
			var l []string
			filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
				if err == nil && strings.HasPrefix(fi.Name(), TempPrefix) {
					l = append(l, p)
				}
				return nil
			})
			return l
		}}
	})
}

func TestNamesKeptExact(t *testing.T) {
	d, _ := New(t.TempDir())
	for _, rel := range []string{"a/b.txt", "\x8c\x5f.txt", "が.txt", "a\x01b"} {
		k, m, err := d.MapName(rel)
		if err != nil || k != rel || m != "" {
			t.Errorf("MapName(%q) = %q, %q, %v; want the name unchanged", rel, k, m, err)
		}
	}
	for _, rel := range []string{"", "/abs", "a/../b", "a//b"} {
		if _, _, err := d.MapName(rel); err == nil {
			t.Errorf("MapName(%q) accepted", rel)
		}
	}
}
