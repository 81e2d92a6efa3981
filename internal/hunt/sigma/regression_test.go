package sigma_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/kintsugi-ir/kintsugi/internal/hunt"
	"github.com/kintsugi-ir/kintsugi/internal/hunt/evtx"
	"github.com/kintsugi-ir/kintsugi/internal/hunt/sigma"
)

// sigmaData returns ../shared/data/sigma from the repository root, or skips.
func sigmaData(t testing.TB) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "..", "..", "..", "shared", "data", "sigma"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("../shared/data/sigma is absent (%v): SigmaHQ's rules and regression data are needed", err)
	}
	return dir
}

// loadShared loads every rules* directory of the shared SigmaHQ snapshot.
func loadShared(t testing.TB) ([]*sigma.Rule, []sigma.LoadProblem) {
	t.Helper()
	root := sigmaData(t)
	dirs, _ := filepath.Glob(filepath.Join(root, "rules*"))
	var rules []*sigma.Rule
	var probs []sigma.LoadProblem
	for _, d := range dirs {
		rs, rep, err := sigma.LoadPath(d)
		if err != nil {
			t.Fatal(err)
		}
		rules = append(rules, rs.Rules()...)
		probs = append(probs, rep.Problems...)
	}
	if len(rules) == 0 {
		t.Fatal("no rule loaded from ../shared/data/sigma/rules*")
	}
	return rules, probs
}

type regressionCase struct {
	RuleMetadata []struct {
		ID    string `yaml:"id"`
		Title string `yaml:"title"`
	} `yaml:"rule_metadata"`
	Tests []struct {
		Name       string `yaml:"name"`
		Type       string `yaml:"type"`
		MatchCount *int   `yaml:"match_count"`
		Path       string `yaml:"path"`
	} `yaml:"regression_tests_info"`
}

// TestRegression runs SigmaHQ's own regression suite: each case names a
// rule and an EVTX file on which the rule must fire (match_count times
// when given, else at least once).
func TestRegression(t *testing.T) {
	root := sigmaData(t)
	rules, probs := loadShared(t)
	byID := make(map[string]*sigma.Rule)
	for _, r := range rules {
		byID[r.ID] = r
	}
	notLoaded := make(map[string]string)
	for _, p := range probs {
		notLoaded[p.ID] = p.Reason
	}
	var infos []string
	filepath.WalkDir(filepath.Join(root, "regression_data"), func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Name() == "info.yml" {
			infos = append(infos, p)
		}
		return nil
	})
	total, pass := 0, 0
	var failures, notes []string
	for _, info := range infos {
		data, err := os.ReadFile(info)
		if err != nil {
			t.Fatal(err)
		}
		var rc regressionCase
		if err := yaml.Unmarshal(data, &rc); err != nil {
			t.Fatalf("%s: %v", info, err)
		}
		if len(rc.RuleMetadata) == 0 {
			continue
		}
		id := rc.RuleMetadata[0].ID
		for _, tc := range rc.Tests {
			if tc.Type != "evtx" {
				continue
			}
			total++
			fail := func(reason string) {
				failures = append(failures, id+" ("+rc.RuleMetadata[0].Title+"): "+reason)
			}
			r := byID[id]
			if r == nil {
				if why, ok := notLoaded[id]; ok {
					fail("rule not loaded: " + why)
				} else {
					fail("rule not in ../shared/data/sigma/rules*")
				}
				continue
			}
			rs := sigma.NewRuleSet([]*sigma.Rule{r})
			n := 0
			_, err := evtx.ReadFile(context.Background(), filepath.Join(root, tc.Path), evtx.Options{}, func(e *hunt.Event) error {
				rs.Match(e, func(sigma.Match) { n++ })
				return nil
			})
			if err != nil {
				fail(err.Error())
				continue
			}
			want := 1
			if tc.MatchCount != nil {
				want = *tc.MatchCount
			}
			// SigmaHQ's runner passes a case when the rule fires. Fewer
			// matches than info.yml states is a failure; more is logged:
			// every matching event is counted, and some info.yml counts
			// are below what the rule as written matches.
			if n < want {
				fail("matched " + strconv.Itoa(n) + " times, want " + strconv.Itoa(want))
				continue
			}
			if n > want {
				notes = append(notes, id+": matched "+strconv.Itoa(n)+" events, info.yml says "+strconv.Itoa(want))
			}
			pass++
		}
	}
	t.Logf("regression: %d of %d cases pass", pass, total)
	for _, f := range failures {
		t.Logf("  fail: %s", f)
	}
	for _, n := range notes {
		t.Logf("  note: %s", n)
	}
	if total == 0 {
		t.Fatal("no regression case found")
	}
	if pass < 190 {
		t.Errorf("only %d of %d regression cases pass, want at least 190", pass, total)
	}
}
