package damage

import (
	"bytes"
	"context"
	"crypto/rand"
	"testing"

	"github.com/kintsugi-ir/kintsugi/internal/incident"
)

// TestTinyFiles: a few bytes of text are never ciphertext, whatever the
// name; a few random bytes are not called intact text either when the
// name says text and they cannot be text.
func TestTinyFiles(t *testing.T) {
	for _, tc := range []struct {
		name, content string
	}{
		{"a.txt", "public"},
		{"b.txt", "x"},
		{"c.csv", "id,name\n1,a\n"},
		{"d.txt", "public key file!"},
		{"e.txt", "見積書"},
		{"f.json", `{"ok":true}`},
		{"g.conf", "[remote]\ntype=s3"},
	} {
		r, err := Classify(context.Background(), bytes.NewReader([]byte(tc.content)), int64(len(tc.content)), tc.name, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if r.Verdict != incident.Clean {
			t.Errorf("%s %q: %s (%s)", tc.name, tc.content, r.Verdict, r.Reason)
		}
	}
	// 64 random bytes named .txt are still caught.
	b := make([]byte, 64)
	rand.Read(b)
	b[0] |= 0x80 // not accidentally text
	r, _ := Classify(context.Background(), bytes.NewReader(b), 64, "note.txt", Options{})
	if r.Verdict != incident.Encrypted {
		t.Errorf("64 random bytes named .txt: %s (%s)", r.Verdict, r.Reason)
	}
}
