package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/resnet-go/resnet"
	"github.com/resnet-go/resnet/gradcam"
	"github.com/resnet-go/resnet/internal/atomicfile"
	"github.com/resnet-go/resnet/model"
	"github.com/resnet-go/resnet/npy"
)

type explainFlags struct {
	modelFlags
	columnFlags
	class, layer, method, out string
	json                      bool
}

func explainCmd() *cobra.Command {
	var f explainFlags
	cmd := &cobra.Command{
		Use:   "explain [flags] IMAGE|DIR|hf://datasets/ORG/NAME[/SPLIT]...",
		Short: "Grad-CAM heat maps: which parts of each image made the model choose a class",
		Long: `For each image: the class (default: the top one) and its score, a heat-map overlay PNG at
the image's own size (JET colours blended with the photo at weight 0.5, as pytorch-grad-cam's
show_cam_on_image), and the raw map as .npy at the layer's resolution (after ReLU, before
scaling). Files are named after the image: OUT/NAME.gradcam.png and OUT/NAME.gradcam.npy
(for a hub dataset row, NAME is ORG-NAME-SPLIT-ROW).`,
		Example: `  resnet explain 000000039769.png                      # built-in CIFAR-10 model, last stage
  resnet explain --model microsoft/resnet-50 --class "tiger cat" --out maps/ cats.png
  resnet explain --layer stage3 --method gradcam++ --json photos/`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runExplain(cmd, &f, args) },
	}
	f.register(cmd)
	f.registerDecode(cmd)
	f.registerColumns(cmd)
	fl := cmd.Flags()
	fl.StringVar(&f.class, "class", "", "class to explain, as an index or an id2label name (default: each image's top class)")
	fl.StringVar(&f.layer, "layer", "", "target layer: stem, stage1…stageN (the stage's last block), or an HF name such as resnet.encoder.stages.3.layers.2 (default: the last stage)")
	fl.StringVar(&f.method, "method", model.MethodGradCAM, "gradcam or gradcam++")
	fl.StringVarP(&f.out, "out", "o", ".", "directory for the overlay PNGs and raw maps (created if missing)")
	fl.BoolVar(&f.json, "json", false, `one JSON object per image: {"image","class","label","score","overlay","heatmap"} or {"image","error"}`)
	return cmd
}

// explainResult is the stable JSON line of `explain --json`.
type explainResult struct {
	Image   string  `json:"image"`
	Class   *int    `json:"class,omitempty"`
	Label   string  `json:"label,omitempty"`
	Score   float32 `json:"score,omitempty"`
	Overlay string  `json:"overlay,omitempty"`
	Heatmap string  `json:"heatmap,omitempty"`
	Error   string  `json:"error,omitempty"`
}

func runExplain(cmd *cobra.Command, f *explainFlags, args []string) error {
	if f.method != model.MethodGradCAM && f.method != model.MethodGradCAMPlusPlus {
		return fmt.Errorf("--method %q: use gradcam or gradcam++", f.method)
	}
	paths, err := expandInputsWith(args, f.columnFlags)
	if err != nil {
		return err
	}
	ck, err := f.checkpoint(cmd.Context())
	if err != nil {
		return err
	}
	e, err := ck.BuildExplainer()
	ck.Close()
	if err != nil {
		return err
	}
	e.MaxPixels, e.KeepOrientation = f.maxPixels, !f.exifTranspose
	if e.Config.NumLabels == 0 {
		return fmt.Errorf("%s has no classifier head (num_labels 0): Grad-CAM explains a class score", e.Source)
	}
	class := -1
	if f.class != "" {
		if class, err = e.ClassIndex(f.class); err != nil {
			return fmt.Errorf("--class: %w", err)
		}
	}
	if _, err := e.Model.Model.ResolveLayer(f.layer); err != nil {
		return fmt.Errorf("--layer: %w", err)
	}
	if err := os.MkdirAll(f.out, 0o755); err != nil {
		return err
	}
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	names := outputNames(paths)
	failed := false
	for i, path := range paths {
		r := f.explainOne(e, path, class, filepath.Join(f.out, names[i]))
		if r.Error != "" {
			failed = true
		}
		switch {
		case f.json:
			b, _ := json.Marshal(r)
			fmt.Fprintf(out, "%s\n", b)
		case r.Error != "":
			out.Flush()
			fmt.Fprintf(os.Stderr, "%s: error: %s\n", r.Image, r.Error)
		default:
			fmt.Fprintf(out, "%s\n  %7.4f  %s (%d)\n  overlay %s\n  heatmap %s\n", r.Image, r.Score, r.Label, *r.Class, r.Overlay, r.Heatmap)
		}
		out.Flush()
	}
	if failed {
		return errSomeFailed
	}
	return nil
}

// explainOne explains one image and writes base.gradcam.png and base.gradcam.npy.
func (f *explainFlags) explainOne(e *resnet.Explainer, path string, class int, base string) explainResult {
	r := explainResult{Image: path}
	img, err := decodeInput(path, e.DecodeOptions())
	if err != nil {
		r.Error = err.Error()
		return r
	}
	ex, err := e.Explain(img, class, f.layer, f.method)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	if ex.Flat {
		fmt.Fprintf(os.Stderr, "%s: warning: the Grad-CAM map of class %d (%s) at %s has no positive value; the heat map is empty\n", path, ex.Class, ex.Label, ex.Layer)
	}
	r.Overlay, r.Heatmap = base+".gradcam.png", base+".gradcam.npy"
	if err := atomicfile.WriteFunc(r.Overlay, func(w io.Writer) error { return gradcam.EncodePNG(w, ex.Overlay) }); err != nil {
		return explainResult{Image: path, Error: err.Error()}
	}
	rows := make([][]float32, ex.MapH)
	for y := range rows {
		rows[y] = ex.Map[y*ex.MapW : (y+1)*ex.MapW]
	}
	if err := npy.WriteMatrix(r.Heatmap, rows); err != nil {
		return explainResult{Image: path, Error: err.Error()}
	}
	r.Class, r.Label, r.Score = &ex.Class, ex.Label, ex.Score
	return r
}

// outputNames are the images' base names without extension, made unique: photos/a.jpg and
// more/a.png become a and a-2; hf://datasets/ORG/NAME/SPLIT/ROW becomes ORG-NAME-SPLIT-ROW.
func outputNames(paths []string) []string {
	seen := map[string]int{}
	out := make([]string, len(paths))
	for i, p := range paths {
		var b string
		if rest, ok := strings.CutPrefix(p, hfArgPrefix); ok {
			b = strings.ReplaceAll(rest, "/", "-")
		} else if p == stdinArg {
			b = "stdin"
		} else {
			b = filepath.Base(p)
			b = strings.TrimSuffix(b, filepath.Ext(b))
		}
		seen[b]++
		if k := seen[b]; k > 1 {
			b = fmt.Sprintf("%s-%d", b, k)
		}
		out[i] = b
	}
	return out
}
