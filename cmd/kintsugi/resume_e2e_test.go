package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kintsugi-ir/kintsugi/internal/casestore/sqlite"
)

// TestScanResumes interrupts a scan (SIGINT, then kill -9) once some
// results are stored, and checks that the next run completes the job
// without examining the finished files again.
func TestScanResumes(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(7, 7))
	buf := make([]byte, 1<<20)
	for i := range 300 {
		// Text-like content: random bytes would (rightly) look encrypted.
		for j := range buf {
			buf[j] = "abcdefghij klmnopqrstuvwxyz\n"[rng.IntN(28)]
		}
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("clip%03d.bin", i)), buf, 0o644)
	}
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGKILL} {
		t.Run(sig.String(), func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "case.db")
			cmd := exec.Command(binary, "scan", "--case", db, "--workers", "1", "--host", "fs01", dir)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// Wait until the store holds some results, then interrupt.
			stored := waitForFiles(t, db, 20, 60*time.Second)
			cmd.Process.Signal(sig)
			err := cmd.Wait()
			if stored == 0 || cmd.ProcessState.ExitCode() == 0 && err == nil {
				t.Skipf("the scan finished before it could be interrupted (stored %d)", stored)
			}
			if sig == syscall.SIGINT && (cmd.ProcessState.ExitCode() != 2 || !strings.Contains(stderr.String(), "interrupted")) {
				t.Fatalf("after SIGINT: exit %d, stderr %q", cmd.ProcessState.ExitCode(), stderr.String())
			}
			r := kintsugi(t, nil, "scan", "--case", db, "--format", "jsonl", "--all", "--host", "fs01", dir)
			lines := parseJSONL(t, r.stdout)
			unchanged := 0
			for _, l := range lines {
				if l.Unchanged {
					unchanged++
				}
				if l.Verdict != "clean" {
					t.Errorf("%s: %s %s", l.Path, l.Verdict, l.Reason)
				}
			}
			if len(lines) != 300 || unchanged == 0 || unchanged == 300 {
				t.Fatalf("resume: %d records, %d unchanged; want 300 with some but not all unchanged", len(lines), unchanged)
			}
			t.Logf("%s after %d stored results: resume skipped %d files and examined %d", sig, stored, unchanged, 300-unchanged)
		})
	}
}

func waitForFiles(t *testing.T, db string, n int64, limit time.Duration) int64 {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		if _, err := os.Stat(db); err != nil {
			continue
		}
		s, err := sqlite.Open(context.Background(), db)
		if err != nil {
			continue
		}
		var total int64
		if hs, err := s.Hosts(context.Background()); err == nil && len(hs) > 0 {
			counts, _ := s.VerdictCounts(context.Background(), hs[0].ID)
			for _, c := range counts {
				total += c.Files
			}
		}
		s.Close()
		if total >= n {
			return total
		}
	}
	return 0
}
