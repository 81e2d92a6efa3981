// Command ransomsim is kintsugi's ransomware simulator for the watch
// agent's end-to-end tests and benchmark. It only ever encrypts files it
// wrote itself (see internal/watch/ransomsim).
//
//	ransomsim prepare DIR N [SEED]   write N files and a manifest under DIR
//	ransomsim run DIR MODE [note]    encrypt them (modes: ransomsim modes);
//	                                 $RANSOMSIM_PROGRESS names a file that
//	                                 gets "INDEX UNIX-NANOS" per file done
//	ransomsim check DIR              JSON: total, intact, renamed, lost
//	ransomsim modes                  list the modes
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"

	"github.com/kintsugi-ir/kintsugi/internal/watch/ransomsim"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "ransomsim:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("usage: ransomsim prepare|run|check|modes ...")
	}
	switch args[0] {
	case "prepare":
		if len(args) < 3 {
			return fmt.Errorf("usage: ransomsim prepare DIR N [SEED]")
		}
		n, err := strconv.Atoi(args[2])
		if err != nil || n <= 0 {
			return fmt.Errorf("bad file count %q", args[2])
		}
		seed := uint64(1)
		if len(args) > 3 {
			if seed, err = strconv.ParseUint(args[3], 10, 64); err != nil {
				return fmt.Errorf("bad seed %q", args[3])
			}
		}
		if err := os.MkdirAll(args[1], 0o755); err != nil {
			return err
		}
		_, err = ransomsim.Prepare(args[1], n, seed)
		return err
	case "run":
		if len(args) < 3 {
			return fmt.Errorf("usage: ransomsim run DIR MODE [note]")
		}
		self, err := os.Executable()
		if err != nil {
			return err
		}
		opts := ransomsim.Options{Mode: args[2], Note: len(args) > 3 && args[3] == "note", Self: []string{self}}
		if p := os.Getenv(ransomsim.ProgressEnv); p != "" {
			f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
			if err != nil {
				return err
			}
			defer f.Close()
			opts.Progress = f
		}
		return ransomsim.Run(args[1], opts)
	case "child":
		return ransomsim.ChildMain(args[1:])
	case "check":
		if len(args) != 2 {
			return fmt.Errorf("usage: ransomsim check DIR")
		}
		res, err := ransomsim.Check(args[1])
		if err != nil {
			return err
		}
		return json.NewEncoder(os.Stdout).Encode(res)
	case "modes":
		for _, m := range ransomsim.Modes {
			fmt.Printf("%-13s %s\n", m, ransomsim.ModeDoc[m])
		}
		return nil
	}
	return fmt.Errorf("unknown command %q", args[0])
}
