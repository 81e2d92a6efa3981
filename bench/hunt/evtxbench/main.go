// Command evtxbench times kintsugi's EVTX decoder, alone or with a Sigma
// rule set, over the files named on standard input (one path a line). It
// exists for bench/hunt/run.sh, which runs it beside evtxexport and
// evtx_dump.py on the same files.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/kintsugi-ir/kintsugi/internal/hunt"
	"github.com/kintsugi-ir/kintsugi/internal/hunt/evtx"
	"github.com/kintsugi-ir/kintsugi/internal/hunt/sigma"
)

func main() {
	rules := flag.String("rules", "", "Sigma rule directory; empty decodes only")
	flag.Parse()
	if err := run(*rules); err != nil {
		fmt.Fprintf(os.Stderr, "evtxbench: %v\n", err)
		os.Exit(1)
	}
}

func run(rulesDir string) error {
	var files []string
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		if sc.Text() != "" {
			files = append(files, sc.Text())
		}
	}
	start := time.Now()
	var rs *sigma.RuleSet
	if rulesDir != "" {
		var rep *sigma.LoadReport
		var err error
		rs, rep, err = sigma.LoadPath(rulesDir)
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "rules loaded %d, not loaded %d, load time %.2fs\n", rep.Loaded, len(rep.Problems), time.Since(start).Seconds())
	}
	var events, matches atomic.Int64
	var bytes int64
	lost := 0
	for _, f := range files {
		st, err := evtx.ReadFile(context.Background(), f, evtx.Options{Concurrent: true}, func(e *hunt.Event) error {
			events.Add(1)
			if rs != nil {
				rs.Match(e, func(sigma.Match) { matches.Add(1) })
			}
			return nil
		})
		bytes += st.Bytes
		if err != nil {
			fmt.Fprintf(os.Stderr, "kintsugi: %v\n", err)
		}
		lost += st.RecordsBad
	}
	el := time.Since(start).Seconds()
	fmt.Printf("files=%d bytes=%d events=%d matches=%d lost_records=%d seconds=%.3f cores=%d\n",
		len(files), bytes, events.Load(), matches.Load(), lost, el, runtime.GOMAXPROCS(0))
	return nil
}
