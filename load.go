package resnet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/resnet-go/resnet/internal/atomicfile"

	"github.com/resnet-go/resnet/arch"
	"github.com/resnet-go/resnet/hub"
	"github.com/resnet-go/resnet/imageproc"
	"github.com/resnet-go/resnet/kernels"
	"github.com/resnet-go/resnet/model"
	"github.com/resnet-go/resnet/onnx"
	"github.com/resnet-go/resnet/weights"
)

// Options say how to find and interpret a checkpoint.
type Options struct {
	// Arch names a preset (see arch.Presets) for checkpoints without a config.json.
	Arch string
	// Revision is the hub branch, tag or commit (default "main").
	Revision string
	// Hub is the client for hub ids (default hub.NewFromEnv()).
	Hub *hub.Client
	// ConfigOnly skips the weights of hub models (for `resnet info`): the checkpoint's
	// Weights are nil and it cannot be built.
	ConfigOnly bool
}

// Option changes Options.
type Option func(*Options)

// WithArch gives the architecture of a bare checkpoint file.
func WithArch(name string) Option { return func(o *Options) { o.Arch = name } }

// WithRevision picks a hub revision.
func WithRevision(rev string) Option { return func(o *Options) { o.Revision = rev } }

// ConfigOnly reads a hub model's config files but not its weights.
func ConfigOnly() Option { return func(o *Options) { o.ConfigOnly = true } }

// WithHub uses a configured hub client.
func WithHub(c *hub.Client) Option { return func(o *Options) { o.Hub = c } }

// Checkpoint is a checkpoint opened and renamed to HF names but not yet built into a model.
// Safetensors files are read lazily, tensor by tensor, while the model is built; Close
// releases the file.
type Checkpoint struct {
	Config    *arch.Config
	Processor *imageproc.Processor
	Weights   weights.Source
	Source    string
	// DefaultPreprocessing is set when no preprocessing config came with the weights (no
	// preprocessor_config.json, no ONNX metadata) and Processor is DefaultProcessor's guess.
	DefaultPreprocessing bool
	closer               io.Closer
}

// Close releases an open checkpoint file; it is safe to call more than once.
func (ck *Checkpoint) Close() error {
	if ck.closer == nil {
		return nil
	}
	err := ck.closer.Close()
	ck.closer = nil
	return err
}

// DropHead turns the checkpoint into a feature extractor: num_labels 0, no classifier.
func (ck *Checkpoint) DropHead() {
	ck.Config.NumLabels, ck.Config.ID2Label = 0, nil
	ck.Weights = weights.Without(ck.Weights, arch.ClassifierWeight, arch.ClassifierBias)
}

// FromPretrained loads a model from a hub id ("microsoft/resnet-50"), an HF-style directory,
// a checkpoint file (.safetensors, .pth, .th, .bin; these need WithArch without a
// config.json beside them) or an ONNX ResNet (.onnx, see package onnx).
func FromPretrained(ctx context.Context, nameOrPath string, opts ...Option) (*Model, error) {
	ck, err := LoadCheckpoint(ctx, nameOrPath, opts...)
	if err != nil {
		return nil, err
	}
	defer ck.Close()
	return ck.Build()
}

// Build checks the weights against the architecture and folds them into a runnable model.
func (ck *Checkpoint) Build() (*Model, error) {
	if ck.Weights == nil {
		return nil, fmt.Errorf("%s: checkpoint was opened without its weights", ck.Source)
	}
	// A RESNET_ISA this build or CPU cannot run is refused rather than quietly replaced.
	if err := kernels.ISAError(); err != nil {
		return nil, err
	}
	m, err := model.New(ck.Config, ck.Weights)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ck.Source, err)
	}
	// Each model its own labels and processor: two built from one checkpoint shared them, so
	// changing one's labels or backend changed the other's (a data race if it was serving).
	m.Config.ID2Label = maps.Clone(m.Config.ID2Label)
	m.Config.HiddenSizes, m.Config.Depths = slices.Clone(m.Config.HiddenSizes), slices.Clone(m.Config.Depths)
	proc := *ck.Processor
	return &Model{Model: m, Processor: &proc, Source: ck.Source}, nil
}

// CheckWeights checks the weights, where the checkpoint was opened with them, against its
// architecture, as Build does before it reads them: every tensor there, none left over, each
// of the right shape.
func (ck *Checkpoint) CheckWeights() error {
	if ck.Weights == nil {
		return nil
	}
	spec, err := ck.Config.Spec()
	if err != nil {
		return err
	}
	if err := model.Check(&spec, ck.Weights); err != nil {
		return fmt.Errorf("%s: %w", ck.Source, err)
	}
	return nil
}

