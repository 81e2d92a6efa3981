package ransomsim

import (
	"os"
	"path/filepath"
	"testing"
)

// TestModesWithoutAgent: every mode damages the whole tree when nothing
// stops it, and Check counts it; files the simulator did not write are
// never touched.
func TestModesWithoutAgent(t *testing.T) {
	for _, m := range Modes {
		if m == "children" || m == "slow" {
			continue // need a binary / take a second per file
		}
		t.Run(m, func(t *testing.T) {
			dir := t.TempDir()
			es, err := Prepare(dir, 30, 1)
			if err != nil {
				t.Fatal(err)
			}
			foreign := filepath.Join(dir, filepath.Dir(es[0].Path), "not-mine.docx")
			os.WriteFile(foreign, []byte("someone else's file"), 0o644)
			// a file changed since Prepare is no longer the simulator's
			changed := filepath.Join(dir, es[1].Path)
			os.WriteFile(changed, []byte("edited by a person"), 0o644)
			if err := Run(dir, Options{Mode: m, Note: true}); err != nil {
				t.Fatal(err)
			}
			res, _ := Check(dir)
			// the file changed by someone else counts as lost to Check
			want := Result{Total: 30, Lost: 30}
			if m == "extonly" {
				want = Result{Total: 30, Renamed: 29, Lost: 1}
			}
			if res != want {
				t.Fatalf("%+v, want %+v", res, want)
			}
			if b, _ := os.ReadFile(foreign); string(b) != "someone else's file" {
				t.Error("a foreign file was touched")
			}
			if b, _ := os.ReadFile(changed); string(b) != "edited by a person" {
				t.Error("a changed file was touched")
			}
		})
	}
	if err := Run(t.TempDir(), Options{Mode: "fast"}); err == nil {
		t.Error("ran on a tree without a manifest")
	}
}
