package main

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"sync"

	"github.com/spf13/cobra"

	"github.com/kintsugi-ir/kintsugi/internal/migrate/dest"
	"github.com/kintsugi-ir/kintsugi/internal/migrate/manifest"
	"github.com/kintsugi-ir/kintsugi/internal/ui"
)

type manifestVerifyOptions struct {
	key     string
	format  string
	workers int
	s3      s3Flags
}

func newManifestCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "manifest",
		Short: "Check a migration manifest",
		Example: `  kintsugi manifest verify --key migrate.key.pub kintsugi-manifest-fs01-20251203T101500Z.jsonl
  kintsugi manifest verify --key migrate.key.pub fs01.jsonl s3://recovery/fs01`,
	}
	o := &manifestVerifyOptions{}
	verify := &cobra.Command{
		Use:   "verify [flags] MANIFEST [DST]",
		Short: "Check a manifest's signature and hash chain, and with DST re-read every migrated file",
		Long: `verify checks that MANIFEST is intact: every line chained to the one before
by its SHA-256, the totals adding up, and the chain head signed by the key in
its header. With --key it also checks that this key is yours (the .pub file
from 'kintsugi key generate'); without --key it prints the key id so that you
can compare it with the one you were given.

With DST (the folder or s3://bucket/prefix the files were migrated to), it
reads every migrated file back from the destination and compares its size and
SHA-256 with the manifest, and checks that no refused file is there.

Exit status: 0 when everything checks out, 1 when anything does not, 2 when
MANIFEST cannot be read.`,
		Example: `  kintsugi manifest verify --key migrate.key.pub fs01-manifest.jsonl
  kintsugi manifest verify --key migrate.key.pub fs01-manifest.jsonl /srv/clean/fs01
  AWS_ENDPOINT_URL=https://s3.example.jp kintsugi manifest verify fs01-manifest.jsonl s3://recovery/fs01`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			dst := ""
			if len(args) == 2 {
				dst = args[1]
			}
			return runManifestVerify(cmd.Context(), g, o, args[0], dst)
		},
	}
	f := verify.Flags()
	f.StringVar(&o.key, "key", "", "the public key `FILE` (KEY.pub) that must have signed the manifest")
	f.StringVar(&o.format, "format", "table", "output: table or jsonl (one problem per line, then the summary)")
	f.IntVar(&o.workers, "workers", 4, "files read back from DST at once")
	addS3Flags(f, &o.s3)
	cmd.AddCommand(verify)
	return cmd
}

// verifySummary is the machine-readable result of manifest verify.
type verifySummary struct {
	Manifest   string             `json:"manifest"`
	OK         bool               `json:"ok"`
	KeyID      string             `json:"key_id"`
	Trusted    bool               `json:"key_trusted"`
	Signed     bool               `json:"signed"`
	Complete   bool               `json:"complete"`
	Records    int64              `json:"records"`
	Counts     manifest.Counts    `json:"counts"`
	Dest       string             `json:"dest,omitempty"`
	ReadBack   int64              `json:"read_back,omitempty"`
	ReadBytes  int64              `json:"read_back_bytes,omitempty"`
	Problems   []manifest.Problem `json:"problems"`
	SourceRoot string             `json:"source"`
}

