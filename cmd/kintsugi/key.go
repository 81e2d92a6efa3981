package main

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/spf13/cobra"

	"github.com/kintsugi-ir/kintsugi/internal/migrate/manifest"
)

func newKeyCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "key",
		Short: "Manage the ed25519 keys that sign migration manifests",
		Long: `A migration manifest is signed with an ed25519 key that you create once per
case (or per organisation) and keep off the migrated servers. Give the public
half (KEY.pub) to the auditor: 'kintsugi manifest verify --key KEY.pub' then
proves that the manifest is the one you signed.

Key files are one line of text (see docs/design/manifest.md); the private key
is written with mode 0600 and kintsugi refuses to use one that others can read.`,
		Example: "  kintsugi key generate -o ~/case-2025-12/migrate.key",
	}
	var out, comment string
	gen := &cobra.Command{
		Use:     "generate -o KEY",
		Short:   "Create a signing key (KEY, mode 0600) and its public key (KEY.pub)",
		Example: "  kintsugi key generate -o migrate.key --comment 'case 2025-12 fs01'",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return usageError{errors.New("key generate needs -o KEY: the file to write the private key to")}
			}
			pub, err := manifest.GenerateKey(out, comment)
			if errors.Is(err, fs.ErrExist) {
				return withHint(fmt.Errorf("%s already exists: a key is never overwritten", out), "choose another file name, or remove the old key yourself if it is really unused")
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "private key: %s (mode 0600; keep it secret and off the migrated servers)\n", out)
			fmt.Fprintf(g.stdout, "public key:  %s.pub (give it to the auditor)\n", out)
			fmt.Fprintf(g.stdout, "key id:      %s\n", manifest.KeyID(pub))
			return nil
		},
	}
	gen.Flags().StringVarP(&out, "output", "o", "", "write the private key to `KEY` and the public key to KEY.pub")
	gen.Flags().StringVar(&comment, "comment", "", "a note stored in the public key file (case, owner)")
	cmd.AddCommand(gen)
	return cmd
}
