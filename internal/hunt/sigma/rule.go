package sigma

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"
)

// Rule is a loaded Sigma rule: its metadata and its compiled detection
// for each place it can fire.
type Rule struct {
	ID          string    `json:"id"`
	Title       string    `json:"title"`
	Level       string    `json:"level,omitempty"`
	Status      string    `json:"status,omitempty"`
	Description string    `json:"description,omitempty"`
	Author      string    `json:"author,omitempty"`
	Tags        []string  `json:"tags,omitempty"`
	References  []string  `json:"references,omitempty"`
	Path        string    `json:"path,omitempty"`
	Logsource   Logsource `json:"logsource"`

	compiled []*compiled
}

// compiled is a rule's detection compiled for one target.
type compiled struct {
	rule   *Rule
	target *target
	sels   []*selection
	cond   *cnode
	extra  []fieldMatcher // the target's own conditions (Sysmon EventType ...)
	ids    []int          // event ids the event must have; nil for any
}

// LoadProblem is a rule that was not loaded, or that loads but can never
// fire, and why.
type LoadProblem struct {
	Path   string `json:"path"`
	ID     string `json:"id,omitempty"`
	Title  string `json:"title,omitempty"`
	Reason string `json:"reason"`
}

func (p LoadProblem) String() string {
	who := p.ID
	if p.Title != "" {
		who = fmt.Sprintf("%s (%s)", p.ID, p.Title)
	}
	return fmt.Sprintf("%s: %s: %s", p.Path, who, p.Reason)
}

// LoadReport sums up a load: every rule is either loaded or a problem.
type LoadReport struct {
	Files    int           `json:"files"`
	Loaded   int           `json:"loaded"`
	Problems []LoadProblem `json:"problems,omitempty"`
}

// maxRuleFile bounds one rule file; SigmaHQ's largest is about 40 KiB.
const maxRuleFile = 4 << 20

// LoadPath loads a rule file or, recursively, a directory of *.yml and
// *.yaml files.
func LoadPath(p string) (*RuleSet, *LoadReport, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return nil, nil, fmt.Errorf("sigma rules %s: %w", p, err)
	}
	if fi.IsDir() {
		return loadDir(os.DirFS(p), ".", p)
	}
	dir, file := filepath.Split(p)
	if dir == "" {
		dir = "."
	}
	return loadFiles(os.DirFS(dir), []string{file}, dir)
}

// LoadDir loads every *.yml and *.yaml file under root in fsys,
// recursively. The error is non-nil only when the tree cannot be walked;
// bad rules are problems in the report, never skipped silently.
func LoadDir(fsys fs.FS, root string) (*RuleSet, *LoadReport, error) {
	return loadDir(fsys, root, "")
}

// loadDir is LoadDir with display prepended to the paths in reports.
func loadDir(fsys fs.FS, root, display string) (*RuleSet, *LoadReport, error) {
	var files []string
	err := fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		ext := strings.ToLower(path.Ext(p))
		if (ext == ".yml" || ext == ".yaml") && d.Type().IsRegular() {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("sigma rules %s: %w", display, err)
	}
	sort.Strings(files)
	return loadFiles(fsys, files, display)
}

func loadFiles(fsys fs.FS, files []string, display string) (*RuleSet, *LoadReport, error) {
	type parsed struct {
		rules []*Rule
		probs []LoadProblem
	}
	// Parsing YAML dominates loading; files are parsed in parallel and
	// collected in order.
	out := make([]parsed, len(files))
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				shown := filepath.Join(display, filepath.FromSlash(files[i]))
				data, err := readLimited(fsys, files[i])
				if err != nil {
					out[i].probs = []LoadProblem{{Path: shown, Reason: err.Error()}}
					continue
				}
				out[i].rules, out[i].probs = Parse(data, shown)
			}
		}()
	}
	for i := range files {
		next <- i
	}
	close(next)
	wg.Wait()
	rep := &LoadReport{Files: len(files)}
	var rules []*Rule
	for _, p := range out {
		rules = append(rules, p.rules...)
		rep.Problems = append(rep.Problems, p.probs...)
	}
	rs := NewRuleSet(rules)
	rep.Loaded = rs.Len()
	return rs, rep, nil
}

func readLimited(fsys fs.FS, name string) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxRuleFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxRuleFile {
		return nil, fmt.Errorf("rule file larger than %d bytes", maxRuleFile)
	}
	return data, nil
}

// Parse parses one YAML file, which may hold several documents, and
// compiles every rule in it. Rules that cannot load or can never fire
// are returned as problems with the reason.
func Parse(data []byte, path string) ([]*Rule, []LoadProblem) {
	var rules []*Rule
	var probs []LoadProblem
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for doc := 0; ; doc++ {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			probs = append(probs, LoadProblem{Path: path, Reason: fmt.Sprintf("yaml: %v", err)})
			break
		}
		if len(n.Content) == 0 {
			continue
		}
		r, err := parseRule(n.Content[0], path)
		if err != nil {
			p := LoadProblem{Path: path, Reason: err.Error()}
			if r != nil {
				p.ID, p.Title = r.ID, r.Title
			}
			probs = append(probs, p)
			continue
		}
		rules = append(rules, r)
	}
	return rules, probs
}

