package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/resnet-go/resnet"
	"github.com/resnet-go/resnet/arch"
	"github.com/resnet-go/resnet/datasets"
	"github.com/resnet-go/resnet/hub"
	"github.com/resnet-go/resnet/imageproc"
	"github.com/resnet-go/resnet/kernels"
	"github.com/resnet-go/resnet/model"
)

// modelFlags are the flags every command that loads a model shares.
type modelFlags struct {
	model, arch, revision, labels string
	progressFlags
	// Preprocessing overrides; zero values keep the checkpoint's own settings.
	size, height, width int
	cropPct             float64
	resample            string
	mean, std           channelValues
	preprocess          string
	maxPixels           int
	exifTranspose       bool
	threads             int
	// randomArch lets --arch without --model mean the preset with random weights (bench);
	// elsewhere that combination is refused.
	randomArch bool
	spin       bool
	fs         *pflag.FlagSet // the command's flags, to tell a value given from the default
}

func (f *modelFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	f.fs = fl
	fl.StringVarP(&f.model, "model", "m", "", "hub id (microsoft/resnet-50), HF-style directory, checkpoint file (.safetensors, .pth, .th, .bin) or ONNX ResNet (.onnx); default: the built-in CIFAR-10 ResNet-20")
	fl.StringVar(&f.arch, "arch", "", "architecture of a checkpoint without config.json (e.g. resnet-50, cifar-resnet20; resnet info --list names them all); refused where a config.json describes another")
	fl.StringVar(&f.revision, "revision", "", "hub branch, tag or commit (default main)")
	fl.StringVar(&f.labels, "labels", "", "class names file, one per line (replaces the checkpoint's id2label)")
	f.progressFlags.register(cmd)
	fl.IntVar(&f.threads, "threads", runtime.GOMAXPROCS(0), "threads for the model's kernels and for decoding images (default: all cores)")
	fl.BoolVar(&f.spin, spinFlag, true, spinUsage)
	fl.IntVar(&f.size, "size", 0, "preprocessing: output N×N, by the model's own rule: scale the short side and centre-crop by its crop_pct, or warp to N×N where it has no crop")
	fl.IntVar(&f.height, "height", 0, "preprocessing: resize to exactly this height, no crop (with --width)")
	fl.IntVar(&f.width, "width", 0, "preprocessing: resize to exactly this width, no crop (with --height)")
	fl.Float64Var(&f.cropPct, "crop-pct", 0, "preprocessing: crop fraction (resize to size/crop-pct, then centre crop)")
	fl.StringVar(&f.resample, "resample", "", "preprocessing: nearest, box, bilinear, hamming, bicubic or lanczos")
	fl.Var(&f.mean, "mean", "preprocessing: per-channel mean, 3 values (e.g. 0.485,0.456,0.406)")
	fl.Var(&f.std, "std", "preprocessing: per-channel std, 3 values (e.g. 0.229,0.224,0.225)")
	fl.StringVar(&f.preprocess, "preprocess", "pil", "preprocessing backend to reproduce: pil (transformers' Pillow processor) or torchvision (transformers 5's default; bilinear/bicubic only; not saved by convert)")
	f.maxPixels, f.exifTranspose = imageproc.DefaultMaxPixels, true
}

// registerDecode adds the flags of commands that decode image files (classify, embed, eval,
// explain, serve); bench, info, convert and export take none, so they do not offer them.
func (f *modelFlags) registerDecode(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.IntVar(&f.maxPixels, "max-pixels", imageproc.DefaultMaxPixels, "refuse images with more pixels than this (Pillow's limit)")
	fl.BoolVar(&f.exifTranspose, exifFlag, true, exifUsage)
}

// checkDecodeFlags refuses --max-pixels and --exif-transpose for a dataset of raw pixel records
// (cifar10:, mnist:), which decodes no image file: there they would be silently ignored.
func checkDecodeFlags(fs *pflag.FlagSet, spec datasets.Spec) error {
	if spec.EncodedImages() || fs == nil {
		return nil
	}
	for _, name := range []string{"max-pixels", exifFlag} {
		if fs.Changed(name) {
			return fmt.Errorf("--%s applies to datasets of image files (folder:, hf:); %s holds raw pixel records", name, spec)
		}
	}
	return nil
}