// LoadCheckpoint resolves nameOrPath as FromPretrained does and reads its files.
func LoadCheckpoint(ctx context.Context, nameOrPath string, opts ...Option) (*Checkpoint, error) {
	var o Options
	for _, f := range opts {
		f(&o)
	}
	if nameOrPath == "" {
		return nil, errors.New("no model given (a hub id such as microsoft/resnet-50, a directory, or a checkpoint file)")
	}
	if st, err := os.Stat(nameOrPath); err == nil {
		if o.Revision != "" {
			// A local model has no revisions; the flag would be ignored in silence.
			return nil, fmt.Errorf("%s is a local path: a revision (%s) applies only to hub models", nameOrPath, o.Revision)
		}
		if st.IsDir() {
			return loadDir(nameOrPath, o)
		}
		if isONNX(nameOrPath) {
			return loadONNX(nameOrPath, o)
		}
		// A weights file inside an HF-style directory is described by the config files
		// beside it, as if the directory had been given.
		cfgData, procData, err := readConfigs(filepath.Dir(nameOrPath))
		if err != nil {
			return nil, err
		}
		return loadFile(nameOrPath, cfgData, procData, filepath.Join(filepath.Dir(nameOrPath), "config.json"), o)
	}
	if !hub.IsRepoID(nameOrPath) || looksLikePath(nameOrPath) {
		return nil, fmt.Errorf("model %q: no such file or directory, and not a hub id (org/name)", nameOrPath)
	}
	return loadHub(ctx, nameOrPath, o)
}

func looksLikePath(s string) bool {
	return strings.HasPrefix(s, ".") || strings.HasPrefix(s, "/") || strings.HasPrefix(s, "~") ||
		strings.Contains(filepath.Base(s), ".safetensors") || strings.HasSuffix(s, ".pth") || strings.HasSuffix(s, ".th") || strings.HasSuffix(s, ".bin") || isONNX(s)
}

// weightFiles are tried in this order in a directory, as transformers does.
var weightFiles = []string{"model.safetensors", "pytorch_model.bin"}

// readConfigs reads dir's config.json and preprocessor_config.json; a missing file is nil.
func readConfigs(dir string) (cfgData, procData []byte, err error) {
	read := func(name string) ([]byte, error) {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return b, err
	}
	if cfgData, err = read("config.json"); err != nil {
		return nil, nil, err
	}
	if procData, err = read("preprocessor_config.json"); err != nil {
		return nil, nil, err
	}
	return cfgData, procData, nil
}

func loadDir(dir string, o Options) (*Checkpoint, error) {
	cfgData, procData, err := readConfigs(dir)
	if err != nil {
		return nil, err
	}
	for _, name := range weightFiles {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			return loadFile(p, cfgData, procData, filepath.Join(dir, "config.json"), o)
		}
	}
	// Without transformers' file names, the one weights file there is. Of several, none is
	// taken: the first by name was, and a folder of four CIFAR checkpoints ran whichever
	// sorted first, with no word of which.
	var found []string
	for _, pat := range []string{"*.safetensors", "*.pth", "*.th", "*.bin", "*.pt"} {
		m, _ := filepath.Glob(filepath.Join(dir, pat))
		found = append(found, m...)
	}
	switch len(found) {
	case 0:
	case 1:
		return loadFile(found[0], cfgData, procData, filepath.Join(dir, "config.json"), o)
	default:
		names := make([]string, len(found))
		for i, f := range found {
			names[i] = filepath.Base(f)
		}
		return nil, fmt.Errorf("%s holds %d weights files (%s) and none named %s; give the one to use as --model %s",
			dir, len(found), strings.Join(names, ", "), strings.Join(weightFiles, " or "), filepath.Join(dir, names[0]))
	}
	// A folder holding one ONNX model (as HF optimum exports it: model.onnx beside
	// config.json and preprocessor_config.json) loads that model.
	if m, _ := filepath.Glob(filepath.Join(dir, "*.onnx")); len(m) == 1 {
		return loadONNX(m[0], o)
	} else if len(m) > 1 {
		return nil, fmt.Errorf("%s: no safetensors or PyTorch weights, and %d ONNX models; name one of them", dir, len(m))
	}
	return nil, fmt.Errorf("%s: no weights found (looked for %s, *.safetensors, *.pth, *.th, *.bin, *.onnx)", dir, strings.Join(weightFiles, ", "))
}

// isONNX reports an ONNX model file name.
func isONNX(path string) bool { return strings.EqualFold(filepath.Ext(path), ".onnx") }

