package s3

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/kintsugi-ir/kintsugi/internal/migrate/dest/desttest"
	"github.com/kintsugi-ir/kintsugi/internal/migrate/dest/s3/s3test"
)

func TestConformance(t *testing.T) {
	srv := s3test.Start(t)
	n := 0
	desttest.Run(t, func(t *testing.T) desttest.Target {
		n++
		prefix := "run" + strings.Repeat("x", n%3) + "/" + t.Name()
		b, err := New(context.Background(), Config{Endpoint: srv.Endpoint, Region: "us-east-1", Creds: credentials.NewStaticV4(srv.Access, srv.Secret, ""),
			Bucket: srv.Bucket, Prefix: prefix, SinglePutMax: 6 << 20, PartSize: 5 << 20})
		if err != nil {
			t.Fatal(err)
		}
		return desttest.Target{Dest: b, BigSize: 12<<20 + 12345, Leftovers: func(t *testing.T) []string {
			var l []string
			for k := range srv.Objects(t, b.prefix+TempDir) {
				l = append(l, k)
			}
			if n := srv.IncompleteUploads(t, b.prefix); n > 0 {
				l = append(l, fmt.Sprintf("%d incomplete multipart uploads", n))
			}
			return l
		}}
	})
}

func TestMapName(t *testing.T) {
	b := &Bucket{prefix: "fs01/"}
	tests := []struct {
		rel, key string
		mapped   bool
	}{
		{"a/b.txt", "a/b.txt", false},
		{"ファイル/が.mov", "ファイル/が.mov", false},
		{"か\u3099.txt", "か\u3099.txt", false}, // NFD stays as is
		{"dir/\x8c\x5f\x96\xf1\x8f\x91.txt", "dir/契約書.txt", true},
		{"\xff\xfe.bin", "%FF%FE.bin", true},
		{"tab\there", "tab%09here", true},
	}
	for _, tc := range tests {
		k, m, err := b.MapName(tc.rel)
		if err != nil || k != tc.key || (m != "") != tc.mapped {
			t.Errorf("MapName(%q) = %q, %q, %v; want %q (mapped %v)", tc.rel, k, m, err, tc.key, tc.mapped)
		}
	}
	if k := b.TempName("x", "tag1"); !strings.HasPrefix(k, TempDir+"/tag1-") {
		t.Errorf("TempName = %q", k)
	}
	for _, rel := range []string{".kintsugi-tmp/x", strings.Repeat("a", 1100)} {
		if _, _, err := b.MapName(rel); err == nil {
			t.Errorf("MapName(%q) accepted", rel)
		}
	}
}