// The flag that turns images upright by their EXIF orientation, in every command that decodes images.
const (
	exifFlag  = "exif-transpose"
	exifUsage = "turn images upright as their EXIF orientation says, as transformers' pipelines and the datasets library do (false: pixels as stored, as Image.open and torchvision's ImageFolder give JPEG, PNG and WebP; Pillow 9's Image.open turns TIFFs already, and exif_transpose then turns them twice: here a TIFF is turned once, or not at all with false)"
)

// hubClient is the environment-configured client with a progress bar on stderr.
func (f *modelFlags) hubClient() *hub.Client {
	c := hub.NewFromEnv()
	if f.bars() {
		c.Progress = func(file string, total int64) io.WriteCloser {
			return &barWriter{progressbar.DefaultBytes(total, "downloading "+file)}
		}
	}
	return c
}

type barWriter struct{ *progressbar.ProgressBar }

func (b *barWriter) Close() error { return b.Finish() }

func (f *modelFlags) options() []resnet.Option {
	opts := []resnet.Option{resnet.WithHub(f.hubClient())}
	if f.arch != "" {
		opts = append(opts, resnet.WithArch(f.arch))
	}
	if f.revision != "" {
		opts = append(opts, resnet.WithRevision(f.revision))
	}
	return opts
}

// checkpoint reads the checkpoint and applies label and preprocessing overrides.
func (f *modelFlags) checkpoint(ctx context.Context, extra ...resnet.Option) (*resnet.Checkpoint, error) {
	if err := f.start(); err != nil {
		return nil, err
	}
	var ck *resnet.Checkpoint
	var err error
	switch {
	case f.model == "" && f.arch != "" && f.randomArch:
		ck, err = resnet.RandomCheckpoint(f.arch, 1)
	case f.model == "" && f.arch != "":
		return nil, fmt.Errorf("--arch %s names the architecture of a --model checkpoint file that has no config.json; give --model too (without --model the built-in CIFAR-10 ResNet-20 is used; `resnet bench --arch %s` times the architecture with random weights)", f.arch, f.arch)
	case f.model == "" && f.revision != "":
		return nil, fmt.Errorf("--revision %s applies to a hub model given with --model; the built-in model has no revisions", f.revision)
	case f.model == "":
		ck, err = resnet.DefaultCheckpoint()
	default:
		ck, err = resnet.LoadCheckpoint(ctx, f.model, append(f.options(), extra...)...)
	}
	if err != nil {
		return nil, err
	}
	if f.labels != "" {
		data, err := os.ReadFile(f.labels)
		if err != nil {
			return nil, err
		}
		names, err := readLabels(string(data))
		if err != nil {
			return nil, fmt.Errorf("--labels %s: %w", f.labels, err)
		}
		if len(names) != ck.Config.NumLabels {
			return nil, fmt.Errorf("--labels %s has %d names, the model has %d classes", f.labels, len(names), ck.Config.NumLabels)
		}
		ck.Config.SetLabels(names)
	}
	f.noteDefaultPreprocessing(ck)
	return ck, f.overrideProcessor(ck.Processor)
}

// noteDefaultPreprocessing says on stderr which preprocessing a checkpoint that came without
// one gets, unless the flags set it: a model trained at another size or normalization would
// otherwise be fed wrongly scaled input with no sign of it.
func (f *modelFlags) noteDefaultPreprocessing(ck *resnet.Checkpoint) {
	if !ck.DefaultPreprocessing || f.fs == nil {
		return
	}
	for _, name := range []string{"size", "height", "crop-pct", "resample", "mean", "std"} {
		if f.fs.Changed(name) {
			return
		}
	}
	what := "resize the short side to 256 (bicubic), centre-crop 224×224, ImageNet mean/std"
	if ck.Config.Stem == arch.StemCIFAR {
		what = "resize to 32×32 (bilinear), ImageNet mean/std"
	}
	fmt.Fprintf(os.Stderr, "note: %s has no preprocessing config; using the default for its stem: %s (set --size, --resample, --mean, --std if it was trained otherwise)\n", ck.Source, what)
}

// readLabels splits a class names file, one name per line: Windows line ends are taken off
// (they had become part of every label), trailing empty lines are ignored, and an empty line
// between names is refused (it would shift every later class onto the wrong index).
func readLabels(data string) ([]string, error) {
	data = strings.TrimRight(strings.ReplaceAll(data, "\r\n", "\n"), "\n")
	names := strings.Split(data, "\n")
	for i, n := range names {
		if strings.TrimSpace(n) == "" {
			return nil, fmt.Errorf("line %d is empty; give one class name per line", i+1)
		}
	}
	return names, nil
}

