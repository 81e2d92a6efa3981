//go:build linux

package watch

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kintsugi-ir/kintsugi/internal/testcorpus"
	"github.com/kintsugi-ir/kintsugi/internal/watch/alert"
	"github.com/kintsugi-ir/kintsugi/internal/watch/ransomsim"
	"github.com/kintsugi-ir/kintsugi/internal/watch/watchtest"
)

// peerJobs are the copy, sync, archive and compression jobs that must
// never be stopped, run over a tree in the watched file system: into new
// trees, over existing copies, in place (gzip -r), and with passwords
// (7z -p writes one new, protected archive and leaves the originals).
func peerJobs(src, work string) [][]string {
	j := func(parts ...string) []string { return parts }
	return [][]string{
		j("cp", "-a", src, work+"/cp"),
		j("cp", "-a", "-T", src, work+"/cp"), // again, over the copy
		j("rsync", "-a", src+"/", work+"/rsync/"),
		j("rsync", "-a", "--ignore-times", src+"/", work+"/rsync/"), // rewrites every file
		j("rsync", "-a", "--inplace", "--ignore-times", src+"/", work+"/rsync/"),
		j("rclone", "copy", "--config", "/dev/null", src, work+"/rclone"),
		j("rclone", "sync", "--config", "/dev/null", "--ignore-times", src, work+"/rclone"),
		j("tar", "-C", src, "-czf", work+"/tree.tgz", "."),
		j("mkdir", "-p", work+"/untar"),
		j("tar", "-C", work+"/untar", "-xzf", work+"/tree.tgz"),
		j("tar", "-C", work+"/untar", "-xzf", work+"/tree.tgz"), // over the extracted tree
		j("cp", "-a", src, work+"/gz"),
		j("gzip", "-r", work+"/gz"),  // each file replaced by its .gz
		j("gzip", "-dr", work+"/gz"), // and back
		j("7z", "a", "-bd", "-mx=1", work+"/tree.7z", src),
		j("7z", "a", "-bd", "-mx=1", "-psecret", "-mhe=on", work+"/protected.7z", src),
		j("7z", "x", "-bd", "-y", "-o"+work+"/un7z", work+"/tree.7z"),
		j("7z", "x", "-bd", "-y", "-o"+work+"/un7z", work+"/tree.7z"), // over the extracted tree
	}
}

// TestPeersAreNeverStopped: rclone, cp, rsync, tar, gzip and 7z over the
// simulator's tree and over make-corpus's (which holds ransomware-damaged
// files and ransom notes) are never stopped.
func TestPeersAreNeverStopped(t *testing.T) {
	for _, tool := range []string{"rclone", "rsync", "7z", "gzip", "tar"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed; CI installs it", tool)
		}
	}
	trees := map[string]func(t *testing.T, dst string){
		"simulator-tree": func(t *testing.T, dst string) {
			if _, err := ransomsim.Prepare(dst, 300, 7); err != nil {
				t.Fatal(err)
			}
		},
		"make-corpus": func(t *testing.T, dst string) {
			// every damaged file and note, and the intact files but the
			// bulky images and video (their damaged copies stay)
			dir, _ := testcorpus.Get(t, "test", 1)
			if out, err := exec.Command("cp", "-a", dir+"/.", dst).CombinedOutput(); err != nil {
				t.Fatalf("%v %s", err, out)
			}
			os.RemoveAll(filepath.Join(dst, "intact", "images"))
			os.RemoveAll(filepath.Join(dst, "intact", "video"))
		},
	}
	for name, fill := range trees {
		t.Run(name, func(t *testing.T) {
			fs := watchtest.Tmpfs(t, 2048)
			src := filepath.Join(fs, "share")
			os.Mkdir(src, 0o755)
			fill(t, src) // written by the test process: the agent's own, so settled
			work := filepath.Join(fs, "jobs")
			os.Mkdir(work, 0o755)
			r := startAgent(t, &Config{Paths: []string{fs}})
			for _, job := range peerJobs(src, work) {
				cmd := exec.Command(job[0], job[1:]...)
				start := time.Now()
				out, err := cmd.CombinedOutput()
				var ee *exec.ExitError
				switch {
				case errors.As(err, &ee) && !ee.Exited():
					t.Errorf("%s: %v (stopped)", strings.Join(job, " "), err)
				case err != nil:
					// the tool's own complaint (gzip -d on a damaged .gz)
					t.Logf("%s: %v: %s", strings.Join(job, " "), err, lastLine(out))
				}
				t.Logf("%s: %s", strings.Join(job[:2], " "), time.Since(start).Round(time.Millisecond))
			}
			r.settle()
			r.stop()
			for _, a := range r.col.of(alert.KindRansomware, alert.KindCanary) {
				t.Errorf("a peer job was stopped: %s %v", a.Summary, a.Tree[0].Args)
				for _, e := range a.Evidence {
					t.Logf("  %s %s %s %.0f %s %s", e.Kind, e.Path, e.OldPath, e.Weight, e.Content, e.Detail)
				}
			}
			st := r.agent.Stats()
			t.Logf("%d events in watched trees, %d content judgements, %d note alerts", st.Watched.Load(), st.Judged.Load(), len(r.col.of(alert.KindNote)))
		})
	}
}

func lastLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return s
}
