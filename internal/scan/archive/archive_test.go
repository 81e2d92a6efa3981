package archive

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"testing"
)

func zipBytes(t testing.TB, files map[string]string) []byte {
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	for n, c := range files {
		f, _ := w.Create(n)
		f.Write([]byte(c))
	}
	w.Close()
	return b.Bytes()
}

func tarGz(t testing.TB, files map[string]string) []byte {
	var b bytes.Buffer
	gz := gzip.NewWriter(&b)
	gz.Name = "backup.tar"
	tw := tar.NewWriter(gz)
	for n, c := range files {
		tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(c)), Typeflag: tar.TypeReg})
		tw.Write([]byte(c))
	}
	tw.Close()
	gz.Close()
	return b.Bytes()
}

func list(t *testing.T, data []byte, name string) (map[string]string, error) {
	got := map[string]string{}
	f := Detect(data)
	err := Walk(context.Background(), f, bytes.NewReader(data), int64(len(data)), name, func(m Member) error {
		rc, err := m.Open()
		if err != nil {
			return err
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		got[m.Name] = string(b)
		return err
	})
	return got, err
}

func TestDetectAndWalk(t *testing.T) {
	z := zipBytes(t, map[string]string{"a.txt": "A", "dir/b.txt": "B"})
	got, err := list(t, z, "x.zip")
	if err != nil || got["a.txt"] != "A" || got["dir/b.txt"] != "B" {
		t.Fatalf("zip: %v %v", got, err)
	}
	tg := tarGz(t, map[string]string{"c.txt": "C"})
	if Detect(tg) != Gzip {
		t.Fatalf("Detect(tar.gz) = %q", Detect(tg))
	}
	got, err = list(t, tg, "backup.tar.gz")
	if err != nil || len(got["backup.tar"]) == 0 {
		t.Fatalf("gzip member: %v %v", got, err)
	}
	inner := []byte(got["backup.tar"])
	if Detect(inner) != Tar {
		t.Fatalf("Detect(tar) = %q", Detect(inner))
	}
	got, err = list(t, inner, "backup.tar")
	if err != nil || got["c.txt"] != "C" {
		t.Fatalf("tar: %v %v", got, err)
	}
	if Detect([]byte("just text")) != None {
		t.Fatal("text detected as an archive")
	}
}

func TestCorruptIsReported(t *testing.T) {
	z := zipBytes(t, map[string]string{"a.txt": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"})
	_, err := list(t, z[:len(z)-30], "x.zip")
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("truncated zip: %v, want ErrCorrupt", err)
	}
}

// FuzzWalk walks crafted archives of every format: no panic, and reading
// stops within a bounded number of bytes per member.
func FuzzWalk(f *testing.F) {
	f.Add(zipBytes(f, map[string]string{"a": "hello"}))
	f.Add(tarGz(f, map[string]string{"b": "world"}))
	f.Add([]byte("7z\xbc\xaf\x27\x1c\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"))
	f.Add([]byte("Rar!\x1a\x07\x01\x00\x00\x00\x00\x00\x00\x00"))
	f.Add([]byte("\xfd7zXZ\x00\x00\x04\xe6\xd6\xb4\x46"))
	f.Add([]byte{0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0})
	f.Add([]byte("BZh91AY&SY"))
	f.Fuzz(func(t *testing.T, data []byte) {
		kind := Detect(data)
		if kind == None {
			return
		}
		ctx := context.Background()
		members := 0
		Walk(ctx, kind, bytes.NewReader(data), int64(len(data)), "fuzz.bin", func(m Member) error {
			members++
			if members > 1000 {
				return errors.New("too many")
			}
			rc, err := m.Open()
			if err != nil {
				return nil
			}
			defer rc.Close()
			io.Copy(io.Discard, io.LimitReader(rc, 8<<20))
			return nil
		})
	})
}