// start checks the flags' values, then applies --threads to the Go scheduler and the
// kernels' pool.
func (f *modelFlags) start() error {
	if err := f.check(); err != nil {
		return err
	}
	noteThreads(f.threads)
	runtime.GOMAXPROCS(f.threads)
	kernels.SetThreads(f.threads)
	kernels.SetSpinning(f.spin)
	return nil
}

// noteThreads says on stderr when --threads asks for more threads than the CPUs this process
// may run on (runtime.NumCPU honours the affinity mask): the extra threads take turns on the
// same cores, and every parallel step waits for the last of them (ResNet-18 on 2 cores: 27 ms
// a pass at --threads 64 against 11 at 2).
func noteThreads(n int) {
	if cpus := runtime.NumCPU(); n > cpus {
		threadsNote.Do(func() {
			fmt.Fprintf(os.Stderr, "note: --threads %d is more than the %d CPUs this process can use; the extra threads take turns on the same cores and slow every pass down (use --threads %d or less)\n", n, cpus, cpus)
		})
	}
}

var threadsNote sync.Once

// The --spin flag of every command that runs a model.
const (
	spinFlag  = "spin"
	spinUsage = "kernel threads poll for up to 200 µs before sleeping (faster on cores of their own); --spin=false sleeps at once, for cores shared with other busy processes (two 2-thread processes on 2 cores: 12% faster each) or a container's CPU quota"
)

// check refuses flag values no model can run with, before anything is loaded.
func (f *modelFlags) check() error {
	if f.threads < 1 {
		return fmt.Errorf("--threads must be at least 1")
	}
	if err := checkPositive(f.fs, map[string]int{"size": f.size, "height": f.height, "width": f.width, "max-pixels": f.maxPixels}); err != nil {
		return err
	}
	if f.fs != nil && f.fs.Changed("crop-pct") && (f.cropPct <= 0 || f.cropPct > 1) {
		return fmt.Errorf("--crop-pct %g must be in (0, 1]", f.cropPct)
	}
	return nil
}

// load builds the model.
func (f *modelFlags) load(ctx context.Context) (*resnet.Model, error) {
	p, err := f.loadAsync(ctx, nil)
	if err != nil {
		return nil, err
	}
	return p.wait()
}

// pendingModel is a model whose network is built on its own goroutine (modelFlags.loadAsync)
// while the caller starts on the images: the checkpoint's config and processor, all that
// decoding and preprocessing need, are read first. ResNet-50's weights take 145–190 ms to
// prepare on the 2-core Intel Xeon, as long as decoding the first 40 photos on one core,
// and `classify DIR` paid all of it before its first image.
type pendingModel struct {
	pre  *resnet.Model // preprocessing only: processor, config, decode options; no network
	done chan struct{}
	m    *resnet.Model
	err  error
}

// wait returns the built model, or why it could not be built.
func (p *pendingModel) wait() (*resnet.Model, error) {
	<-p.done
	return p.m, p.err
}

// loadAsync is load with the network built on its own goroutine; edit, if not nil,
// changes the checkpoint first (embed drops the classifier).
func (f *modelFlags) loadAsync(ctx context.Context, edit func(*resnet.Checkpoint)) (*pendingModel, error) {
	ck, err := f.checkpoint(ctx)
	if err != nil {
		return nil, err
	}
	if edit != nil {
		edit(ck)
	}
	p := &pendingModel{done: make(chan struct{})}
	p.pre = &resnet.Model{Model: &model.Model{Config: *ck.Config}, Processor: ck.Processor, Source: ck.Source,
		MaxPixels: f.maxPixels, KeepOrientation: !f.exifTranspose}
	go func() {
		defer close(p.done)
		defer ck.Close()
		p.m, p.err = ck.Build()
		if p.err == nil {
			p.m.MaxPixels, p.m.KeepOrientation = f.maxPixels, !f.exifTranspose
		}
	}()
	return p, nil
}

// checkPositive refuses, for each named flag, a value below 1 that was given (or is
// negative): a zero would otherwise read as "not given" and silently keep the default
// (--size 0 classified at the model's own size, --max-pixels 0 kept Pillow's limit).
func checkPositive(fs *pflag.FlagSet, vals map[string]int) error {
	for _, n := range slices.Sorted(maps.Keys(vals)) {
		if v := vals[n]; v < 0 || (v < 1 && fs != nil && fs.Changed(n)) {
			return fmt.Errorf("--%s must be at least 1, got %d", n, v)
		}
	}
	return nil
}

