package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/spf13/pflag"

	"github.com/kintsugi-ir/kintsugi/internal/migrate/dest"
	"github.com/kintsugi-ir/kintsugi/internal/migrate/dest/local"
	"github.com/kintsugi-ir/kintsugi/internal/migrate/dest/s3"
	"github.com/kintsugi-ir/kintsugi/internal/ui"
)

// s3Flags say how to reach S3. The secret key never goes on the command
// line (it would show in ps and shell history): it comes from the
// environment, the AWS credentials file, or --s3-secret-key-file.
type s3Flags struct {
	endpoint, region  string
	accessKey, secret string
	profile           string
	singlePut, part   string
}

func addS3Flags(f *pflag.FlagSet, o *s3Flags) {
	f.StringVar(&o.endpoint, "s3-endpoint", "", "S3 endpoint `URL` (default $AWS_ENDPOINT_URL_S3, $AWS_ENDPOINT_URL, else AWS)")
	f.StringVar(&o.region, "s3-region", "", "S3 region (default $AWS_REGION, $AWS_DEFAULT_REGION, else us-east-1)")
	f.StringVar(&o.accessKey, "s3-access-key", "", "S3 access key `ID` (default $AWS_ACCESS_KEY_ID or the AWS credentials file)")
	f.StringVar(&o.secret, "s3-secret-key-file", "", "read the S3 secret key from `FILE` (default $AWS_SECRET_ACCESS_KEY or the AWS credentials file)")
	f.StringVar(&o.profile, "s3-profile", "", "profile of the AWS credentials file (default $AWS_PROFILE, else default)")
	f.StringVar(&o.singlePut, "s3-single-put-max", "64M", "objects up to `SIZE` are held in memory while screened and uploaded in one PUT; larger ones go through a temporary multipart upload and a server-side copy")
	f.StringVar(&o.part, "s3-part-size", "16M", "multipart upload part `SIZE` (at least 5M)")
}

// destination is a parsed DST with the name that identifies it in the
// migrate journal.
type destination struct {
	dest.Destination
	id    string
	local string // the folder, for a local destination
	name  string // shown instead of String() when set
}

func (d *destination) display() string {
	if d.name != "" {
		return d.name
	}
	return d.String()
}

func firstEnv(g *globals, names ...string) string {
	for _, n := range names {
		if v := g.getenv(n); v != "" {
			return v
		}
	}
	return ""
}

// openDestination opens DST: s3://bucket/prefix or a local folder.
func openDestination(ctx context.Context, g *globals, dst string, o *s3Flags) (*destination, error) {
	if !strings.HasPrefix(dst, "s3://") {
		if strings.Contains(dst, "://") {
			return nil, usageError{fmt.Errorf("destination %q: want a folder or s3://bucket/prefix", dst)}
		}
		d, err := local.New(dst)
		if err != nil {
			return nil, err
		}
		return &destination{Destination: d, id: d.String(), local: d.String()}, nil
	}
	bucket, prefix, err := s3.ParseURL(dst)
	if err != nil {
		return nil, usageError{err}
	}
	endpoint := o.endpoint
	if endpoint == "" {
		endpoint = firstEnv(g, "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
	}
	region := o.region
	if region == "" {
		region = firstEnv(g, "AWS_REGION", "AWS_DEFAULT_REGION")
	}
	if region == "" {
		region = "us-east-1"
	}
	creds, err := s3Credentials(g, o)
	if err != nil {
		return nil, err
	}
	single, err := ui.ParseSize(o.singlePut)
	if err != nil {
		return nil, usageError{fmt.Errorf("--s3-single-put-max: %w", err)}
	}
	part, err := ui.ParseSize(o.part)
	if err != nil || part < 5<<20 {
		return nil, usageError{fmt.Errorf("--s3-part-size %q: want a size of at least 5M", o.part)}
	}
	cfg := s3.Config{Endpoint: endpoint, Region: region, Creds: creds, Bucket: bucket, Prefix: prefix, SinglePutMax: single, PartSize: part}
	if ca := g.getenv("AWS_CA_BUNDLE"); ca != "" && strings.HasPrefix(endpoint, "https://") {
		if cfg.Transport, err = caTransport(ca); err != nil {
			return nil, withHint(fmt.Errorf("AWS_CA_BUNDLE: %w", err), "point AWS_CA_BUNDLE at a PEM file with the CA certificates of the S3 endpoint, or unset it")
		}
	}
	b, err := s3.New(ctx, cfg)
	if err != nil {
		return nil, withHint(err, "check --s3-endpoint (or AWS_ENDPOINT_URL), the bucket name and the credentials",
			"credentials come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, the AWS credentials file, or --s3-access-key with --s3-secret-key-file")
	}
	return &destination{Destination: b, id: b.ID()}, nil
}

func s3Credentials(g *globals, o *s3Flags) (*credentials.Credentials, error) {
	if o.accessKey != "" || o.secret != "" {
		if o.accessKey == "" || o.secret == "" {
			return nil, usageError{errors.New("--s3-access-key and --s3-secret-key-file go together")}
		}
		b, err := os.ReadFile(o.secret)
		if err != nil {
			return nil, fmt.Errorf("S3 secret key file: %w", err)
		}
		return credentials.NewStaticV4(o.accessKey, strings.TrimSpace(string(b)), ""), nil
	}
	if ak, sk := firstEnv(g, "AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY"), firstEnv(g, "AWS_SECRET_ACCESS_KEY", "AWS_SECRET_KEY"); ak != "" && sk != "" {
		return credentials.NewStaticV4(ak, sk, g.getenv("AWS_SESSION_TOKEN")), nil
	}
	profile := o.profile
	if profile == "" {
		profile = g.getenv("AWS_PROFILE")
	}
	file := g.getenv("AWS_SHARED_CREDENTIALS_FILE")
	if file == "" {
		if home, err := os.UserHomeDir(); err == nil {
			file = filepath.Join(home, ".aws", "credentials")
		}
	}
	if _, err := os.Stat(file); err != nil {
		return nil, withHint(errors.New("no S3 credentials"),
			"set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or use --s3-access-key with --s3-secret-key-file, or an AWS credentials file")
	}
	return credentials.NewFileAWSCredentials(file, profile), nil
}

// inside reports whether path lies in or under dir.
func inside(path, dir string) bool {
	return path == dir || strings.HasPrefix(path, dir+string(filepath.Separator))
}

// caTransport trusts the CA certificates in a PEM file (AWS_CA_BUNDLE), as
// the AWS tools do, for S3 endpoints with a private CA.
func caTransport(path string) (http.RoundTripper, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return t, nil
}