func runManifestVerify(ctx context.Context, g *globals, o *manifestVerifyOptions, path, dst string) error {
	format, err := ui.ParseFormat(o.format, ui.FormatTable, ui.FormatJSONL)
	if err != nil {
		return usageError{err}
	}
	var pub ed25519.PublicKey
	if o.key != "" {
		if pub, err = manifest.LoadPublicKey(o.key); err != nil {
			return withHint(fmt.Errorf("--key: %w", err), "pass the .pub file written by 'kintsugi key generate'")
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var d *destination
	if dst != "" {
		if !isS3(dst) {
			if fi, err := os.Stat(dst); err != nil || !fi.IsDir() {
				return usageError{fmt.Errorf("DST %s is not a folder", dst)}
			}
		}
		if d, err = openDestination(ctx, g, dst, &o.s3); err != nil {
			return err
		}
	}
	sum := &verifySummary{Manifest: path, Problems: []manifest.Problem{}}
	var mu sync.Mutex
	var extra []manifest.Problem
	jobs := make(chan func(), 2*max(o.workers, 1))
	var wg sync.WaitGroup
	for range max(o.workers, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for fn := range jobs {
				fn()
			}
		}()
	}
	opts := manifest.VerifyOptions{PublicKey: pub}
	if d != nil {
		sum.Dest = d.String()
		opts.Each = func(line int64, r *manifest.Record) error {
			rec := *r
			jobs <- func() {
				n, err := checkDestination(ctx, d, &rec)
				mu.Lock()
				defer mu.Unlock()
				if n >= 0 {
					sum.ReadBack++
					sum.ReadBytes += n
				}
				if err != nil {
					extra = append(extra, manifest.Problem{Line: line, Reason: rec.Path + ": " + err.Error()})
				}
			}
			return nil
		}
	}
	rep, err := manifest.Verify(f, opts)
	close(jobs)
	wg.Wait()
	if err != nil {
		if errors.Is(err, manifest.ErrNotManifest) {
			return withHint(fmt.Errorf("%s: %w", path, err), "pass the .jsonl file that kintsugi migrate wrote")
		}
		return fmt.Errorf("%s: %w", path, err)
	}
	sort.Slice(extra, func(a, b int) bool { return extra[a].Line < extra[b].Line })
	sum.Problems = append(sum.Problems, rep.Problems...)
	sum.Problems = append(sum.Problems, extra...)
	sum.KeyID, sum.Trusted, sum.Signed, sum.Complete, sum.Records, sum.Counts = rep.KeyID, rep.Trusted, rep.Signed, rep.End.Complete, rep.Records, rep.Counts
	sum.SourceRoot = rep.Header.Source
	sum.OK = rep.Signed && len(sum.Problems) == 0
	if format == ui.FormatJSONL {
		jw := ui.NewJSONL(g.stdout)
		if err := jw.Write(sum); err != nil {
			return err
		}
	} else {
		printVerify(g, sum, rep, pub != nil)
	}
	if !sum.OK {
		return errFound
	}
	return nil
}

func isS3(s string) bool { return len(s) > 5 && s[:5] == "s3://" }

// checkDestination re-reads one record's object. It returns the bytes
// read (-1 when nothing was read) and what is wrong.
func checkDestination(ctx context.Context, d dest.Destination, r *manifest.Record) (int64, error) {
	key, err := r.Key()
	if err != nil {
		return -1, fmt.Errorf("dest_key_b64: %v", err)
	}
	switch r.Status {
	case manifest.StatusRefused:
		if key == "" {
			return -1, nil
		}
		if _, err := d.Stat(ctx, key); err == nil {
			return -1, fmt.Errorf("refused (%s) but present at the destination as %s", r.Verdict, ui.Path(key))
		} else if !errors.Is(err, dest.ErrNotExist) {
			return -1, fmt.Errorf("cannot check the destination: %v", err)
		}
		return -1, nil
	case manifest.StatusMigrated:
	default:
		return -1, nil
	}
	info, err := d.Stat(ctx, key)
	if err != nil {
		if errors.Is(err, dest.ErrNotExist) {
			return -1, fmt.Errorf("missing at the destination (%s)", ui.Path(key))
		}
		return -1, err
	}
	if info.SHA256 != "" && info.SHA256 != r.SHA256 {
		return -1, fmt.Errorf("destination metadata says SHA-256 %s, the manifest %s", info.SHA256, r.SHA256)
	}
	rc, err := d.ReadBack(ctx, key)
	if err != nil {
		return -1, err
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(h, rc)
	if err != nil {
		return n, fmt.Errorf("reading back: %v", err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); n != r.Size || got != r.SHA256 {
		return n, fmt.Errorf("the destination holds %d bytes with SHA-256 %s; the manifest says %d bytes with %s", n, got, r.Size, r.SHA256)
	}
	return n, nil
}

func printVerify(g *globals, s *verifySummary, rep *manifest.Report, keyGiven bool) {
	w := g.stdout
	verdict := "OK"
	if !s.OK {
		verdict = "FAILED"
	}
	fmt.Fprintf(w, "manifest %s: %s\n", s.Manifest, verdict)
	fmt.Fprintf(w, "  job: %s → %s, rules %s, %d records\n", rep.Header.Source, rep.Header.Dest, rep.Header.RuleSet, s.Records)
	c := s.Counts
	fmt.Fprintf(w, "  %d migrated (%s), %d refused, %d failed, %d skipped\n", c.Migrated, ui.Bytes(c.MigratedBytes), c.Refused, c.Failed, c.Skipped)
	switch {
	case !s.Signed:
		fmt.Fprintf(w, "  signature: NOT VALID (key %s)\n", s.KeyID)
	case keyGiven && s.Trusted:
		fmt.Fprintf(w, "  signature: valid, by your key %s\n", s.KeyID)
	case keyGiven:
		fmt.Fprintf(w, "  signature: valid, but by key %s, NOT the key you gave\n", s.KeyID)
	default:
		fmt.Fprintf(w, "  signature: valid, by key %s (the key named in the manifest: pass --key KEY.pub to check it is the expected one)\n", s.KeyID)
	}
	if !s.Complete && s.Signed {
		fmt.Fprintln(w, "  the run that wrote it did not finish: it covers the job up to its interruption")
	}
	if s.Dest != "" {
		fmt.Fprintf(w, "  destination %s: %d files (%s) read back\n", s.Dest, s.ReadBack, ui.Bytes(s.ReadBytes))
	}
	for i, p := range s.Problems {
		if i == 50 {
			fmt.Fprintf(w, "  ... and %d more problems (--format jsonl lists them)\n", len(s.Problems)-50)
			break
		}
		fmt.Fprintf(w, "  problem: %s\n", p)
	}
}
