package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/resnet-go/resnet/arch"
	"github.com/resnet-go/resnet/fit"
	"github.com/resnet-go/resnet/plots"
)

func experimentCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "experiment",
		Short: "Reproduce the paper's experiments",
		// Without these, `resnet experiment typo` printed the help and exited 0.
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(degradationCmd())
	return cmd
}

type degradationFlags struct {
	trainFlags
	depths []int
	out    string
}

func degradationCmd() *cobra.Command {
	var f degradationFlags
	cmd := &cobra.Command{
		Use:     "degradation --dataset cifar10:DIR [--depths 20,56] [--epochs N] [--subset M]",
		Short:   "Train plain and residual CIFAR networks of several depths alike; plot and tabulate their errors (He et al. Fig. 6)",
		Example: `  resnet experiment degradation --dataset cifar10:../shared/data/cifar10 --depths 20,56 --epochs 12 --subset 10000 --out runs/degradation`,
		Args:    noArgs("the data goes in --dataset cifar10:DIR"),
		RunE:    func(cmd *cobra.Command, _ []string) error { return runDegradation(cmd.Context(), &f) },
	}
	f.register(cmd, false)
	cmd.Flags().IntSliceVar(&f.depths, "depths", []int{20, 56}, "network depths, each 6n+2 (8, 14, 20, 26, 32, 44, 56, 110, …); all are checked before training, which runs shallow to deep")
	cmd.Flags().StringVar(&f.out, "out", "runs/degradation", "output directory: one run per network, degradation.png, results.json")
	return cmd
}

// degradationRow is one network's final errors, as results.json stores them.
type degradationRow struct {
	Network    string   `json:"network"`
	Depth      int      `json:"depth"`
	Plain      bool     `json:"plain"`
	TrainError float64  `json:"train_error"`
	TestError  *float64 `json:"test_error,omitempty"` // absent without a test split
	Seconds    float64  `json:"seconds"`
}

func runDegradation(ctx context.Context, f *degradationFlags) error {
	if err := f.check(); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	depths, err := checkDepths(f.depths)
	if err != nil {
		return err
	}
	f.depths = depths
	probe, err := arch.Preset(fmt.Sprintf("cifar-resnet%d", f.depths[0]))
	if err != nil {
		return err
	}
	// Load the data once; every network sees the same images in the same order.
	trainSet, testSet, err := f.data(probe)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(f.out, 0o755); err != nil {
		return err
	}
	var plain, residual []plots.Curve
	var rows []degradationRow
	for _, isPlain := range []bool{true, false} {
		for _, d := range f.depths {
			name := fmt.Sprintf("cifar-resnet%d", d)
			label := fmt.Sprintf("ResNet-%d", d)
			if isPlain {
				name, label = fmt.Sprintf("cifar-plain%d", d), fmt.Sprintf("plain-%d", d)
			}
			cfg, err := arch.Preset(name)
			if err != nil {
				return err
			}
			c, err := f.fitConfig(cfg, trainSet, testSet)
			if err != nil {
				return err
			}
			c.Out = filepath.Join(f.out, name)
			c.Log = prefixWriter{label}
			// Finished or interrupted runs continue from their checkpoints.
			_, statErr := os.Stat(filepath.Join(c.Out, fit.CheckpointFile))
			c.Resume = statErr == nil
			fmt.Printf("== %s (%s)\n", label, c.Out)
			res, err := fit.Run(ctx, c)
			if errors.Is(err, fit.ErrInterrupted) {
				fmt.Fprintf(os.Stderr, "\nstopped: run the same command again to continue\n")
				os.Exit(130)
			}
			if err != nil {
				return fmt.Errorf("%s: %w", label, err)
			}
			curve := plots.Curve{Name: label}
			row := degradationRow{Network: label, Depth: d, Plain: isPlain}
			for _, e := range res.History {
				curve.Train = append(curve.Train, e.TrainError)
				if testSet != nil { // without one, no test curve (not a line at 0%)
					curve.Test = append(curve.Test, e.TestError)
				}
				row.Seconds += e.Seconds
			}
			last := res.History[len(res.History)-1]
			row.TrainError = last.TrainError
			if testSet != nil {
				row.TestError = &last.TestError
			}
			rows = append(rows, row)
			if isPlain {
				plain = append(plain, curve)
			} else {
				residual = append(residual, curve)
			}
		}
	}
	fig := filepath.Join(f.out, "degradation.png")
	if err := plots.Degradation(fig, plain, residual); err != nil {
		return err
	}
	data, _ := json.MarshalIndent(rows, "", "  ")
	if err := os.WriteFile(filepath.Join(f.out, "results.json"), append(data, '\n'), 0o644); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\nnetwork\ttrain error\ttest error\ttraining time\t")
	for _, r := range rows {
		test := "none" // no test split
		if r.TestError != nil {
			test = fmt.Sprintf("%.2f%%", *r.TestError)
		}
		fmt.Fprintf(tw, "%s\t%.2f%%\t%s\t%.0f s\t\n", r.Network, r.TrainError, test, r.Seconds)
	}
	tw.Flush()
	n := len(f.depths)
	shallowP, deepP, shallowR, deepR := rows[0], rows[n-1], rows[n], rows[2*n-1]
	fmt.Printf("\nplain:    deeper trains worse (%s %.2f%% > %s %.2f%%): %v\n", deepP.Network, deepP.TrainError, shallowP.Network, shallowP.TrainError, deepP.TrainError > shallowP.TrainError)
	fmt.Printf("residual: deeper trains as well or better (%s %.2f%% <= %s %.2f%%): %v\n", deepR.Network, deepR.TrainError, shallowR.Network, shallowR.TrainError, deepR.TrainError <= shallowR.TrainError)
	fmt.Printf("figure: %s\n", fig)
	return nil
}

// checkDepths refuses, before anything is trained, every depth that is not a CIFAR network's
// (plain and residual) and a depth given twice, and returns the depths from shallow to deep,
// the order the summary compares them in.
func checkDepths(depths []int) ([]int, error) {
	if len(depths) < 2 {
		return nil, fmt.Errorf("--depths needs at least two depths to compare (e.g. --depths 20,56)")
	}
	var bad []string
	seen := map[int]bool{}
	for _, d := range depths {
		_, errR := arch.Preset(fmt.Sprintf("cifar-resnet%d", d))
		_, errP := arch.Preset(fmt.Sprintf("cifar-plain%d", d))
		switch {
		case d < 0 || errR != nil || errP != nil:
			bad = append(bad, strconv.Itoa(d))
		case seen[d]:
			return nil, fmt.Errorf("--depths: %d is given twice", d)
		}
		seen[d] = true
	}
	if len(bad) > 0 {
		what := "is not a CIFAR depth"
		if len(bad) > 1 {
			what = "are not CIFAR depths"
		}
		return nil, fmt.Errorf("--depths %s: %s; a CIFAR network's depth is 6n+2 with n ≥ 1 blocks per stage: 8, 14, 20, 26, 32, 44, 56, 110, …",
			strings.Join(bad, ", "), what)
	}
	sorted := slices.Clone(depths)
	slices.Sort(sorted)
	return sorted, nil
}

// prefixWriter puts the network's name before each epoch line.
type prefixWriter struct{ name string }

func (p prefixWriter) Write(b []byte) (int, error) {
	fmt.Print(p.name + "  " + strings.TrimLeft(string(b), " "))
	return len(b), nil
}