// checkSize refuses --height without --width (or the reverse) and --size with them.
func (f *modelFlags) checkSize() error {
	if (f.height > 0) != (f.width > 0) {
		return fmt.Errorf("--height and --width go together")
	}
	if f.size > 0 && f.height > 0 {
		return fmt.Errorf("give --size or --height/--width, not both")
	}
	return nil
}

func (f *modelFlags) overrideProcessor(p *imageproc.Processor) error {
	if err := f.checkSize(); err != nil {
		return err
	}
	if f.cropPct != 0 {
		if f.cropPct <= 0 || f.cropPct > 1 {
			return fmt.Errorf("--crop-pct %g must be in (0, 1]", f.cropPct)
		}
		if f.height > 0 {
			return fmt.Errorf("--crop-pct does not apply to --height/--width, which resize without a crop")
		}
	}
	// One rule for --size N (issue 9.8): the model's own kind of resize at the new size. A
	// model that scales its short side and centre-crops (crop_pct) keeps doing so; a model
	// that warps to a fixed height×width (CIFAR) warps to N×N, no crop. --crop-pct turns
	// either into scale-and-crop.
	switch {
	case f.size > 0 && (p.ShortestEdge > 0 || f.cropPct != 0):
		p.ShortestEdge, p.Height, p.Width = f.size, 0, 0
	case f.size > 0:
		p.Height, p.Width = f.size, f.size
	case f.height > 0:
		p.Height, p.Width, p.ShortestEdge = f.height, f.width, 0
	case f.cropPct != 0 && p.ShortestEdge == 0:
		if p.Height != p.Width || p.Height == 0 {
			return fmt.Errorf("--crop-pct needs --size: this model resizes to %d×%d without a crop", p.Width, p.Height)
		}
		p.ShortestEdge, p.Height, p.Width = p.Height, 0, 0
	}
	if f.size > 0 || f.height > 0 {
		p.DoResize = true
	}
	if f.cropPct != 0 {
		p.CropPct = f.cropPct
	}
	if f.resample != "" {
		filter, err := imageproc.ParseFilter(f.resample)
		if err != nil {
			return err
		}
		p.Resample = filter
	}
	backend, err := imageproc.ParseBackend(f.preprocess)
	if err != nil {
		return fmt.Errorf("--preprocess: %w", err)
	}
	p.Backend = backend
	if err := backend.CheckFilter(p.Resample); err != nil && p.DoResize {
		return fmt.Errorf("--preprocess %s: %w (choose another with --resample)", backend, err)
	}
	for _, v := range []struct {
		name string
		vals channelValues
		dst  *[3]float32
	}{{"--mean", f.mean, &p.Mean}, {"--std", f.std, &p.Std}} {
		if v.vals == nil {
			continue
		}
		if len(v.vals) != 3 {
			return fmt.Errorf("%s needs 3 values, got %d", v.name, len(v.vals))
		}
		copy(v.dst[:], v.vals)
	}
	for _, s := range p.Std {
		if s == 0 {
			return fmt.Errorf("std must not be 0")
		}
	}
	return nil
}

// channelValues is a comma-separated list of numbers for --mean and --std. Unlike pflag's
// float32 slice it has no "[]" default in the help text, and it rejects non-finite values.
type channelValues []float32

func (c *channelValues) String() string {
	parts := make([]string, len(*c))
	for i, v := range *c {
		parts[i] = strconv.FormatFloat(float64(v), 'g', -1, 32)
	}
	return strings.Join(parts, ",")
}

func (c *channelValues) Set(s string) error {
	var vals []float32
	for _, part := range strings.Split(s, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(part), 32)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("%q is not a number", part)
		}
		vals = append(vals, float32(v))
	}
	*c = vals
	return nil
}

func (c *channelValues) Type() string { return "r,g,b" }

// progressFlags decide whether progress bars are drawn on stderr: by default only when stderr
// is a terminal, so logs and pipes get no bar redraws; --progress forces them, -q turns them off.
type progressFlags struct {
	quiet, progress bool
}

func (p *progressFlags) register(cmd *cobra.Command) {
	cmd.Flags().BoolVarP(&p.quiet, "quiet", "q", false, "no progress bars")
	cmd.Flags().BoolVar(&p.progress, "progress", false, "progress bars even when stderr is not a terminal")
}

// bars reports whether to draw progress bars.
func (p *progressFlags) bars() bool {
	if p.progress {
		return true
	}
	return !p.quiet && term.IsTerminal(int(os.Stderr.Fd()))
}
