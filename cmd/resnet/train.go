package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/resnet-go/resnet"
	"github.com/resnet-go/resnet/arch"
	"github.com/resnet-go/resnet/datasets"
	"github.com/resnet-go/resnet/fit"
	"github.com/resnet-go/resnet/imageproc"
	"github.com/resnet-go/resnet/kernels"
	"github.com/resnet-go/resnet/model"
	"github.com/resnet-go/resnet/weights"
)

// trainFlags are the settings shared by `train` and `experiment degradation`.
type trainFlags struct {
	arch, dataset, out, schedule, normalize, onBad, init string
	epochs, batch, warmup, subset, threads, numLabels    int
	maxPixels, size                                      int
	exifTranspose                                        bool
	fs                                                   *pflag.FlagSet // to tell a value given from the default
	lr, momentum, weightDecay                            float64
	milestones                                           []int
	seed                                                 uint64
	nesterov, noDecayBN, noAugment, zeroInit, resume     bool
	spin                                                 bool
	freeze                                               bool
	progressFlags
	columnFlags
}

// check refuses values no run can use before any data is read: counts below 1 (a 0 given
// for --subset or --num-labels would otherwise mean "all" or "the dataset's", and
// --threads 0 one thread), a negative warm-up, and a learning rate, momentum or weight
// decay that is not a finite number in range (--lr nan parsed, then diverged at the first
// step).
func (f *trainFlags) check() error {
	if err := checkPositive(f.fs, map[string]int{"max-pixels": f.maxPixels, "subset": f.subset, "num-labels": f.numLabels,
		"epochs": f.epochs, "batch": f.batch, "threads": f.threads, "size": f.size}); err != nil {
		return err
	}
	switch {
	case f.size > 0 && int64(f.size)*int64(f.size) > int64(f.maxPixels):
		return fmt.Errorf("--size %d: %d×%d images have more pixels than --max-pixels %d", f.size, f.size, f.size, f.maxPixels)
	case f.schedule != "cosine" && f.schedule != "multistep" && f.schedule != "constant":
		// Checked here, before the dataset is read, not when the run starts.
		return fmt.Errorf("--schedule %q: want cosine, multistep or constant", f.schedule)
	case f.warmup < 0:
		return fmt.Errorf("--warmup %d must be at least 0", f.warmup)
	case f.warmup > f.epochs:
		return fmt.Errorf("--warmup %d must be at most --epochs %d", f.warmup, f.epochs)
	case len(f.milestones) > 0 && f.schedule != "multistep":
		return fmt.Errorf("--milestones applies to --schedule multistep, not %s", f.schedule)
	case f.init == "" && f.fs.Changed("freeze-backbone"):
		return fmt.Errorf("--freeze-backbone applies with --init: without it the backbone is random, and only a head on random features would train")
	case f.init == "" && f.fs.Changed("num-labels"):
		return fmt.Errorf("--num-labels sets the new head of an --init model; a new network takes its classes from the dataset")
	case !(f.lr > 0) || math.IsInf(f.lr, 0):
		return fmt.Errorf("--lr %g must be a positive number", f.lr)
	case !(f.momentum >= 0) || math.IsInf(f.momentum, 0):
		return fmt.Errorf("--momentum %g must be a number ≥ 0", f.momentum)
	case !(f.weightDecay >= 0) || math.IsInf(f.weightDecay, 0):
		return fmt.Errorf("--weight-decay %g must be a number ≥ 0", f.weightDecay)
	}
	// Milestones in epochs, as the user gave them (the schedule itself checks them in steps).
	for i, m := range f.milestones {
		switch {
		case m < 1 || m >= f.epochs:
			return fmt.Errorf("--milestones %s: %d is not between 1 and --epochs %d - 1, so the rate would never change there", intList(f.milestones), m, f.epochs)
		case i > 0 && m <= f.milestones[i-1]:
			return fmt.Errorf("--milestones %s must be increasing", intList(f.milestones))
		}
	}
	return nil
}

// intList writes 2,5,8.
func intList(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ",")
}

