package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kintsugi-ir/kintsugi/internal/casestore"
	"github.com/kintsugi-ir/kintsugi/internal/hunt"
	"github.com/kintsugi-ir/kintsugi/internal/hunt/correlate"
	"github.com/kintsugi-ir/kintsugi/internal/incident"
	"github.com/kintsugi-ir/kintsugi/internal/ui"
)

func newHostsCommand(g *globals) *cobra.Command {
	var format, tz string
	cmd := &cobra.Command{
		Use:   "hosts",
		Short: "Show the case's per-server verdicts: accessed, encrypted, exfiltrated",
		Long: `hosts shows one line per server of the case: whether it was accessed,
had files encrypted, or had data sent out, with first and last evidence and how
much evidence there is. Accessed and exfiltrated come from kintsugi hunt;
encrypted from hunt's log evidence or from files kintsugi scan found encrypted
on the same host. Hosts are merged by name without domain, in any case.

` + exitHelpText,
		Example: `  kintsugi hosts
  kintsugi hosts --format jsonl | jq 'select(.encrypted)'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "table" && format != "jsonl" {
				return usageError{fmt.Errorf("--format %q: want table or jsonl", format)}
			}
			loc, err := time.LoadLocation(tz)
			if err != nil {
				return usageError{fmt.Errorf("--tz %q: %w", tz, err)}
			}
			return runHosts(cmd.Context(), g, format, loc)
		},
	}
	cmd.Flags().StringVar(&format, "format", "table", "output `FORMAT`: table or jsonl")
	cmd.Flags().StringVar(&tz, "tz", "Asia/Tokyo", "time `ZONE` for the table")
	return cmd
}

// hostVerdict is one host's verdicts from scan and hunt together.
type hostVerdict struct {
	Host          string     `json:"host"`
	Names         []string   `json:"names,omitempty"`
	Accessed      bool       `json:"accessed"`
	Encrypted     bool       `json:"encrypted"`
	Exfiltrated   bool       `json:"exfiltrated"`
	FirstSeen     *time.Time `json:"first_seen"`
	LastSeen      *time.Time `json:"last_seen"`
	EvidenceCount int        `json:"evidence_count"`
	// Hunted says whether hunt covered the host; Scanned whether scan did.
	Hunted  bool `json:"hunted"`
	Scanned bool `json:"scanned"`
	// Scan counts.
	FilesScanned   int64 `json:"files_scanned,omitempty"`
	FilesEncrypted int64 `json:"files_encrypted,omitempty"`
	FilesMalicious int64 `json:"files_malicious,omitempty"`
	FilesNotFully  int64 `json:"files_not_fully_examined,omitempty"`
	// Reasons say why each verdict is yes.
	AccessedReason    string `json:"accessed_reason,omitempty"`
	EncryptedReason   string `json:"encrypted_reason,omitempty"`
	ExfiltratedReason string `json:"exfiltrated_reason,omitempty"`
}

func runHosts(ctx context.Context, g *globals, format string, loc *time.Location) error {
	s, err := g.openStore(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	vs, err := hostVerdicts(ctx, s)
	if err != nil {
		return fmt.Errorf("case store: %w", err)
	}
	if len(vs) == 0 {
		fmt.Fprintf(g.stderr, "kintsugi: no hosts in case %s\n", g.casePath)
		fmt.Fprintln(g.stderr, "hint: run kintsugi scan or kintsugi hunt first, or choose the case with --case PATH")
		return nil
	}
	if format == "jsonl" {
		err = writeHostsJSONL(g.stdout, vs)
	} else {
		err = writeHostsTable(g.stdout, vs, loc)
	}
	if err != nil {
		return err
	}
	for _, v := range vs {
		if v.Accessed || v.Encrypted || v.Exfiltrated || v.FilesMalicious > 0 || v.FilesNotFully > 0 {
			return errFound
		}
	}
	return nil
}

// hostVerdicts merges the stored hunt verdicts and scan counts by host key.
func hostVerdicts(ctx context.Context, s casestore.Store) ([]hostVerdict, error) {
	hosts, err := s.Hosts(ctx)
	if err != nil {
		return nil, err
	}
	hunts, err := s.HuntHosts(ctx)
	if err != nil {
		return nil, err
	}
	huntByID := map[int64]casestore.HuntHost{}
	for _, h := range hunts {
		huntByID[h.HostID] = h
	}
	byKey := map[string]*hostVerdict{}
	var keys []string
	for _, h := range hosts {
		k := hunt.HostKey(h.Name)
		v := byKey[k]
		if v == nil {
			v = &hostVerdict{Host: k}
			byKey[k] = v
			keys = append(keys, k)
		}
		v.Names = append(v.Names, h.Name)
		if hh, ok := huntByID[h.ID]; ok {
			v.Hunted = true
			v.Accessed = v.Accessed || hh.Accessed
			v.Encrypted = v.Encrypted || hh.Encrypted
			v.Exfiltrated = v.Exfiltrated || hh.Exfiltrated
			v.EvidenceCount += hh.Evidence
			v.FirstSeen = earlierPtr(v.FirstSeen, hh.FirstSeen)
			v.LastSeen = laterPtr(v.LastSeen, hh.LastSeen)
			var ch correlate.Host
			if json.Unmarshal(hh.Data, &ch) == nil {
				if ch.Accessed.Value {
					v.AccessedReason = ch.Accessed.Reason
				}
				if hh.Encrypted && ch.Encrypted.Value {
					v.EncryptedReason = ch.Encrypted.Reason
				}
				if ch.Exfiltrated.Value {
					v.ExfiltratedReason = ch.Exfiltrated.Reason
				}
			}
		}
		counts, err := s.VerdictCounts(ctx, h.ID)
		if err != nil {
			return nil, err
		}
		for verdict, c := range counts {
			v.Scanned = true
			v.FilesScanned += c.Files
			switch verdict {
			case incident.Encrypted:
				v.FilesEncrypted += c.Files
			case incident.Malicious:
				v.FilesMalicious += c.Files
			case incident.Unscannable:
				v.FilesNotFully += c.Files
			}
		}
		d, err := hostDamage(ctx, s, h)
		if err != nil {
			return nil, err
		}
		if d.Files > 0 || d.Notes > 0 {
			v.Encrypted = true
			if counts[incident.Encrypted].Files == 0 {
				v.FilesEncrypted += int64(d.Files) // quick triage or damage findings
			}
			var parts []string
			if d.Files > 0 {
				parts = append(parts, fmt.Sprintf("scan found %d encrypted file(s)", d.Files))
			}
			if d.Notes > 0 {
				parts = append(parts, fmt.Sprintf("scan found %d ransom note(s)", d.Notes))
			}
			r := strings.Join(parts, "; ")
			if v.EncryptedReason != "" {
				r = v.EncryptedReason + "; " + r
			}
			v.EncryptedReason = r
		}
	}
	sort.Strings(keys)
	out := make([]hostVerdict, 0, len(keys))
	for _, k := range keys {
		v := byKey[k]
		v.EvidenceCount += int(v.FilesEncrypted + v.FilesMalicious)
		out = append(out, *v)
	}
	return out, nil
}

func earlierPtr(p *time.Time, t time.Time) *time.Time {
	if t.IsZero() {
		return p
	}
	if p == nil || t.Before(*p) {
		t = t.UTC()
		return &t
	}
	return p
}

func laterPtr(p *time.Time, t time.Time) *time.Time {
	if t.IsZero() {
		return p
	}
	if p == nil || t.After(*p) {
		t = t.UTC()
		return &t
	}
	return p
}

func writeHostsJSONL(w io.Writer, vs []hostVerdict) error {
	for _, v := range vs {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		if _, err := w.Write(append(b, '\n')); err != nil {
			return err
		}
	}
	return nil
}

func writeHostsTable(w io.Writer, vs []hostVerdict, loc *time.Location) error {
	t := &ui.Table{Header: []string{"HOST", "ACCESSED", "ENCRYPTED", "EXFILTRATED", "FIRST SEEN", "LAST SEEN", "EVIDENCE", "SOURCES"},
		Right: []bool{false, false, false, false, false, false, true, false}}
	var acc, enc, exf int
	for _, v := range vs {
		src := ""
		if v.Hunted {
			src = "hunt"
		}
		if v.Scanned {
			if src != "" {
				src += "+"
			}
			src += "scan"
		}
		var first, last time.Time
		if v.FirstSeen != nil {
			first = *v.FirstSeen
		}
		if v.LastSeen != nil {
			last = *v.LastSeen
		}
		t.Add(v.Host, yesNo(v.Accessed), yesNo(v.Encrypted), yesNo(v.Exfiltrated), showTime(first, loc), showTime(last, loc), v.EvidenceCount, src)
		if v.Accessed {
			acc++
		}
		if v.Encrypted {
			enc++
		}
		if v.Exfiltrated {
			exf++
		}
	}
	if err := t.Write(w); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\n%d hosts: %d accessed, %d encrypted, %d exfiltrated\n", len(vs), acc, enc, exf)
	return err
}