// loadONNX imports an ONNX ResNet (package onnx maps its graph onto our architecture and
// HF names). Labels and preprocessing come from the model's metadata (our exports write
// them), else from config.json / preprocessor_config.json beside it (HF optimum's layout),
// else LABEL_i and the stem's default processor.
func loadONNX(path string, o Options) (*Checkpoint, error) {
	if o.Arch != "" {
		return nil, fmt.Errorf("%s: --arch does not apply to ONNX models: the graph gives the architecture", path)
	}
	im, err := onnx.Load(path)
	if err != nil {
		return nil, err
	}
	cfg := im.Config
	cfgData, procData, err := readConfigs(filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	if cfg.ID2Label == nil && cfgData != nil {
		// Only the labels are taken from a config.json beside the file, and only when it
		// names as many classes as the graph has.
		if side, err := arch.ParseConfig(cfgData); err == nil && side.NumLabels == cfg.NumLabels && side.ID2Label != nil {
			cfg.ID2Label = side.ID2Label
		}
	}
	if im.Preprocessor != nil {
		procData = im.Preprocessor
	}
	proc := DefaultProcessor(cfg)
	if procData != nil {
		if proc, err = imageproc.ParseProcessorConfig(procData); err != nil {
			return nil, fmt.Errorf("%s: preprocessor config: %w", path, err)
		}
	}
	return &Checkpoint{Config: cfg, Processor: proc, Weights: im.Weights, Source: path, DefaultPreprocessing: procData == nil}, nil
}

func loadHub(ctx context.Context, id string, o Options) (*Checkpoint, error) {
	c := o.Hub
	if c == nil {
		c = hub.NewFromEnv()
	}
	get := func(file string) (string, error) { return c.Download(ctx, id, o.Revision, file) }
	cfgPath, err := get("config.json")
	if err != nil {
		return nil, err
	}
	cfgData, err := os.ReadFile(cfgPath)
	if err != nil {
		return nil, err
	}
	var procData []byte
	if p, err := get("preprocessor_config.json"); err == nil {
		if procData, err = os.ReadFile(p); err != nil {
			return nil, err
		}
	} else if !errors.Is(err, hub.ErrEntryNotFound) {
		return nil, err
	}
	if o.ConfigOnly {
		cfg, err := arch.ParseConfig(cfgData)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", id, err)
		}
		if o.Arch != "" {
			preset, err := arch.Preset(o.Arch)
			if err != nil {
				return nil, err
			}
			if err := sameNetwork(cfg, preset, o.Arch, id, id+"'s config.json"); err != nil {
				return nil, err
			}
		}
		proc := DefaultProcessor(cfg)
		if procData != nil {
			if proc, err = imageproc.ParseProcessorConfig(procData); err != nil {
				return nil, fmt.Errorf("%s: preprocessor_config.json: %w", id, err)
			}
		}
		return &Checkpoint{Config: cfg, Processor: proc, Source: id, DefaultPreprocessing: procData == nil}, nil
	}
	var wPath string
	for _, name := range weightFiles {
		if wPath, err = get(name); err == nil || !errors.Is(err, hub.ErrEntryNotFound) {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", id, err)
	}
	ck, err := loadFile(wPath, cfgData, procData, id+"'s config.json", o)
	if err != nil {
		return nil, err
	}
	rev := o.Revision
	if rev == "" {
		rev = "main"
	}
	ck.Source = id + "@" + rev
	return ck, nil
}

// sameNetwork refuses a config.json (cfgName, of the model named what) that describes
// another network than the preset archName, naming the settings that differ.
func sameNetwork(cfg, preset *arch.Config, archName, what, cfgName string) error {
	if diffs := arch.Diff(cfg, preset, "there", "in --arch "+archName); len(diffs) > 0 {
		return fmt.Errorf("%s: %s describes another network than --arch %s (%s); drop --arch (resnet.WithArch in Go), which names the architecture only of a checkpoint without a config.json",
			what, cfgName, archName, strings.Join(diffs, "; "))
	}
	return nil
}

// loadFile reads weights and pairs them with a config: the config.json found with them
// (cfgData, from cfgName) or, for a checkpoint without one, the preset o.Arch names. Where
// both are given they must describe the same network: --arch used to replace a config.json
// that was there, so ResNet-50 v1.5 weights ran as v1 (another network, other scores, exit
// status 0) and the preprocessor_config.json beside them was dropped. A config.json that is
// not a ResNet config at all does not stop an --arch checkpoint: it describes something else.
func loadFile(path string, cfgData, procData []byte, cfgName string, o Options) (*Checkpoint, error) {
	var cfg, preset *arch.Config
	var err error
	if o.Arch != "" {
		if preset, err = arch.Preset(o.Arch); err != nil {
			return nil, err
		}
	}
	if cfgData != nil {
		cfg, err = arch.ParseConfig(cfgData)
		switch {
		case err != nil && preset == nil:
			return nil, fmt.Errorf("%s: %w", filepath.Dir(path), err)
		case err != nil: // not a ResNet's config: --arch describes the weights
			cfg, procData = nil, nil
		case preset != nil:
			if err := sameNetwork(cfg, preset, o.Arch, path, cfgName); err != nil {
				return nil, err
			}
		}
	}
	fromPreset := false
	switch {
	case cfg != nil:
	case preset != nil:
		cfg, fromPreset = preset, true
	default:
		if err := weights.Sniff(path); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%s has no config.json beside it; say which architecture it is with --arch (one of %s)", path, strings.Join(arch.Presets(), ", "))
	}
	src, closer, err := openWeights(path)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*Checkpoint, error) {
		if closer != nil {
			closer.Close()
		}
		return nil, err
	}
	if src, err = weights.ToHFSource(src); err != nil {
		return fail(fmt.Errorf("%s: %w", path, err))
	}
	if fromPreset {
		// A bare checkpoint decides its own class count (a torchvision file has 1000, a
		// fine-tune perhaps 37); the preset's labels are kept only when the count agrees.
		if shape, ok := src.Shape(arch.ClassifierWeight); ok && len(shape) == 2 && shape[0] != cfg.NumLabels {
			cfg.NumLabels, cfg.ID2Label = shape[0], nil
		} else if !ok {
			cfg.NumLabels, cfg.ID2Label = 0, nil
		}
	}
	var proc *imageproc.Processor
	if procData != nil {
		if proc, err = imageproc.ParseProcessorConfig(procData); err != nil {
			return fail(fmt.Errorf("%s: preprocessor_config.json: %w", filepath.Dir(path), err))
		}
	} else {
		proc = DefaultProcessor(cfg)
	}
	return &Checkpoint{Config: cfg, Processor: proc, Weights: src, Source: path, closer: closer, DefaultPreprocessing: procData == nil}, nil
}