// checkOutDir refuses, before any data is read, an --out that holds a model but no training
// checkpoint: a new run would replace that model (say one `resnet convert` wrote there).
// With --resume it may instead be a run killed in its first epoch, between writing its files
// and its first checkpoint, which --resume restarts; such a run has written metrics.jsonl
// (right after the model), so a model folder without one is refused with --resume too (it
// used to be replaced: the refusal without --resume pointed at --resume, and a fine-tuning
// run given its own --init folder overwrote the model it started from).
func checkOutDir(out string, resume bool) error {
	if _, err := os.Stat(filepath.Join(out, fit.CheckpointFile)); !errors.Is(err, os.ErrNotExist) {
		return nil // a checkpoint (refused by fit without --resume), or nothing to say yet
	}
	// The first of a run's files the folder holds; fit.OutputFiles starts with metrics.jsonl,
	// so held is that whenever the folder has one.
	held := ""
	for _, name := range fit.OutputFiles {
		if _, err := os.Stat(filepath.Join(out, name)); err == nil {
			held = name
			break
		}
	}
	switch {
	case held == "":
		return nil
	case !resume:
		return fmt.Errorf("%s already holds %s but no training checkpoint, and a new run would replace it; choose another --out (--init %s fine-tunes that model; a run killed before its first checkpoint restarts over its files with --resume)", out, held, out)
	case held != fit.MetricsFile:
		return fmt.Errorf("%s holds %s but neither a training checkpoint nor %s: it is a model, not a run killed in its first epoch, and --resume would start over and replace it; choose another --out (--init %s fine-tunes that model)", out, held, fit.MetricsFile, out)
	}
	return nil
}

// initDir is the local folder of an --init model: the directory itself or a weights file's
// folder; ok is false for a hub id.
func initDir(init string) (dir string, ok bool) {
	st, err := os.Stat(init)
	if err != nil {
		return "", false
	}
	if !st.IsDir() {
		return filepath.Dir(init), true
	}
	return init, true
}

// sameModelDir says whether the --init model is the --out folder or a file in it: the run
// would replace the model it starts from.
func sameModelDir(init, out string) bool {
	dir, ok := initDir(init)
	if !ok {
		return false
	}
	a, errA := os.Stat(dir)
	b, errB := os.Stat(out)
	return errA == nil && errB == nil && os.SameFile(a, b)
}

func (f *trainFlags) register(cmd *cobra.Command, withModel bool) {
	fl := cmd.Flags()
	f.fs = fl
	fl.StringVar(&f.dataset, "dataset", "", "KIND:PATH: cifar10:DIR, folder:DIR|TAR|TAR.GZ (class sub-folders), fashion-mnist:DIR, mnist:DIR, hf:ORG/NAME[:CONFIG][@REV][/SPLIT] (default splits train and test)")
	f.registerColumns(cmd)
	fl.IntVar(&f.epochs, "epochs", 30, "epochs to train")
	fl.IntVar(&f.batch, "batch", 128, "images per SGD step")
	fl.Float64Var(&f.lr, "lr", 0.1, "base learning rate")
	fl.StringVar(&f.schedule, "schedule", "cosine", "learning-rate schedule: cosine, multistep (×0.1 at --milestones) or constant")
	fl.IntSliceVar(&f.milestones, "milestones", nil, "multistep: epochs at which the rate is divided by 10 (default: half and three quarters)")
	fl.IntVar(&f.warmup, "warmup", 0, "epochs of linear warm-up from lr/10")
	fl.Float64Var(&f.momentum, "momentum", 0.9, "SGD momentum")
	fl.Float64Var(&f.weightDecay, "weight-decay", 1e-4, "L2 weight decay (He et al. use 1e-4)")
	fl.BoolVar(&f.nesterov, "nesterov", false, "Nesterov momentum")
	fl.BoolVar(&f.noDecayBN, "no-decay-bn", false, "no weight decay on BatchNorm parameters and biases")
	fl.BoolVar(&f.noAugment, "no-augment", false, "no padding/crop/flip augmentation")
	fl.BoolVar(&f.zeroInit, "zero-init-residual", false, "start each residual branch's last BN at γ=0")
	fl.StringVar(&f.normalize, "normalize", "dataset", "per-channel normalisation: dataset (training-set mean/std), imagenet, or none")
	fl.Uint64Var(&f.seed, "seed", 1, "seed for initialisation, shuffling and augmentation")
	fl.IntVar(&f.maxPixels, "max-pixels", imageproc.DefaultMaxPixels, "refuse (or, with --on-bad-image skip, skip) decoded images (folder:, hf: datasets) with more pixels than this (Pillow's limit); CIFAR-10 and IDX records are fixed-size")
	fl.BoolVar(&f.exifTranspose, exifFlag, true, exifUsage)
	fl.IntVar(&f.subset, "subset", 0, "train on a seeded random subset of this many images (0: all)")
	fl.IntVar(&f.size, "size", 0, "resize every training and test image to N×N (bilinear, as Pillow) as it is read; needed for a folder: or hf: dataset whose images differ in size (0: keep the dataset's size)")
	fl.IntVar(&f.threads, "threads", runtime.GOMAXPROCS(0), "worker threads")
	fl.BoolVar(&f.spin, spinFlag, true, spinUsage)
	fl.StringVar(&f.onBad, "on-bad-image", "fail", "an unreadable image in a folder dataset: fail or skip (skipped images are counted and listed)")
	f.progressFlags.register(cmd)
	if withModel {
		fl.StringVar(&f.arch, "arch", "", "architecture preset (resnet info --list), e.g. cifar-resnet20; with --init, the architecture of a checkpoint without config.json (a bare .th or .pth file)")
		fl.StringVar(&f.out, "out", "", "output directory: model files, metrics.jsonl, training.png, checkpoint")
		fl.BoolVar(&f.resume, "resume", false, "continue the run whose checkpoint is in --out, exactly where it stopped (starts it when --out has no checkpoint yet: empty, or the files of a run killed before its first; a model folder is refused)")
		fl.StringVar(&f.init, "init", "", "start from this model's weights (hub id, directory or file) and replace its head (fine-tuning)")
		fl.IntVar(&f.numLabels, "num-labels", 0, "with --init: the new head's classes (must match the dataset's)")
		fl.BoolVar(&f.freeze, "freeze-backbone", false, "with --init: train only the new head")
	}
}

