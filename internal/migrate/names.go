package migrate

import (
	"os"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// nameNotes reports what is unusual about a source name without changing
// it: names stay byte-exact unless the destination cannot hold them (and
// then the destination's MapName says how, and the manifest records it).
func nameNotes(root, rel string) []string {
	if !utf8.ValidString(rel) {
		return []string{"name is not valid UTF-8 (Shift-JIS or another legacy encoding)"}
	}
	if norm.NFC.IsNormalString(rel) {
		return nil
	}
	notes := []string{"name is not in Unicode NFC form (as macOS writes names): kept byte-exact"}
	if nfc := norm.NFC.String(rel); nfc != rel {
		if _, err := os.Lstat(root + "/" + nfc); err == nil {
			notes = append(notes, "another source file has the NFC form of this name ("+nfc+"): a destination that normalizes names would merge the two")
		}
	}
	return notes
}
