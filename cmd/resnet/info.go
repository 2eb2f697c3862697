package main

import (
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/resnet-go/resnet"
	"github.com/resnet-go/resnet/arch"
)

type infoFlags struct {
	modelFlags
	json bool
	list bool
}

func infoCmd() *cobra.Command {
	var f infoFlags
	cmd := &cobra.Command{
		Use:   "info [--model M | --arch NAME]",
		Short: "Print layers, per-stage shapes, parameter count and multiply-adds",
		Example: `  resnet info --model microsoft/resnet-50
  resnet info --arch cifar-resnet56 --json
  resnet info --list`,
		Args: noArgs("the model goes in --model, or an architecture in --arch"),
		RunE: func(cmd *cobra.Command, _ []string) error { return runInfo(cmd, &f) },
	}
	f.register(cmd)
	cmd.Flags().BoolVar(&f.json, "json", false, `one JSON object: {"parameters","macs","input":[3,H,W],"stages":[...],...}`)
	cmd.Flags().BoolVar(&f.list, "list", false, "list the architecture presets")
	return cmd
}

// infoResult is the stable JSON of `info --json`.
type infoResult struct {
	Architecture string      `json:"architecture"`
	Parameters   int64       `json:"parameters"`
	MACs         int64       `json:"macs"`
	Input        [3]int      `json:"input"`
	LayerType    string      `json:"layer_type"`
	Depths       []int       `json:"depths"`
	HiddenSizes  []int       `json:"hidden_sizes"`
	Shortcut     string      `json:"shortcut"`
	Plain        bool        `json:"plain"`
	NumLabels    int         `json:"num_labels"`
	Stages       []stageInfo `json:"stages"`
	Source       string      `json:"source,omitempty"`
}

type stageInfo struct {
	Name   string `json:"name"`
	Shape  [3]int `json:"shape"`
	Blocks int    `json:"blocks"`
}

func runInfo(cmd *cobra.Command, f *infoFlags) error {
	if f.list {
		fmt.Println(strings.Join(arch.Presets(), "\n"))
		return nil
	}
	if err := f.check(); err != nil {
		return err // --arch loads nothing, so check here: --size 0 gave the 224×224 counts
	}
	var cfg *arch.Config
	var source string
	h, w := 224, 224
	switch {
	case f.model != "":
		ck, err := f.checkpoint(cmd.Context(), resnet.ConfigOnly())
		if err != nil {
			return err
		}
		// Local weights are checked against the architecture printed, as classify checks
		// them: a ResNet-20 file with --arch cifar-resnet56 was reported as a ResNet-56.
		// (From the hub, ConfigOnly fetches no weights.)
		err = ck.CheckWeights()
		ck.Close()
		if err != nil {
			return err
		}
		cfg, source = ck.Config, ck.Source
		h, w = ck.Processor.OutputSize()
	case f.arch != "":
		var err error
		if cfg, err = arch.Preset(f.arch); err != nil {
			return err
		}
		h, w = resnet.DefaultProcessor(cfg).OutputSize()
		source = "preset " + f.arch
	default: // the built-in model
		ck, err := f.checkpoint(cmd.Context())
		if err != nil {
			return err
		}
		cfg, source = ck.Config, ck.Source
		h, w = ck.Processor.OutputSize()
	}
	if f.size > 0 {
		h, w = f.size, f.size
	}
	if f.height > 0 && f.width > 0 {
		h, w = f.height, f.width
	}
	spec, err := cfg.Spec()
	if err != nil {
		return err
	}
	res := infoResult{
		Architecture: describeArch(cfg), Parameters: spec.NumParams(), MACs: spec.MACs(h, w), Input: [3]int{cfg.NumChannels, h, w},
		LayerType: cfg.LayerType, Depths: cfg.Depths, HiddenSizes: cfg.HiddenSizes, Shortcut: shortcutName(cfg), Plain: cfg.Plain,
		NumLabels: cfg.NumLabels, Source: source,
	}
	for i, s := range spec.Shapes(h, w) {
		blocks := 0
		if i > 0 {
			blocks = cfg.Depths[i-1]
		}
		res.Stages = append(res.Stages, stageInfo{s.Name, [3]int{s.C, s.H, s.W}, blocks})
	}
	if f.json {
		printJSON(res)
		return nil
	}
	fmt.Printf("%s\nsource: %s\ninput: %d×%d×%d\n\n", res.Architecture, source, cfg.NumChannels, h, w)
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "stage\tblocks\toutput (C×H×W)\t")
	for _, s := range res.Stages {
		fmt.Fprintf(tw, "%s\t%d\t%d×%d×%d\t\n", s.Name, s.Blocks, s.Shape[0], s.Shape[1], s.Shape[2])
	}
	fmt.Fprintf(tw, "pool+head\t\t%d → %d\t\n", spec.Features, cfg.NumLabels)
	tw.Flush()
	fmt.Printf("\nparameters: %s (%.2f M)\nmultiply-adds: %s (%.2f G)\n", commas(res.Parameters), float64(res.Parameters)/1e6, commas(res.MACs), float64(res.MACs)/1e9)
	return nil
}

func describeArch(c *arch.Config) string {
	kind := "ResNet"
	if c.Plain {
		kind = "plain network"
	}
	depth := 2
	per := 2
	if c.LayerType == arch.Bottleneck {
		per = 3
	}
	for _, d := range c.Depths {
		depth += d * per
	}
	return fmt.Sprintf("%s-%d (%s blocks, %s stem, %s shortcuts, %d labels)", kind, depth, c.LayerType, c.Stem, shortcutName(c), c.NumLabels)
}

func shortcutName(c *arch.Config) string {
	switch {
	case c.Plain:
		return "none"
	case c.ShortcutType == arch.ShortcutZeroPad:
		return "A (zero-pad)"
	}
	return "B (projection)"
}

// commas writes 25557032 as 25,557,032.
func commas(n int64) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