func trainCmd() *cobra.Command {
	var f trainFlags
	cmd := &cobra.Command{
		Use:   "train --arch A --dataset KIND:PATH --out DIR",
		Short: "Train a ResNet (or plain network) with SGD; resumable, with metrics and a plot per epoch",
		Example: `  resnet train --arch cifar-resnet20 --dataset cifar10:../shared/data/cifar10 --epochs 30 --out runs/r20
  resnet train --arch cifar-resnet20 --dataset cifar10:../shared/data/cifar10 --epochs 30 --out runs/r20 --resume
  resnet train --init microsoft/resnet-18 --dataset folder:pets.tar.gz --num-labels 37 --epochs 5 --lr 0.01 --out runs/pets
  resnet train --init resnet20-12fca82f.th --arch cifar-resnet20 --dataset cifar10:../shared/data/cifar10 --epochs 5 --lr 0.01 --out runs/ft`,
		Args: noArgs("the data goes in --dataset KIND:PATH, the architecture in --arch, the output directory in --out"),
		RunE: func(cmd *cobra.Command, _ []string) error { return runTrain(cmd.Context(), &f) },
	}
	f.register(cmd, true)
	return cmd
}

func runTrain(ctx context.Context, f *trainFlags) error {
	if f.out == "" {
		return fmt.Errorf("--out is required")
	}
	if err := f.check(); err != nil {
		return err
	}
	if f.init != "" && sameModelDir(f.init, f.out) {
		return fmt.Errorf("--out %s is where --init %s is: the run would replace the model it starts from; choose another --out", f.out, f.init)
	}
	if err := checkOutDir(f.out, f.resume); err != nil {
		return err
	}
	cfg, init, err := f.architecture(ctx)
	if err != nil {
		return err
	}
	trainSet, testSet, err := f.data(cfg)
	if err != nil {
		return err
	}
	if f.numLabels > 0 && f.numLabels != len(trainSet.Classes) {
		return fmt.Errorf("--num-labels %d, but the dataset has %d classes", f.numLabels, len(trainSet.Classes))
	}
	c, err := f.fitConfig(cfg, trainSet, testSet)
	if err != nil {
		return err
	}
	c.Out, c.Resume, c.Init, c.FreezeBackbone = f.out, f.resume, init, f.freeze
	if _, err := os.Stat(filepath.Join(c.Out, fit.CheckpointFile)); c.Resume && errors.Is(err, os.ErrNotExist) {
		// A run killed before its first checkpoint has nothing to resume: starting it again
		// is what --resume means then, so a restart loop that always passes it (a Kubernetes
		// Job, a shell retry) cannot get stuck on the first epoch.
		fmt.Fprintf(os.Stderr, "--resume: no %s in %s yet; starting the run from the beginning\n", fit.CheckpointFile, c.Out)
		c.Resume = false
	}
	if init != nil && cfg.NumLabels > 0 {
		c.InitLabels = cfg.Labels()
	}
	return runFit(ctx, c)
}

