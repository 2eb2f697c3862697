// Command resnet classifies images, evaluates, inspects, converts and benchmarks ResNets.
package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/resnet-go/resnet/kernels"
)

// errSomeFailed makes the exit status 1 after per-item errors were already printed.
var errSomeFailed = errors.New("some inputs failed")

func main() {
	root := &cobra.Command{
		Use:           "resnet",
		Short:         "Deep residual networks in pure Go: classify, embed, evaluate, inspect, convert, benchmark",
		SilenceUsage:  true,
		SilenceErrors: true,
		// A RESNET_ISA this CPU or build cannot run is refused by every command but version,
		// which shows it.
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if cmd.Name() == "version" {
				return nil
			}
			return kernels.ISAError()
		},
	}
	root.AddCommand(versionCmd())
	root.AddCommand(classifyCmd(), evalCmd(), infoCmd(), embedCmd(), convertCmd(), benchCmd(), trainCmd(), experimentCmd(), serveCmd())
	root.AddCommand(exportCmd())
	root.AddCommand(explainCmd())
	strictHelp(root)
	if err := root.Execute(); err != nil {
		if !errors.Is(err, errSomeFailed) {
			fmt.Fprintln(os.Stderr, "resnet:", err)
		}
		os.Exit(1)
	}
}

// noArgs refuses positional arguments and says which flag takes what was given: cobra's
// NoArgs calls an argument an "unknown command", so `resnet eval cifar10:DIR` or `resnet info
// ./model` read like a misspelt command.
func noArgs(hint string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return nil
		}
		return fmt.Errorf("%s takes no arguments (got %q): %s", strings.TrimPrefix(cmd.CommandPath(), "resnet "), strings.Join(args, " "), hint)
	}
}

// strictHelp makes `resnet help TOPIC` and `resnet completion SHELL` refuse what they do not
// know (cobra's own print a note or the help and exit 0, so a script's typo went unnoticed).
func strictHelp(root *cobra.Command) {
	root.SetHelpCommand(&cobra.Command{
		Use:   "help [command]",
		Short: "Help about any command",
		RunE: func(_ *cobra.Command, args []string) error {
			cmd, rest, err := root.Find(args)
			if err != nil || cmd == nil || len(rest) > 0 {
				return fmt.Errorf("unknown help topic %q (commands: resnet --help)", strings.Join(args, " "))
			}
			return cmd.Help()
		},
	})
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		if c.Name() != "completion" {
			continue
		}
		// Runnable, the command has cobra check its arguments against its subcommands.
		c.RunE = func(c *cobra.Command, _ []string) error {
			return c.Help()
		}
	}
}
