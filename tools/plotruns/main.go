// Command plotruns joins the metrics of training runs that continue one another (a run and
// its warm restarts with resnet train --init) into one metrics file and one training plot,
// epochs numbered on from run to run. The default model's docs/default-model-* files come from
// it:
//
//	go run ./tools/plotruns -png docs/default-model-training.png \
//	    -metrics docs/default-model-metrics.jsonl runs/r20 runs/r20b runs/r20c runs/r20d
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/resnet-go/resnet/fit"
	"github.com/resnet-go/resnet/internal/atomicfile"
	"github.com/resnet-go/resnet/plots"
)

func main() {
	png := flag.String("png", "", "write the joined training plot here")
	metrics := flag.String("metrics", "", "write the joined metrics (JSON lines) here")
	title := flag.String("title", "CIFAR-10 ResNet-20, the built-in model", "plot title")
	flag.Parse()
	if flag.NArg() == 0 || (*png == "" && *metrics == "") {
		fmt.Fprintln(os.Stderr, "usage: plotruns [-png FILE] [-metrics FILE] RUN_DIR...")
		os.Exit(2)
	}
	if err := run(flag.Args(), *png, *metrics, *title); err != nil {
		fmt.Fprintln(os.Stderr, "plotruns:", err)
		os.Exit(1)
	}
}

func run(dirs []string, png, metrics, title string) error {
	var all []fit.Epoch
	for _, d := range dirs {
		eps, err := readMetrics(filepath.Join(d, "metrics.jsonl"))
		if err != nil {
			return err
		}
		for _, e := range eps {
			e.Epoch = len(all) + 1
			all = append(all, e)
		}
	}
	if metrics != "" {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		for _, e := range all {
			if err := enc.Encode(e); err != nil {
				return err
			}
		}
		if err := atomicfile.Write(metrics, buf.Bytes()); err != nil {
			return err
		}
	}
	if png != "" {
		c := plots.Curve{Name: "ResNet-20"}
		for _, e := range all {
			c.Train = append(c.Train, e.TrainError)
			if e.Tested {
				c.Test = append(c.Test, e.TestError)
			}
		}
		return plots.Training(png, title, c)
	}
	return nil
}

func readMetrics(path string) ([]fit.Epoch, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var eps []fit.Epoch
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		var e fit.Epoch
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		eps = append(eps, e)
	}
	return eps, sc.Err()
}