// runFit runs with Ctrl-C (and SIGTERM) turned into a checkpointed stop.
func runFit(ctx context.Context, c fit.Config) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := fit.Run(ctx, c)
	if errors.Is(err, fit.ErrInterrupted) {
		fmt.Fprintf(os.Stderr, "\nstopped: checkpoint written to %s; continue with the same command plus --resume\n", c.Out)
		os.Exit(130)
	}
	if err != nil {
		return err
	}
	if n := len(res.History); n > 0 {
		last := res.History[n-1]
		errs := fmt.Sprintf("train error %.2f%%, test error %.2f%%", last.TrainError, last.TestError)
		if c.Test == nil {
			errs = fmt.Sprintf("train error %.2f%%, no test split", last.TrainError)
		}
		fmt.Printf("done: %s (%s); classify with: resnet classify --model %s IMAGE\n", c.Out, errs, c.Out)
	}
	return nil
}

// architecture is the preset, or the --init model's architecture with its weights: the
// model's own config.json, or --arch for a checkpoint without one (a bare .th or .pth file).
// A config.json that --arch contradicts is refused.
func (f *trainFlags) architecture(ctx context.Context) (*arch.Config, weights.StateDict, error) {
	if f.init == "" {
		if f.arch == "" {
			return nil, nil, fmt.Errorf("--arch is required (e.g. cifar-resnet20; resnet info --list), or --init a model to fine-tune")
		}
		cfg, err := arch.Preset(f.arch)
		return cfg, nil, err
	}
	var preset *arch.Config
	if f.arch != "" {
		var err error
		if preset, err = arch.Preset(f.arch); err != nil {
			return nil, nil, err
		}
	}
	opts := []resnet.Option{resnet.WithHub((&modelFlags{progressFlags: f.progressFlags}).hubClient())}
	configless := preset != nil && !hasOwnConfig(f.init)
	if configless {
		opts = append(opts, resnet.WithArch(f.arch))
	}
	ck, err := resnet.LoadCheckpoint(ctx, f.init, opts...)
	if err != nil {
		return nil, nil, err
	}
	defer ck.Close()
	if preset != nil && !configless {
		if diffs := arch.Diff(ck.Config, preset, "there", "in --arch"); len(diffs) > 0 {
			return nil, nil, fmt.Errorf("--init %s has its own config.json, and --arch %s is another architecture (%s); drop --arch to fine-tune %s as it is: --arch names the architecture only of a checkpoint without config.json (a bare .th or .pth file)",
				f.init, f.arch, strings.Join(diffs, "; "), f.init)
		}
	}
	sd, err := weights.Materialize(ck.Weights)
	if err != nil {
		return nil, nil, err
	}
	if configless {
		spec, err := ck.Config.Spec()
		if err != nil {
			return nil, nil, err
		}
		if err := model.Check(&spec, sd); err != nil {
			return nil, nil, fmt.Errorf("--init %s is not a %s, as --arch says: %w", f.init, f.arch, err)
		}
	}
	return ck.Config, sd, nil
}

// hasOwnConfig says whether --init brings a config.json, as resnet.LoadCheckpoint finds one:
// a hub model does, a directory or a weights file does when the directory holds one.
func hasOwnConfig(init string) bool {
	dir, ok := initDir(init)
	if !ok {
		return true // a hub id
	}
	_, err := os.Stat(filepath.Join(dir, "config.json"))
	return err == nil
}

