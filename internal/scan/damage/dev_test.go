package damage

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDevFiles classifies the files named in KINTSUGI_DAMAGE_FILES and
// prints the results (a development aid; skipped when unset).
func TestDevFiles(t *testing.T) {
	env := os.Getenv("KINTSUGI_DAMAGE_FILES")
	if env == "" {
		t.Skip("KINTSUGI_DAMAGE_FILES not set")
	}
	for _, p := range strings.Split(env, ",") {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		st, _ := f.Stat()
		start := time.Now()
		res, err := Classify(context.Background(), f, st.Size(), filepath.Base(p), Options{Quick: os.Getenv("QUICK") != ""})
		f.Close()
		ev, _ := json.Marshal(res.Evidence)
		t.Logf("%s (%v): %s %s\n  %s", p, time.Since(start), res.Verdict, res.Reason, ev)
		if err != nil {
			t.Log(err)
		}
	}
}