// openWeights opens safetensors files lazily and reads PyTorch files whole.
func openWeights(path string) (weights.Source, io.Closer, error) {
	if strings.HasSuffix(path, ".safetensors") {
		f, err := weights.OpenSafetensors(path)
		if err != nil {
			return nil, nil, err
		}
		return f, f, nil
	}
	sd, err := weights.ReadFile(path)
	return sd, nil, err
}

// DefaultProcessor is the preprocessing of a checkpoint family without a
// preprocessor_config.json: HF's ResNet processor for ImageNet stems, a 32×32 bilinear resize
// with ImageNet statistics for the CIFAR stem.
func DefaultProcessor(cfg *arch.Config) *imageproc.Processor {
	if cfg.Stem == arch.StemCIFAR {
		return imageproc.CIFARProcessor()
	}
	return imageproc.ImageNetProcessor()
}

// Save writes the checkpoint as an HF-style directory: config.json, preprocessor_config.json and
// model.safetensors with HF names and float32 weights. Each file is written atomically.
func (ck *Checkpoint) Save(dir string) error { return ck.SaveAs(dir, "F32") }

// SaveAs is Save with the weights stored as dtype: "F32", "F16" or "BF16" (integer buffers
// such as num_batches_tracked keep their type).
func (ck *Checkpoint) SaveAs(dir, dtype string) error {
	if dtype != "F32" && dtype != "F16" && dtype != "BF16" {
		return fmt.Errorf("weights dtype %q: want F32, F16 or BF16", dtype)
	}
	spec, err := ck.Config.Spec()
	if err != nil {
		return err
	}
	if err := model.Check(&spec, ck.Weights); err != nil {
		return err
	}
	sd, err := weights.Materialize(ck.Weights)
	if err != nil {
		return err
	}
	// Converting must not pass on weights that no model would load.
	for _, name := range sd.Names() {
		if err := weights.CheckFinite("", name, sd[name].Data); err != nil {
			return fmt.Errorf("%s: %w", ck.Source, err)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	cfg, err := ck.Config.MarshalJSON()
	if err != nil {
		return err
	}
	proc, err := ck.Processor.MarshalJSON()
	if err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(dir, "config.json"), append(cfg, '\n')); err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(dir, "preprocessor_config.json"), append(proc, '\n')); err != nil {
		return err
	}
	return weights.WriteSafetensors(filepath.Join(dir, "model.safetensors"), sd, map[string]string{"format": "pt"}, dtype)
}
