package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"

	"github.com/resnet-go/resnet/kernels"
)

type versionFlags struct{ json bool }

func versionCmd() *cobra.Command {
	var f versionFlags
	cmd := &cobra.Command{
		Use:   "version [--json]",
		Short: "Print the module version, the Go version and the instruction set the kernels use",
		Args:  noArgs("--json prints it as JSON"),
		RunE:  func(cmd *cobra.Command, _ []string) error { return runVersion(&f) },
	}
	cmd.Flags().BoolVar(&f.json, "json", false, `one JSON object: {"version","go","os","arch","isa","supported_isas","isa_error","gemm_blocking"}`)
	return cmd
}

// versionResult is the stable JSON of `version --json`.
type versionResult struct {
	Version   string   `json:"version"`
	Go        string   `json:"go"`
	OS        string   `json:"os"`
	Arch      string   `json:"arch"`
	ISA       string   `json:"isa"`
	Supported []string `json:"supported_isas"`
	ISAError  string   `json:"isa_error,omitempty"`
	Blocking  string   `json:"gemm_blocking"` // the GEMM kernel's cache blocking and the caches it was fitted to
}

func runVersion(f *versionFlags) error {
	res := versionResult{
		Version: moduleVersion(), Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH,
		ISA: kernels.ISA(), Supported: kernels.SupportedISAs(), Blocking: kernels.Blocking(),
	}
	if err := kernels.ISAError(); err != nil {
		res.ISAError = err.Error()
	}
	if f.json {
		printJSON(res)
		return nil
	}
	fmt.Printf("resnet %s\n%s %s/%s\nisa: %s (this CPU and build can run: %s)\ngemm: %s\n", res.Version, res.Go, res.OS, res.Arch, res.ISA, strings.Join(res.Supported, ", "), res.Blocking)
	if res.ISAError != "" {
		fmt.Printf("RESNET_ISA refused: %s\n", res.ISAError)
	}
	return nil
}

// moduleVersion is the version `go install …@v1.2.3` recorded, or the VCS revision of a
// source build ("devel abc1234", "+dirty" when the tree had changes).
func moduleVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev == "" {
		return "devel"
	}
	return "devel " + rev + dirty
}