// mapGet returns the value node of key in a mapping node.
func mapGet(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func scalar(n *yaml.Node, key string) string {
	v := mapGet(n, key)
	if v == nil || v.Kind != yaml.ScalarNode {
		return ""
	}
	return v.Value
}

func stringList(n *yaml.Node, key string) []string {
	v := mapGet(n, key)
	if v == nil {
		return nil
	}
	if v.Kind == yaml.ScalarNode {
		return []string{v.Value}
	}
	var out []string
	for _, c := range v.Content {
		if c.Kind == yaml.ScalarNode {
			out = append(out, c.Value)
		}
	}
	return out
}

func parseRule(doc *yaml.Node, path string) (*Rule, error) {
	if doc.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("not a Sigma rule: the document is not a mapping")
	}
	r := &Rule{
		ID:          scalar(doc, "id"),
		Title:       scalar(doc, "title"),
		Level:       scalar(doc, "level"),
		Status:      scalar(doc, "status"),
		Description: scalar(doc, "description"),
		Author:      scalar(doc, "author"),
		Tags:        stringList(doc, "tags"),
		References:  stringList(doc, "references"),
		Path:        path,
	}
	if c := mapGet(doc, "correlation"); c != nil {
		return r, fmt.Errorf("not loaded: correlation type %s unsupported", scalar(c, "type"))
	}
	if a := scalar(doc, "action"); a != "" {
		return r, fmt.Errorf("not loaded: rule collection action %q unsupported", a)
	}
	if r.Title == "" && r.ID == "" {
		return r, fmt.Errorf("not a Sigma rule: no title and no id")
	}
	ls := mapGet(doc, "logsource")
	r.Logsource = Logsource{Product: scalar(ls, "product"), Category: scalar(ls, "category"), Service: scalar(ls, "service")}
	det := mapGet(doc, "detection")
	if det == nil || det.Kind != yaml.MappingNode {
		return r, fmt.Errorf("no detection section")
	}
	targets, err := targetsFor(r.Logsource)
	if err != nil {
		return r, fmt.Errorf("cannot fire: %v", err)
	}
	var skipped []string
	for i := range targets {
		c, err := compileDetection(r, det, &targets[i])
		if errors.Is(err, errTargetFields) {
			skipped = append(skipped, targets[i].name)
			continue
		}
		if err != nil {
			return r, err
		}
		if c.ids != nil && len(c.ids) == 0 {
			continue // the rule's event ids are not produced on this target
		}
		r.compiled = append(r.compiled, c)
	}
	if len(r.compiled) == 0 {
		if len(skipped) > 0 {
			return r, fmt.Errorf("cannot fire: uses fields that %s events lack", strings.Join(skipped, ", "))
		}
		return r, fmt.Errorf("cannot fire: the event ids it requires are not produced by logsource %s", r.Logsource)
	}
	return r, nil
}

var errTargetFields = errors.New("rule uses fields the target lacks")

// compileDetection compiles the detection section for one target.
func compileDetection(r *Rule, det *yaml.Node, t *target) (*compiled, error) {
	c := &compiled{rule: r, target: t}
	var names []string
	var conds []string
	for i := 0; i+1 < len(det.Content); i += 2 {
		key, val := det.Content[i].Value, det.Content[i+1]
		switch key {
		case "condition":
			if val.Kind == yaml.SequenceNode {
				for _, v := range val.Content {
					conds = append(conds, v.Value)
				}
			} else {
				conds = append(conds, val.Value)
			}
			continue
		case "timeframe":
			continue
		}
		s, err := compileSelection(key, val, t.fieldMap)
		if err != nil {
			return nil, err
		}
		names = append(names, key)
		c.sels = append(c.sels, s)
	}
	if len(conds) == 0 {
		return nil, fmt.Errorf("detection has no condition")
	}
	for _, src := range conds {
		n, err := parseCondition(src, names)
		if err != nil {
			return nil, err
		}
		if c.cond == nil {
			c.cond = n
		} else {
			c.cond = join(cOr, c.cond, n)
		}
	}
	if t.only != nil {
		for _, s := range c.sels {
			for _, alt := range s.alts {
				for _, fm := range alt {
					if !fm.keyword && !t.only[fm.name] {
						return nil, errTargetFields
					}
					for _, v := range fm.vals {
						if v.kind == vFieldRef && !t.only[v.ref] {
							return nil, errTargetFields
						}
					}
				}
			}
		}
	}
	for f, vals := range t.conds {
		fm := fieldMatcher{name: f, rule: f, slot: -1}
		for _, v := range vals {
			fm.vals = append(fm.vals, valMatcher{kind: vStr, variants: []strPattern{compileString(v, false, false, false)}, original: v})
		}
		c.extra = append(c.extra, fm)
	}
	sort.Slice(c.extra, func(i, j int) bool { return c.extra[i].name < c.extra[j].name })
	ids := c.pinnedIDs(c.cond)
	switch {
	case t.eventIDs == nil:
		c.ids = ids
	case ids == nil:
		c.ids = t.eventIDs
	default:
		c.ids = intersect(t.eventIDs, ids)
		if c.ids == nil {
			c.ids = []int{}
		}
	}
	return c, nil
}
