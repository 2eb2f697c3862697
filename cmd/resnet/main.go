// Command resnet classifies images, evaluates, inspects, converts and benchmarks ResNets.
package main

import (
	"errors"
	"fmt"
	"os"

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
	if err := root.Execute(); err != nil {
		if !errors.Is(err, errSomeFailed) {
			fmt.Fprintln(os.Stderr, "resnet:", err)
		}
		os.Exit(1)
	}
}
