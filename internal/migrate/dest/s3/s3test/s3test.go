// Package s3test starts a real S3-compatible server for tests: versitygw
// (Apache-2.0) with its POSIX backend in a temporary folder, on a loopback
// port, with access keys made up for the test. The binary is found in
// $KINTSUGI_VERSITYGW or the user cache, and built there with go install
// when missing (about 3 minutes, once). Only tests import this package.
package s3test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"golang.org/x/sys/unix"
)

// Version is the versitygw release the tests run against.
const Version = "v1.8.0"

// Server is a running versitygw.
type Server struct {
	Endpoint       string // http://127.0.0.1:port
	Access, Secret string
	Bucket         string
	Root           string // the POSIX backend folder: Root/Bucket/key
	Client         *minio.Client
}

// Env returns the AWS environment variables that point kintsugi at s.
func (s *Server) Env() []string {
	return []string{"AWS_ACCESS_KEY_ID=" + s.Access, "AWS_SECRET_ACCESS_KEY=" + s.Secret, "AWS_ENDPOINT_URL=" + s.Endpoint, "AWS_REGION=us-east-1"}
}

// Binary returns the path of the versitygw binary, building it if needed.
func Binary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("KINTSUGI_VERSITYGW"); p != "" {
		return p
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "kintsugi-tools", "versitygw-"+Version)
	bin := filepath.Join(dir, "versitygw")
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	lock, err := os.OpenFile(dir+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	unix.Flock(int(lock.Fd()), unix.LOCK_EX)
	defer unix.Flock(int(lock.Fd()), unix.LOCK_UN)
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	t.Logf("building versitygw %s into %s (once; about 3 minutes)", Version, dir)
	cmd := exec.Command("go", "install", "github.com/versity/versitygw/cmd/versitygw@"+Version)
	cmd.Env = append(os.Environ(), "GOBIN="+dir, "GOFLAGS=-mod=mod")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go install versitygw %s: %v\n%s", Version, err, out)
	}
	return bin
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Start runs a server for the test, with one empty bucket, and stops it
// when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := Binary(t)
	root := t.TempDir()
	s := &Server{Access: "kt" + randomHex(8), Secret: randomHex(20), Bucket: "migrate-test", Root: root}
	var lastErr error
	for try := 0; try < 5; try++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		logf, _ := os.Create(filepath.Join(t.TempDir(), "versitygw.log"))
		cmd := exec.Command(bin, "--port", addr, "--quiet", "posix", root)
		// Keys through the environment, never on a command line.
		cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY_ID="+s.Access, "ROOT_SECRET_ACCESS_KEY="+s.Secret)
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		t.Cleanup(func() {
			cmd.Process.Kill()
			<-exited
			logf.Close()
		})
		s.Endpoint = "http://" + addr
		c, err := minio.New(addr, &minio.Options{Creds: credentials.NewStaticV4(s.Access, s.Secret, ""), Region: "us-east-1"})
		if err != nil {
			t.Fatal(err)
		}
		s.Client = c
		if lastErr = waitReady(c, exited); lastErr == nil {
			if err := c.MakeBucket(context.Background(), s.Bucket, minio.MakeBucketOptions{}); err != nil {
				t.Fatalf("make bucket: %v", err)
			}
			return s
		}
		b, _ := os.ReadFile(logf.Name())
		lastErr = fmt.Errorf("%v: %s", lastErr, strings.TrimSpace(string(b)))
	}
	t.Fatalf("versitygw did not start: %v", lastErr)
	return nil
}

func waitReady(c *minio.Client, exited <-chan error) error {
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return fmt.Errorf("versitygw exited: %v", err)
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := c.ListBuckets(ctx)
		cancel()
		if err == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("no answer within 20s")
}

// Objects lists every object under prefix with its size (temporary
// uploads included, so that tests can assert there are none).
func (s *Server) Objects(t testing.TB, prefix string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for o := range s.Client.ListObjects(context.Background(), s.Bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		out[o.Key] = o.Size
	}
	return out
}

// IncompleteUploads counts the multipart uploads that were never
// completed or aborted under prefix.
func (s *Server) IncompleteUploads(t testing.TB, prefix string) int {
	t.Helper()
	n := 0
	for u := range s.Client.ListIncompleteUploads(context.Background(), s.Bucket, prefix, true) {
		if u.Err != nil {
			t.Fatal(u.Err)
		}
		n++
	}
	return n
}
