package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/kintsugi-ir/kintsugi/internal/scan/rulepack"
	"github.com/kintsugi-ir/kintsugi/internal/scan/yara"
)

func newRulesCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rules",
		Short: "Work with YARA rules: export the built-in pack, check rule files",
		Example: `  kintsugi rules export > kintsugi-builtin.yar
  kintsugi rules check ./signature-base/yara`,
	}
	var out string
	export := &cobra.Command{
		Use:     "export",
		Short:   "Write kintsugi's built-in YARA rule pack as one .yar file",
		Example: "  kintsugi rules export -o kintsugi-builtin.yar\n  yara -r kintsugi-builtin.yar /mnt/fs01",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w := g.stdout
			if out != "" {
				f, err := os.Create(out)
				if err != nil {
					return err
				}
				defer f.Close()
				w = f
			}
			return rulepack.Export(w)
		},
	}
	export.Flags().StringVarP(&out, "output", "o", "", "write to `FILE` instead of standard output")
	var skip bool
	check := &cobra.Command{
		Use:     "check PATH...",
		Short:   "Compile YARA rule files or folders and report errors with file and line",
		Example: "  kintsugi rules check ./signature-base/yara ./my-rules.yar",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := yara.Compile(yara.Options{BuiltIn: true, Paths: args, SkipBroken: skip})
			if err != nil {
				return err
			}
			for _, s := range r.Skipped {
				fmt.Fprintf(g.stdout, "does not compile: %s\n", s.Error())
			}
			fmt.Fprintf(g.stdout, "%d rule files, %d rules (with the built-in pack), digest %s\n", len(r.Files), r.Count, r.Digest)
			if len(r.Skipped) > 0 {
				return errFound
			}
			return nil
		},
	}
	check.Flags().BoolVar(&skip, "skip-bad-rules", false, "list every file that does not compile instead of stopping at the first")
	cmd.AddCommand(export, check)
	return cmd
}
