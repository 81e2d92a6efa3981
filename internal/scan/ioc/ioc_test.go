package ioc

import (
	"context"
	"strings"
	"testing"

	"github.com/kintsugi-ir/kintsugi/internal/incident"
	"github.com/kintsugi-ir/kintsugi/internal/scan"
)

const eicarSHA256 = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"
const eicarMD5 = "44d88612fea8a8f36de82e1278abb02f"

func TestLoadHashes(t *testing.T) {
	tests := []struct {
		name, text string
		want       int
		md5, sha1  bool
		err        string
	}{
		{"plain", "# comment\n" + eicarSHA256 + "\n\n" + strings.ToUpper(eicarMD5) + "\n", 2, true, false, ""},
		{"loki layout", eicarSHA256 + ";EICAR test file\n", 1, false, false, ""},
		{"with bom and crlf", "\ufeff" + eicarSHA256 + "\r\n", 1, false, false, ""},
		{"sha1", "3395856ce81f2b7382dee72602f798b642f14140 eicar\n", 1, false, true, ""},
		{"malwarebazaar csv", `################################################################
# MalwareBazaar full data dump (CSV)                           #
################################################################
# "first_seen_utc","sha256_hash","md5_hash","sha1_hash","reporter","file_name","file_type_guess","mime_type","signature","clamav","vtpercent","imphash","ssdeep","tlsh"
"first_seen_utc","sha256_hash","md5_hash","sha1_hash","reporter","file_name","file_type_guess","mime_type","signature","clamav","vtpercent","imphash","ssdeep","tlsh"
"2025-12-01 10:00:00", "` + eicarSHA256 + `", "` + eicarMD5 + `", "3395856ce81f2b7382dee72602f798b642f14140", "abuse_ch", "eicar.com", "com", "text/plain", "EICAR", "n/a", "n/a", "n/a", "n/a", "n/a"
`, 3, true, true, ""},
		{"bad line", eicarSHA256 + "\nnot-a-hash\n", 0, false, false, "x.txt:2"},
		{"wrong length", "abcd\n", 0, false, false, "not an MD5"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := NewSet()
			err := s.LoadHashes(strings.NewReader(tc.text), "x.txt")
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one mentioning %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.Len() != tc.want || s.Needs().MD5 != tc.md5 || s.Needs().SHA1 != tc.sha1 {
				t.Fatalf("Len %d md5 %v sha1 %v; want %d %v %v", s.Len(), s.Needs().MD5, s.Needs().SHA1, tc.want, tc.md5, tc.sha1)
			}
		})
	}
}

func TestDetector(t *testing.T) {
	s := NewSet()
	if err := s.LoadHashes(strings.NewReader(eicarSHA256+";EICAR\n"), "h.txt"); err != nil {
		t.Fatal(err)
	}
	if err := s.LoadNames(strings.NewReader("# Renamed rclone\n(?i)/rcl\\.exe$;80\n(?i)/temp/[a-z]{8}\\.exe$;50\n"), "n.txt"); err != nil {
		t.Fatal(err)
	}
	d := NewDetector(s)
	tests := []struct {
		path, member, sha string
		want              incident.Verdict
		rule              string
	}{
		{"/e/eicar.com", "", eicarSHA256, incident.Malicious, "sha256"},
		{"/e/other", "", strings.Repeat("0", 64), incident.Clean, ""},
		{"/e/tools.zip", "bin/RCL.EXE", strings.Repeat("0", 64), incident.Malicious, "filename"},
		{"/e/temp/abcdefgh.exe", "", strings.Repeat("0", 64), incident.Suspect, "filename"},
	}
	for _, tc := range tests {
		f := &scan.File{Path: tc.path, Member: tc.member, Sums: &scan.Sums{SHA256: tc.sha}}
		ex, err := d.Begin(context.Background(), f)
		if err != nil {
			t.Fatal(err)
		}
		fs, err := ex.Close(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if v := incident.FileVerdict(fs); v != tc.want || (tc.rule != "" && fs[0].Rule != tc.rule) {
			t.Fatalf("%s!%s: %+v, want %s/%s", tc.path, tc.member, fs, tc.want, tc.rule)
		}
	}
}

func FuzzLoadHashes(f *testing.F) {
	f.Add([]byte(eicarSHA256 + "\n# c\n" + eicarMD5 + ";x\n"))
	f.Add([]byte("\"sha256_hash\",\"md5_hash\"\n\"" + eicarSHA256 + "\",\"" + eicarMD5 + "\"\n"))
	f.Add([]byte("# only comments\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s := NewSet()
		if err := s.LoadHashes(strings.NewReader(string(b)), "fuzz"); err == nil {
			for h, e := range s.hashes {
				if len(h) != 32 && len(h) != 40 && len(h) != 64 || e.kind == "" {
					t.Fatalf("accepted %q as %s", h, e.kind)
				}
			}
		}
	})
}

func FuzzLoadNames(f *testing.F) {
	f.Add([]byte("# desc\n(?i)rclone\\.exe;80\n"))
	f.Add([]byte("a;b;c\n[unclosed\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s := NewSet()
		_ = s.LoadNames(strings.NewReader(string(b)), "fuzz")
	})
}
