package names

import (
	"context"
	"testing"

	"github.com/kintsugi-ir/kintsugi/internal/scan"
)

func TestBuiltinParses(t *testing.T) {
	l := Builtin()
	if len(l.Extensions) < 50 || len(l.notes) == 0 {
		t.Fatalf("builtin list: %d extensions, %d note patterns", len(l.Extensions), len(l.notes))
	}
}

func TestNames(t *testing.T) {
	l := Builtin()
	tests := []struct {
		name      string
		ext, note bool
	}{
		{"report.docx.lockbit", true, false},
		{"shot_001.mov.AKIRA", true, false},
		{"report.docx", false, false},
		{"README.txt", false, true},
		{"RESTORE-MY-FILES.txt", false, true},
		{"HOW_TO_DECRYPT.txt", false, true},
		{"!!!_READ_ME_!!!.txt", false, true},
		{"DECRYPT-FILES.html", false, true},
		{"readme_for_unlock.txt", false, true},
		{"復元方法.txt", false, true},
		{"meeting-notes.txt", false, false},
		{"readme.md", false, false},
	}
	d := NewDetector(l)
	for _, tc := range tests {
		_, _, ext := l.Extension(tc.name)
		if ext != tc.ext || l.NoteName(tc.name) != tc.note {
			t.Errorf("%s: extension %v note %v; want %v %v", tc.name, ext, l.NoteName(tc.name), tc.ext, tc.note)
		}
		ex, _ := d.Begin(context.Background(), &scan.File{Name: tc.name})
		if (ex != nil) != (tc.ext || tc.note) {
			t.Errorf("%s: exam %v", tc.name, ex)
		}
		if ex != nil {
			fs, _ := ex.Close(context.Background())
			for _, f := range fs {
				if f.Verdict != "clean" || len(f.Evidence) == 0 {
					t.Errorf("%s: names must only give evidence: %+v", tc.name, f)
				}
			}
		}
	}
}

func TestBadList(t *testing.T) {
	if _, err := Parse([]byte(`{"note_names": ["("]}`)); err == nil {
		t.Fatal("a bad pattern was accepted")
	}
}

func TestInvalidUTF8Names(t *testing.T) {
	l := Builtin()
	for _, name := range []string{"\x8c\x5f\x96\xf1.txt", "\xff.LOCKBIT", ".\xff\xfe", "\x8c.\x96"} {
		l.Extension(name)
		l.NoteName(name)
	}
	if _, fam, ok := l.Extension("\x8c\x5f.LockBit"); !ok || fam != "LockBit" {
		t.Fatalf("Shift-JIS name with a ransomware extension: %v %q", ok, fam)
	}
}

func FuzzNames(f *testing.F) {
	f.Add("report.docx.lockbit")
	f.Add("\x8c\x5f\x96\xf1.txt")
	l := Builtin()
	f.Fuzz(func(t *testing.T, name string) {
		if ext, _, ok := l.Extension(name); ok && len(ext) > len(name) {
			t.Fatal("extension longer than the name")
		}
		l.NoteName(name)
	})
}