// data loads the training split (optionally a seeded subset) and, when the dataset has one,
// the test split.
func (f *trainFlags) data(cfg *arch.Config) (*datasets.Dataset, *datasets.Dataset, error) {
	if f.dataset == "" {
		return nil, nil, fmt.Errorf("--dataset is required (e.g. cifar10:../shared/data/cifar10)")
	}
	spec, err := datasets.ParseSpec(f.dataset)
	if err != nil {
		return nil, nil, err
	}
	if err := checkDecodeFlags(f.fs, spec); err != nil {
		return nil, nil, err
	}
	policy, err := datasets.ParseBadImagePolicy(f.onBad)
	if err != nil {
		return nil, nil, err
	}
	opts := f.datasetOptions()
	opts.OnBadImage, opts.Warn, opts.Filter = policy, os.Stderr, imageproc.Bilinear
	opts.MaxPixels, opts.KeepOrientation = f.maxPixels, !f.exifTranspose
	if f.size > 0 {
		opts.Width, opts.Height = f.size, f.size
	}
	// Decoding 50,000 JPEGs takes tens of seconds: say so rather than sit silent.
	t0 := time.Now()
	fmt.Fprintf(os.Stderr, "reading the training images of %s ...\n", spec)
	trainSet, err := spec.Dataset(datasets.Train, opts)
	if errors.Is(err, datasets.ErrMixedSizes) {
		return nil, nil, fmt.Errorf("%w; --size N resizes every image to N×N as it is read", err)
	}
	if err != nil {
		return nil, nil, err
	}
	fmt.Fprintf(os.Stderr, "read %d training images (%d classes) in %.1f s\n", trainSet.Len(), len(trainSet.Classes), time.Since(t0).Seconds())
	trainPaths := trainSet.Paths // before --subset, to tell a test split that is the same folder
	if len(trainSet.Skipped) > 0 {
		fmt.Fprintf(os.Stderr, "skipped %d unreadable training images\n", len(trainSet.Skipped))
	}
	if trainSet.C != cfg.NumChannels {
		if trainSet, err = trainSet.WithChannels(cfg.NumChannels); err != nil {
			return nil, nil, err
		}
	}
	if f.subset > trainSet.Len() {
		fmt.Fprintf(os.Stderr, "note: --subset %d is more than the training split's %d images; training on all %d\n", f.subset, trainSet.Len(), trainSet.Len())
	}
	if f.subset > 0 && f.subset < trainSet.Len() {
		idx := datasets.Permutation(f.seed, -1, trainSet.Len())[:f.subset]
		sort.Ints(idx)
		if trainSet, err = trainSet.Subset(idx); err != nil {
			return nil, nil, err
		}
	}
	if spec.FixedSplit() {
		fmt.Fprintf(os.Stderr, "%s names one split; training without test error\n", spec)
		return trainSet, nil, nil
	}
	// A folder without train/ and test/ (or val/) side by side gives the same images for both
	// splits: their error would be the training error under another name. Listing the test
	// split (names, no decoding) tells before it is decoded a second time.
	noTestSplit := func() (*datasets.Dataset, *datasets.Dataset, error) {
		fmt.Fprintf(os.Stderr, "%s has no test split of its own (train/ and test/ or val/ folders side by side); training without test error\n", spec)
		return trainSet, nil, nil
	}
	if l, err := spec.List(datasets.Test, opts); err == nil && sameImages(l, trainPaths) {
		return noTestSplit()
	}
	testSet, err := spec.Dataset(datasets.Test, opts)
	if err != nil {
		fmt.Fprintf(os.Stderr, "no test split (%v); training without test error\n", err)
		return trainSet, nil, nil
	}
	if len(trainPaths) > 0 && slices.Equal(testSet.Paths, trainPaths) {
		return noTestSplit() // the listing differed only by images that failed to decode
	}
	if testSet.C != cfg.NumChannels {
		if testSet, err = testSet.WithChannels(cfg.NumChannels); err != nil {
			return nil, nil, err
		}
	}
	return trainSet, testSet, nil
}

// sameImages reports whether the listed split names exactly the images of paths, in order.
func sameImages(l *datasets.Folder, paths []string) bool {
	if len(paths) == 0 || len(l.Listed) != len(paths) {
		return false
	}
	for i, x := range l.Listed {
		if x.Name != paths[i] {
			return false
		}
	}
	return true
}

func (f *trainFlags) fitConfig(cfg *arch.Config, trainSet, testSet *datasets.Dataset) (fit.Config, error) {
	noteThreads(f.threads)
	runtime.GOMAXPROCS(f.threads)
	kernels.SetThreads(f.threads)
	kernels.SetSpinning(f.spin)
	c := fit.Config{
		Arch: cfg, Train: trainSet, Test: testSet, Epochs: f.epochs, Batch: f.batch, LR: f.lr,
		Momentum: f.momentum, WeightDecay: f.weightDecay, Nesterov: f.nesterov, NoDecayBNBias: f.noDecayBN,
		Schedule: f.schedule, Milestones: f.milestones, WarmupEpochs: f.warmup, Seed: f.seed,
		Augment: !f.noAugment, ZeroInitResidual: f.zeroInit, Quiet: !f.bars(), Log: os.Stdout,
	}
	if !f.exifTranspose { // only for image files: checkDecodeFlags refused it elsewhere
		c.Decoding = "EXIF orientation not applied (--exif-transpose=false)"
	}
	switch f.normalize {
	case "dataset":
		mean, std := trainSet.ChannelStats()
		c.Normalize = datasets.Normalize{Mean: mean, Std: std}
	case "imagenet":
		m, s := imageproc.ImageNetMean, imageproc.ImageNetStd
		c.Normalize = datasets.Normalize{Mean: m[:trainSet.C], Std: s[:trainSet.C]}
	case "none":
	default:
		return c, fmt.Errorf("--normalize %q: want dataset, imagenet or none", f.normalize)
	}
	return c, nil
}
