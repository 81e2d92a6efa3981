package manifest

import (
	"bytes"
	"crypto/ed25519"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kintsugi-ir/kintsugi/internal/incident"
)

func testKey(b byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{b}, ed25519.SeedSize))
}

// sample writes a small manifest: two migrated files (one with a
// Shift-JIS name), one refused, one skipped.
func sample(t testing.TB, key ed25519.PrivateKey) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, Header{Job: 1, Source: "/mnt/fs01", Dest: "s3://b/fs01", RuleSet: "abc", Detectors: []string{"names", "yara"}, Kintsugi: "test", Created: "2025-12-03T00:00:00Z"}, key)
	if err != nil {
		t.Fatal(err)
	}
	sum := strings.Repeat("a", 64)
	recs := []Record{
		{Status: StatusMigrated, Size: 3, SHA256: sum, Verdict: incident.Clean, Verify: &Verification{Result: "ok", SHA256: sum}},
		{Status: StatusMigrated, Size: 5, SHA256: sum, Verdict: incident.Clean, Verify: &Verification{Result: "ok", SHA256: sum}, Mapping: &Mapping{Reason: "Shift-JIS name decoded to UTF-8"}},
		{Status: StatusRefused, Size: 68, Verdict: incident.Malicious, Reason: "EICAR", Findings: []incident.Finding{{Detector: "yara", Rule: "eicar", Verdict: incident.Malicious}}},
		{Status: StatusSkipped, Reason: "symbolic link inside the tree"},
	}
	paths := []string{"a.txt", "\x8c\x5f.txt", "eicar.com", "link"}
	keys := []string{"a.txt", "契.txt", "", ""}
	for i, r := range recs {
		r.SetPath(paths[i])
		if keys[i] != "" {
			r.SetDestKey(keys[i])
		}
		if err := w.Add(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close("2025-12-03T01:00:00Z", true); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func lines(b []byte) [][]byte { return bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n")) }

func join(ls [][]byte) []byte { return append(bytes.Join(ls, []byte("\n")), '\n') }

func TestRoundTrip(t *testing.T) {
	key := testKey(1)
	m := sample(t, key)
	var seen []string
	rep, err := Verify(bytes.NewReader(m), VerifyOptions{PublicKey: key.Public().(ed25519.PublicKey), Each: func(_ int64, r *Record) error {
		p, err := r.SourcePath()
		seen = append(seen, p)
		return err
	}})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || !rep.Trusted || rep.Records != 4 || rep.Counts.Migrated != 2 || rep.Counts.Refused != 1 || rep.Counts.Skipped != 1 {
		t.Fatalf("report %+v", rep)
	}
	if seen[1] != "\x8c\x5f.txt" {
		t.Fatalf("raw path came back as %q", seen[1])
	}
	if rep.Header.Source != "/mnt/fs01" || rep.KeyID != KeyID(key.Public().(ed25519.PublicKey)) {
		t.Fatalf("header %+v", rep.Header)
	}
}

func TestTampering(t *testing.T) {
	key := testKey(1)
	m := sample(t, key)
	ls := lines(m)
	other := testKey(2)
	tests := []struct {
		name   string
		edit   func() []byte
		want   string
		signed bool
	}{
		{"changed hash", func() []byte {
			c := bytes.Clone(m)
			i := bytes.Index(c, []byte(`"sha256":"aaaa`))
			c[i+11] = 'b'
			return c
		}, "chain broken", true},
		{"changed verdict in the last record", func() []byte {
			return bytes.Replace(m, []byte(`"status":"skipped"`), []byte(`"status":"failed"`), 1)
		}, "chain broken", true},
		{"removed record", func() []byte {
			return join(append(append([][]byte{}, ls[:2]...), ls[3:]...))
		}, "chain broken", true},
		{"swapped records", func() []byte {
			c := append([][]byte{}, ls...)
			c[1], c[2] = c[2], c[1]
			return join(c)
		}, "chain broken", true},
		{"truncated", func() []byte { return join(ls[:4]) }, "truncated", false},
		{"signature removed", func() []byte { return join(ls[:len(ls)-1]) }, "no signature record", false},
		{"signature changed", func() []byte {
			c := append([][]byte{}, ls...)
			c[len(c)-1] = bytes.Replace(c[len(c)-1], []byte(`"signature":"`), []byte(`"signature":"AAAA`), 1)
			c[len(c)-1] = bytes.Replace(c[len(c)-1], []byte(`=="}`), []byte(`"}`), 1)
			return join(c)
		}, "signature", false},
		{"re-signed with another key", func() []byte { return sample(t, other) }, "not by the expected key", true},
		{"appended line", func() []byte { return append(bytes.Clone(m), []byte(`{"type":"file","prev":"x"}`+"\n")...) }, "after the signature", true},
	}
	for _, tc := range tests {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			rep, err := Verify(bytes.NewReader(tc.edit()), VerifyOptions{PublicKey: key.Public().(ed25519.PublicKey)})
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK() && rep.Trusted {
				t.Fatal("tampered manifest verified")
			}
			var all []string
			for _, p := range rep.Problems {
				all = append(all, p.String())
			}
			if !strings.Contains(strings.Join(all, "\n"), tc.want) {
				t.Fatalf("problems %q, want one mentioning %q", all, tc.want)
			}
			if rep.Signed != tc.signed {
				t.Fatalf("Signed = %v, want %v", rep.Signed, tc.signed)
			}
		})
	}
}

func TestRecordRules(t *testing.T) {
	key := testKey(1)
	var buf bytes.Buffer
	w, _ := NewWriter(&buf, Header{Source: "/s", Dest: "/d"}, key)
	w.Add(Record{Path: "x", Status: StatusMigrated, Verdict: incident.Malicious, SHA256: strings.Repeat("a", 64), DestKey: "x",
		Verify: &Verification{Result: "ok", SHA256: strings.Repeat("a", 64)}})
	w.Add(Record{Path: "y", Status: StatusMigrated, Verdict: incident.Clean, SHA256: strings.Repeat("a", 64), DestKey: "y"})
	w.Close("", true)
	rep, err := Verify(&buf, VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() || len(rep.Problems) != 2 || !strings.Contains(rep.Problems[0].Reason, "migrated with verdict") ||
		!strings.Contains(rep.Problems[1].Reason, "read-back verification") {
		t.Fatalf("problems %v", rep.Problems)
	}
}

func TestNotAManifest(t *testing.T) {
	for _, in := range []string{"", "hello\n", `{"type":"file"}` + "\n", `{"type":"header","format":"other/9"}` + "\n"} {
		if _, err := Verify(strings.NewReader(in), VerifyOptions{}); err == nil {
			t.Errorf("Verify(%q) succeeded", in)
		}
	}
}

func TestKeys(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "migrate.key")
	pub, err := GenerateKey(path, "fs01 migration")
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("private key mode %v", fi.Mode())
	}
	priv, err := LoadPrivateKey(path)
	if err != nil || !priv.Public().(ed25519.PublicKey).Equal(pub) {
		t.Fatalf("LoadPrivateKey: %v", err)
	}
	p2, err := LoadPublicKey(path + ".pub")
	if err != nil || !p2.Equal(pub) {
		t.Fatalf("LoadPublicKey: %v", err)
	}
	if _, err := GenerateKey(path, ""); err == nil {
		t.Fatal("GenerateKey overwrote an existing key")
	}
	os.Chmod(path, 0o644)
	if _, err := LoadPrivateKey(path); err == nil || !strings.Contains(err.Error(), "readable by others") {
		t.Fatalf("LoadPrivateKey(0644) = %v", err)
	}
	os.Chmod(path+".pub", 0o600)
	if _, err := LoadPrivateKey(path + ".pub"); err == nil || !strings.Contains(err.Error(), "public key") {
		t.Fatalf("LoadPrivateKey(pub) = %v", err)
	}
	if b, _ := os.ReadFile(path); bytes.Contains(b, []byte(MarshalPublicKey(pub))) {
		t.Fatal("private key file holds the public key line")
	}
}

func FuzzVerify(f *testing.F) {
	m := sample(f, testKey(1))
	f.Add(m)
	ls := lines(m)
	f.Add(join(ls[:3]))
	f.Add(bytes.Replace(m, []byte("migrated"), []byte("refused"), 1))
	f.Add([]byte(`{"type":"header","format":"kintsugi-manifest/1","public_key":"kintsugi-ed25519-public:AAAA"}` + "\n{}\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		rep, err := Verify(bytes.NewReader(in), VerifyOptions{Each: func(int64, *Record) error { return nil }})
		if err == nil && rep.OK() && !bytes.Equal(in, m) && !bytes.HasPrefix(in, m[:len(m)-1]) {
			// Any other input that verifies must carry a valid signature
			// by the key in its header over its own chain.
			if !rep.Signed {
				t.Fatal("OK without a signature")
			}
		}
	})
}
