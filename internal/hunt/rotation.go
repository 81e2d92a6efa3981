package hunt

import (
	"context"
	"errors"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// rotation describes a file's place in a logrotate set: auth.log (age
// 0), auth.log.1 (1), auth.log.2.gz (2), or auth.log-20240107 (dated).
type rotation struct {
	stem string
	age  int64 // larger is older
	// until is the rotation date a dateext name carries (its content is
	// no later than the end of that day), zero otherwise.
	until time.Time
}

var compressionExts = []string{".gz", ".bz2", ".xz", ".zst"}

func parseRotation(path string, loc *time.Location) rotation {
	dir, base := filepath.Split(path)
	for _, ext := range compressionExts {
		base = strings.TrimSuffix(base, ext)
	}
	if i := strings.LastIndexByte(base, '.'); i > 0 {
		if n, err := strconv.Atoi(base[i+1:]); err == nil && n >= 0 && n < 100000 {
			return rotation{stem: dir + base[:i], age: int64(n)}
		}
	}
	if i := strings.LastIndexByte(base, '-'); i > 0 && len(base)-i-1 == 8 {
		if t, err := time.ParseInLocation("20060102", base[i+1:], loc); err == nil {
			// newer dates are younger: map them below the numbered ages'
			// range by negating
			return rotation{stem: dir + base[:i], age: 1<<40 - t.Unix()/86400, until: t.AddDate(0, 0, 1)}
		}
	}
	return rotation{stem: dir + base}
}

var errFirstFound = errors.New("first record found")

// inferYears sets each job's YearRef: its modification time, capped by
// the date in a dateext name and by the first record of the next newer
// file of the same rotation set. The cap keeps a copied file (whose mtime
// is the copy's) from pulling older rotations into a later year.
func inferYears(ctx context.Context, jobs []*job, opt Options) {
	groups := map[string][]*job{}
	rots := map[*job]rotation{}
	for _, j := range jobs {
		r := parseRotation(j.path, opt.Location)
		rots[j] = r
		groups[r.stem] = append(groups[r.stem], j)
		j.yearRef = j.modTime
		if !r.until.IsZero() && (j.yearRef.IsZero() || r.until.Before(j.yearRef)) {
			j.yearRef = r.until
		}
	}
	for _, g := range groups {
		if len(g) < 2 {
			continue
		}
		sort.Slice(g, func(a, b int) bool { return rots[g[a]].age < rots[g[b]].age })
		for i := 1; i < len(g); i++ {
			first, ok := firstRecordTime(ctx, g[i-1], opt)
			if ok && (g[i].yearRef.IsZero() || first.Before(g[i].yearRef)) {
				g[i].yearRef = first
			}
		}
	}
}

// firstRecordTime decodes the start of a year-inferring file and returns
// its first timestamp.
func firstRecordTime(ctx context.Context, j *job, opt Options) (time.Time, bool) {
	f, err := openEvidence(j.path)
	if err != nil {
		return time.Time{}, false
	}
	defer f.Close()
	src, head, _, _ := decompress(f)
	if len(head) == 0 {
		return time.Time{}, false
	}
	for _, ft := range opt.Formats {
		if !ft.Sniff(head) {
			continue
		}
		if yi, ok := ft.(YearInferrer); !ok || !yi.InfersYear() {
			return time.Time{}, false
		}
		var first time.Time
		in := &Input{Path: j.path, R: src, ModTime: j.modTime, YearRef: j.yearRef, Location: opt.Location, Host: j.host}
		_, _ = ft.Decode(ctx, in, func(ev *Event) error {
			if ev.Time.IsZero() {
				return nil
			}
			first = ev.Time
			return errFirstFound
		})
		return first, !first.IsZero()
	}
	return time.Time{}, false
}
