package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/kintsugi-ir/kintsugi/internal/casestore"
	"github.com/kintsugi-ir/kintsugi/internal/incident"
	"github.com/kintsugi-ir/kintsugi/internal/scan/damage"
	"github.com/kintsugi-ir/kintsugi/internal/ui"
)

// Host summary kinds in the case store.
const (
	summaryImpact       = "impact"        // from full scans
	summaryImpactTriage = "impact-triage" // from scan --quick
)

// isNote tells a ransom-note finding: kintsugi's note rules, or any rule
// named as one.
func isNote(f incident.Finding) bool {
	r := strings.ToLower(f.Rule)
	return f.Verdict != incident.Clean && (strings.Contains(r, "ransom_note") || strings.Contains(r, "ransom-note"))
}

// addImpact counts one file's damage and notes.
func addImpact(imp *damage.HostImpact, path []byte, size int64, mtime time.Time, fs []incident.Finding) {
	counted, noted := false, false
	for _, f := range fs {
		switch {
		case !counted && f.Detector == "damage" && f.Verdict == incident.Encrypted && f.Member == "":
			var ev damage.Evidence
			json.Unmarshal(f.Evidence, &ev)
			imp.Add(ui.Path(string(path)), size, mtime, ev)
			counted = true
		case !noted && isNote(f):
			imp.AddNote(ui.Path(string(path)))
			noted = true
		}
	}
}

// updateImpact recomputes a host's ransomware impact from everything the
// case store holds for it and stores it as a host summary: count, bytes,
// appended extensions, notes, patterns, families and the encryption window.
func updateImpact(ctx context.Context, st casestore.Store, hostID int64, quick bool) (*damage.HostImpact, error) {
	imp := &damage.HostImpact{}
	kind := summaryImpact
	if quick {
		kind = summaryImpactTriage
		err := st.Triage(ctx, hostID, func(r casestore.TriageRecord) error {
			addImpact(imp, r.Path, r.Size, r.ModTime, r.Findings)
			return nil
		})
		if err != nil {
			return nil, err
		}
	} else {
		q := casestore.FileQuery{Verdicts: []incident.Verdict{incident.Encrypted, incident.Malicious, incident.Suspect}, WithFindings: true}
		err := st.Files(ctx, hostID, q, func(r casestore.FileRecord) error {
			addImpact(imp, r.Path, r.Size, r.ModTime, r.Findings)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	b, err := json.Marshal(imp)
	if err != nil {
		return nil, err
	}
	return imp, st.PutHostSummary(ctx, hostID, kind, b)
}

// printImpact shows a host's ransomware impact in a few lines.
func printImpact(w io.Writer, host string, imp *damage.HostImpact, quick bool) {
	if imp.Files == 0 && imp.NoteCount == 0 {
		return
	}
	what := "ransomware impact"
	if quick {
		what += " (triage)"
	}
	fmt.Fprintf(w, "\n%s on host %s: %d encrypted files (%s), %d ransom notes\n", what, host, imp.Files, ui.Bytes(imp.Bytes), imp.NoteCount)
	if !imp.First.IsZero() {
		fmt.Fprintf(w, "  encryption window (mtimes of damaged files): %s .. %s\n", imp.First.UTC().Format(time.RFC3339), imp.Last.UTC().Format(time.RFC3339))
	}
	if exts := imp.TopExtensions(); len(exts) > 0 {
		var parts []string
		for i, e := range exts {
			if i == 6 {
				break
			}
			parts = append(parts, fmt.Sprintf("%s (%d)", e, imp.Extensions[e]))
		}
		line := strings.Join(parts, ", ")
		if imp.OtherExtensions > 0 {
			line += fmt.Sprintf(", %d more with other extensions (random per file?)", imp.OtherExtensions)
		}
		if imp.KeptName > 0 {
			line += fmt.Sprintf(", %d kept their names", imp.KeptName)
		}
		fmt.Fprintf(w, "  appended extensions: %s\n", line)
	} else if imp.KeptName > 0 {
		fmt.Fprintf(w, "  %d damaged files kept their names\n", imp.KeptName)
	}
	if len(imp.Patterns) > 0 {
		fmt.Fprintf(w, "  patterns: %s\n", countList(imp.Patterns))
	}
	if len(imp.Families) > 0 {
		fmt.Fprintf(w, "  family guesses: %s\n", countList(imp.Families))
	}
}

func countList(m map[string]int64) string {
	type kv struct {
		k string
		v int64
	}
	var kvs []kv
	for k, v := range m {
		kvs = append(kvs, kv{k, v})
	}
	for i := range kvs {
		for j := i + 1; j < len(kvs); j++ {
			if kvs[j].v > kvs[i].v || kvs[j].v == kvs[i].v && kvs[j].k < kvs[i].k {
				kvs[i], kvs[j] = kvs[j], kvs[i]
			}
		}
	}
	var parts []string
	for _, p := range kvs {
		parts = append(parts, fmt.Sprintf("%s %d", p.k, p.v))
	}
	return strings.Join(parts, ", ")
}
