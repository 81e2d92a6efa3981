package damage

import (
	"sort"
	"time"
)

// HostImpact summarises the damage on one host: how many files and bytes
// were encrypted, which extensions the ransomware appended, where it left
// its notes, which layouts it used, and when it ran (the modification
// times of damaged files bracket the encryption window on the timeline).
// It is plain data for the case store; it is not safe for concurrent use:
// give each worker its own and Merge them.
type HostImpact struct {
	Files int64 `json:"files"`
	Bytes int64 `json:"bytes"`
	// Extensions counts the extensions appended to damaged files
	// (".lockbit"), at most maxImpactExt of them; OtherExtensions counts
	// files whose extension did not fit: many of them mean the ransomware
	// gives every file a random extension.
	Extensions      map[string]int64 `json:"extensions,omitempty"`
	OtherExtensions int64            `json:"other_extensions,omitempty"`
	// KeptName counts damaged files that kept their name.
	KeptName int64 `json:"kept_name,omitempty"`
	// Notes lists ransom note files (at most maxImpactNotes paths);
	// NoteCount counts all of them.
	Notes     []string `json:"notes,omitempty"`
	NoteCount int64    `json:"note_count,omitempty"`
	// Patterns and Families count files per encryption pattern and per
	// family guess.
	Patterns map[string]int64 `json:"patterns,omitempty"`
	Families map[string]int64 `json:"families,omitempty"`
	// First and Last are the earliest and latest modification times of
	// damaged files, with one file each as an example.
	First     time.Time `json:"first_mtime,omitzero"`
	FirstPath string    `json:"first_path,omitempty"`
	Last      time.Time `json:"last_mtime,omitzero"`
	LastPath  string    `json:"last_path,omitempty"`
	// Hours counts damaged files per hour of modification (UTC,
	// "2006-01-02T15"), at most maxImpactHours hours.
	Hours map[string]int64 `json:"hours,omitempty"`
}

const (
	maxImpactExt   = 64
	maxImpactNotes = 1000
	maxImpactHours = 24 * 90
)

// Add counts one damaged file.
func (h *HostImpact) Add(path string, size int64, mtime time.Time, ev Evidence) {
	h.Files++
	h.Bytes += size
	ext := ev.Extension
	switch {
	case ext == "":
		h.KeptName++
	default:
		if h.Extensions == nil {
			h.Extensions = map[string]int64{}
		}
		if _, ok := h.Extensions[ext]; ok || len(h.Extensions) < maxImpactExt {
			h.Extensions[ext]++
		} else {
			h.OtherExtensions++
		}
	}
	if ev.Pattern != "" {
		if h.Patterns == nil {
			h.Patterns = map[string]int64{}
		}
		h.Patterns[ev.Pattern]++
	}
	if ev.Family != "" {
		if h.Families == nil {
			h.Families = map[string]int64{}
		}
		h.Families[ev.Family]++
	}
	if !mtime.IsZero() {
		if h.First.IsZero() || mtime.Before(h.First) {
			h.First, h.FirstPath = mtime, path
		}
		if h.Last.IsZero() || mtime.After(h.Last) {
			h.Last, h.LastPath = mtime, path
		}
		hour := mtime.UTC().Format("2006-01-02T15")
		if h.Hours == nil {
			h.Hours = map[string]int64{}
		}
		if _, ok := h.Hours[hour]; ok || len(h.Hours) < maxImpactHours {
			h.Hours[hour]++
		}
	}
}

// AddNote counts one ransom note file.
func (h *HostImpact) AddNote(path string) {
	h.NoteCount++
	if len(h.Notes) < maxImpactNotes {
		h.Notes = append(h.Notes, path)
	}
}

// Merge adds o's counts to h.
func (h *HostImpact) Merge(o *HostImpact) {
	h.Files += o.Files
	h.Bytes += o.Bytes
	h.KeptName += o.KeptName
	h.OtherExtensions += o.OtherExtensions
	for e, n := range o.Extensions {
		if h.Extensions == nil {
			h.Extensions = map[string]int64{}
		}
		if _, ok := h.Extensions[e]; ok || len(h.Extensions) < maxImpactExt {
			h.Extensions[e] += n
		} else {
			h.OtherExtensions += n
		}
	}
	h.NoteCount += o.NoteCount
	for _, n := range o.Notes {
		if len(h.Notes) < maxImpactNotes {
			h.Notes = append(h.Notes, n)
		}
	}
	mergeCounts(&h.Patterns, o.Patterns, 0)
	mergeCounts(&h.Families, o.Families, 0)
	mergeCounts(&h.Hours, o.Hours, maxImpactHours)
	if !o.First.IsZero() && (h.First.IsZero() || o.First.Before(h.First)) {
		h.First, h.FirstPath = o.First, o.FirstPath
	}
	if !o.Last.IsZero() && (h.Last.IsZero() || o.Last.After(h.Last)) {
		h.Last, h.LastPath = o.Last, o.LastPath
	}
}

func mergeCounts(dst *map[string]int64, src map[string]int64, limit int) {
	for k, n := range src {
		if *dst == nil {
			*dst = map[string]int64{}
		}
		if _, ok := (*dst)[k]; ok || limit == 0 || len(*dst) < limit {
			(*dst)[k] += n
		}
	}
}

// TopExtensions returns the appended extensions, most frequent first.
func (h *HostImpact) TopExtensions() []string {
	var out []string
	for e := range h.Extensions {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool {
		if h.Extensions[out[i]] != h.Extensions[out[j]] {
			return h.Extensions[out[i]] > h.Extensions[out[j]]
		}
		return out[i] < out[j]
	})
	return out
}
