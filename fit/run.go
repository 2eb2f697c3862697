package fit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/resnet-go/resnet/internal/atomicfile"

	"github.com/schollz/progressbar/v3"

	"github.com/resnet-go/resnet/arch"
	"github.com/resnet-go/resnet/datasets"
	"github.com/resnet-go/resnet/imageproc"
	"github.com/resnet-go/resnet/plots"
	"github.com/resnet-go/resnet/tensor"
	"github.com/resnet-go/resnet/train"
	"github.com/resnet-go/resnet/weights"
)

// Epoch is one line of metrics.jsonl.
type Epoch struct {
	Epoch      int     `json:"epoch"` // 1-based
	TrainLoss  float64 `json:"train_loss"`
	TrainError float64 `json:"train_error"` // percent, on the augmented training batches
	// Tested says the run has test data: TestLoss and TestError were measured (and are
	// written, a perfect 0% too); without, metrics.jsonl has neither.
	Tested       bool    `json:"-"`
	TestLoss     float64 `json:"-"`
	TestError    float64 `json:"-"`  // percent
	LR           float64 `json:"lr"` // rate of the epoch's last step
	Seconds      float64 `json:"seconds"`
	ImagesPerSec float64 `json:"images_per_sec"`
}

// epochJSON is Epoch as metrics.jsonl writes it, test fields present when measured: written
// with omitempty on the values themselves, a test error of exactly 0% read as "no test data".
type epochJSON struct {
	Epoch        int      `json:"epoch"`
	TrainLoss    float64  `json:"train_loss"`
	TrainError   float64  `json:"train_error"`
	TestLoss     *float64 `json:"test_loss,omitempty"`
	TestError    *float64 `json:"test_error,omitempty"`
	LR           float64  `json:"lr"`
	Seconds      float64  `json:"seconds"`
	ImagesPerSec float64  `json:"images_per_sec"`
}

// MarshalJSON writes the test fields only when they were measured.
func (e Epoch) MarshalJSON() ([]byte, error) {
	j := epochJSON{Epoch: e.Epoch, TrainLoss: e.TrainLoss, TrainError: e.TrainError, LR: e.LR, Seconds: e.Seconds, ImagesPerSec: e.ImagesPerSec}
	if e.Tested {
		j.TestLoss, j.TestError = &e.TestLoss, &e.TestError
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads a line of metrics.jsonl (or a checkpoint's history); either test field
// present means the run was tested (older files left a 0% test error out).
func (e *Epoch) UnmarshalJSON(b []byte) error {
	var j epochJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*e = Epoch{Epoch: j.Epoch, TrainLoss: j.TrainLoss, TrainError: j.TrainError, LR: j.LR, Seconds: j.Seconds, ImagesPerSec: j.ImagesPerSec}
	if j.TestLoss != nil || j.TestError != nil {
		e.Tested = true
		if j.TestLoss != nil {
			e.TestLoss = *j.TestLoss
		}
		if j.TestError != nil {
			e.TestError = *j.TestError
		}
	}
	return nil
}

// Result is what a finished (or interrupted) run leaves.
type Result struct {
	History []Epoch
	Out     string
}

// ErrInterrupted means the context was cancelled (Ctrl-C): the position was checkpointed and
// --resume continues from the same batch.
var ErrInterrupted = errors.New("training interrupted; the checkpoint holds the exact position, continue with --resume")

// Files written in the output directory besides the checkpoint.
const (
	MetricsFile = "metrics.jsonl"
	PlotFile    = "training.png"
)

// OutputFiles are the files a run writes in its output directory, the checkpoint last.
var OutputFiles = []string{MetricsFile, "config.json", "preprocessor_config.json", "model.safetensors", PlotFile, CheckpointFile}

// Run trains as configured. After every epoch it writes metrics.jsonl, the model directory
// (config.json, preprocessor_config.json, model.safetensors), training.png and the
// checkpoint, each atomically, checkpoint last; on cancellation it checkpoints mid-epoch and returns
// ErrInterrupted. A NaN or ±Inf in a step's loss, gradients, weights or BN statistics, or in
// the test loss, stops it before anything of that epoch is written, with an error that names
// the step, what the output directory still holds, and a lower learning rate to try.
func Run(ctx context.Context, c Config) (*Result, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	test, err := c.alignTest()
	if err != nil {
		return nil, err
	}
	c.Test = test
	if err := os.MkdirAll(c.Out, 0o755); err != nil {
		return nil, err
	}
	cfg := *c.Arch
	cfg.SetLabels(c.Train.Classes)
	c.Arch = &cfg
	net, err := train.New(&cfg, train.InitOptions{Seed: c.Seed, ZeroInitResidual: c.ZeroInitResidual})
	if err != nil {
		return nil, err
	}
	if c.Init != nil {
		if err := loadInit(net, c.Init, c.InitLabels, c.Train.Classes, c.Log); err != nil {
			return nil, err
		}
	}
	loader, err := datasets.NewLoader(c.Train, datasets.LoaderOptions{
		BatchSize: c.Batch, Shuffle: true, DropLast: true, Seed: c.Seed, Augment: augment(c.Augment), Normalize: c.Normalize,
	})
	if err != nil {
		return nil, err
	}
	sched, err := c.schedule(loader.Len())
	if err != nil {
		return nil, err
	}
	tr, err := newTrainer(net, &c, sched)
	if err != nil {
		return nil, err
	}
	pos := position{Fingerprint: c.fingerprint()}
	_, statErr := os.Stat(filepath.Join(c.Out, CheckpointFile))
	switch {
	case statErr == nil && !c.Resume:
		return nil, fmt.Errorf("%s already holds a training checkpoint; pass --resume to continue it, or choose another --out", c.Out)
	case c.Resume && isNotExist(statErr):
		return nil, fmt.Errorf("--resume: no %s in %s", CheckpointFile, c.Out)
	case c.Resume:
		if pos, err = loadCheckpoint(c.Out, tr, pos.Fingerprint); err != nil {
			return nil, err
		}
	}
	// Writes that a kill -9 cut short left their temporary files; this run owns the directory now.
	for _, f := range OutputFiles {
		if err := atomicfile.RemoveTemps(filepath.Join(c.Out, f)); err != nil {
			return nil, err
		}
	}
	res := &Result{History: pos.History, Out: c.Out}
	disk := onDisk{checkpoint: c.Resume, epoch: pos.Epoch, batch: pos.Batch}
	for pos.Epoch < c.Epochs {
		ep, err := runEpoch(ctx, &c, tr, loader, &pos)
		if errors.Is(err, ErrInterrupted) {
			if serr := saveCheckpoint(c.Out, tr, pos); serr != nil {
				return res, fmt.Errorf("interrupted, and the checkpoint could not be written: %w", serr)
			}
			return res, err
		}
		var dv *divergence
		if errors.As(err, &dv) {
			return res, dv.report(&c, disk)
		}
		if err != nil {
			return res, err
		}
		next := pos
		next.History = append(pos.History[:len(pos.History):len(pos.History)], ep)
		next.Epoch, next.Batch, next.Partial = pos.Epoch+1, 0, sums{}
		if err := writeOutputs(&c, tr, next); err != nil {
			return res, err
		}
		pos, res.History = next, next.History
		disk = onDisk{checkpoint: true, epoch: pos.Epoch}
		if c.Log != nil {
			fmt.Fprintln(c.Log, ep.line(c.Epochs))
		}
	}
	return res, nil
}

// divergence is a NaN or ±Inf found in training: in the loss, a gradient, a weight, a BN
// running statistic or the test loss.
type divergence struct {
	where string // "epoch 2, batch 3 of 8 (iteration 11, learning rate 20)"
	cause error
}

func (d *divergence) Error() string {
	return "training diverged at " + d.where + ": " + d.cause.Error()
}

// report is the message for the user: what happened, what is on disk, what to do.
func (d *divergence) report(c *Config, disk onDisk) error {
	return fmt.Errorf("training diverged at %s: %w.\nStopped before writing anything for that epoch: %s.\nStart again with a lower --lr (e.g. %g); resuming this run would repeat the same steps and diverge again",
		d.where, d.cause, disk.describe(c.Out), c.LR/10)
}

// onDisk is what the output directory holds from this run.
type onDisk struct {
	checkpoint   bool
	epoch, batch int // the checkpoint's position: epochs finished, then batches into the next
}

func (d onDisk) describe(dir string) string {
	switch {
	case !d.checkpoint:
		return fmt.Sprintf("no checkpoint was written yet (this was the first epoch), and %s holds no model", dir)
	case d.batch == 0:
		return fmt.Sprintf("the model, metrics and checkpoint in %s written after epoch %d are unchanged", dir, d.epoch)
	case d.epoch == 0:
		return fmt.Sprintf("the checkpoint in %s taken after batch %d of epoch 1 (an interrupted run) is unchanged; no model was written yet", dir, d.batch)
	}
	return fmt.Sprintf("the model and metrics in %s written after epoch %d, and the checkpoint taken after batch %d of epoch %d (an interrupted run), are unchanged", dir, d.epoch, d.batch, d.epoch+1)
}

func augment(on bool) datasets.Augment {
	if on {
		return datasets.CIFARAugment
	}
	return datasets.Augment{}
}

// newTrainer builds SGD over all parameters, or only the classifier's when the backbone is
// frozen.
func newTrainer(net *train.Network, c *Config, sched train.Schedule) (*train.Trainer, error) {
	opt := train.SGDConfig{Momentum: c.Momentum, WeightDecay: c.WeightDecay, Nesterov: c.Nesterov, NoDecayBNBias: c.NoDecayBNBias}
	if !c.FreezeBackbone {
		return train.NewTrainer(net, opt, sched)
	}
	var head []*train.Param
	for _, p := range net.Params() {
		if p.Name == arch.ClassifierWeight || p.Name == arch.ClassifierBias {
			head = append(head, p)
		}
	}
	if len(head) == 0 {
		return nil, fmt.Errorf("fit: --freeze-backbone needs a classifier (num_labels > 0)")
	}
	if err := train.CheckSchedule(sched); err != nil {
		return nil, err
	}
	o, err := train.NewSGD(head, opt)
	if err != nil {
		return nil, err
	}
	return &train.Trainer{Net: net, Opt: o, Schedule: sched}, nil
}

// loadInit copies pretrained weights into net. A classifier of another width (or none) is
// replaced by net's freshly initialised one, and so is one of the right width whose classes
// (initLabels, when known) are not the dataset's; one for the same classes in another order
// has its rows reordered to the dataset's classes.
func loadInit(net *train.Network, init weights.StateDict, initLabels, classes []string, log io.Writer) error {
	own := net.StateDict()
	sd := weights.StateDict{}
	for k, v := range init {
		sd[k] = v
	}
	w, b := arch.ClassifierWeight, arch.ClassifierBias
	keep := true
	for _, k := range []string{w, b} {
		mine, ok := own[k]
		theirs, has := sd[k]
		switch {
		case !ok:
			delete(sd, k) // a feature extractor keeps no head
			keep = false
		case !has || !tensor.SameShape(theirs.Shape, mine.Shape):
			keep = false
		}
	}
	if _, ok := own[w]; ok {
		head, note := initHead(sd[w], sd[b], initLabels, classes, keep)
		if head == nil {
			sd[w], sd[b] = own[w], own[b]
		} else {
			sd[w], sd[b] = head[0], head[1]
		}
		if note != "" && log != nil {
			fmt.Fprintln(log, note)
		}
	}
	if err := net.LoadStateDict(sd); err != nil {
		return fmt.Errorf("--init: %w", err)
	}
	return nil
}

// initHead decides what becomes of --init's classifier (weight w [K, F], bias b [K]) when it
// has the right width (keep): nil to train a fresh one, else the weight and bias with row i
// for dataset class i. note says what was done when that is not plain reuse.
func initHead(w, b *weights.Tensor, initLabels, classes []string, keep bool) (head []*weights.Tensor, note string) {
	if !keep {
		return nil, ""
	}
	if initLabels == nil {
		return []*weights.Tensor{w, b}, ""
	}
	m, err := datasets.MapLabels(classes, initLabels)
	if err != nil || m.Positional {
		if err == nil {
			return []*weights.Tensor{w, b}, ""
		}
		return nil, fmt.Sprintf("--init: its classifier is for other classes (%v), so a fresh one is trained", err)
	}
	identity := true
	for i, j := range m.ToModel {
		identity = identity && i == j
	}
	if identity {
		return []*weights.Tensor{w, b}, ""
	}
	k, f := w.Shape[0], w.Shape[1]
	nw := &weights.Tensor{DType: w.DType, Shape: []int{k, f}, Data: make([]float32, k*f)}
	nb := &weights.Tensor{DType: b.DType, Shape: []int{k}, Data: make([]float32, k)}
	for i, j := range m.ToModel {
		copy(nw.Data[i*f:(i+1)*f], w.Data[j*f:(j+1)*f])
		nb.Data[i] = b.Data[j]
	}
	return []*weights.Tensor{nw, nb}, "--init: its classifier's rows were put in the dataset's class order"
}

// runEpoch trains from pos (which it advances batch by batch) to the end of the epoch, then
// evaluates.
func runEpoch(ctx context.Context, c *Config, tr *train.Trainer, loader *datasets.Loader, pos *position) (Epoch, error) {
	ep := Epoch{Epoch: pos.Epoch + 1}
	total := int64(loader.Len() * c.Batch)
	bar := progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(os.Stderr), progressbar.OptionSetVisibility(!c.Quiet),
		progressbar.OptionShowIts(), progressbar.OptionSetItsString("img"), progressbar.OptionShowCount(),
		progressbar.OptionThrottle(200*time.Millisecond), progressbar.OptionClearOnFinish(),
		progressbar.OptionSetDescription(fmt.Sprintf("epoch %d/%d", ep.Epoch, c.Epochs)))
	bar.Set64(int64(pos.Batch * c.Batch))
	it := loader.Epoch(ctx, pos.Epoch, pos.Batch)
	defer it.Close()
	for it.Next() {
		if ctx.Err() != nil {
			return ep, ErrInterrupted
		}
		b := it.Batch()
		t0 := time.Now()
		loss, correct, err := tr.Step(b.Tensor(), b.Labels)
		if err != nil {
			return ep, err
		}
		if c.afterStep != nil {
			c.afterStep(tr)
		}
		// A NaN or ±Inf anywhere stops the run here, before anything of this epoch is
		// written. The checks are one pass over the gradients and one over the weights
		// and BN statistics: small beside a step's convolutions.
		where := func() string {
			return fmt.Sprintf("epoch %d, batch %d of %d (iteration %d, learning rate %g)", ep.Epoch, b.Index+1, loader.Len(), tr.Iter, tr.Schedule.LR(tr.Iter-1))
		}
		if math.IsNaN(loss) || math.IsInf(loss, 0) {
			return ep, &divergence{where(), fmt.Errorf("the loss became %v", loss)}
		}
		if err := tr.Opt.CheckGradients(); err != nil {
			return ep, &divergence{where(), err}
		}
		if err := tr.Net.CheckFinite(); err != nil {
			return ep, &divergence{where(), err}
		}
		n := len(b.Labels)
		p := &pos.Partial
		p.Loss += loss * float64(n)
		p.Correct += correct
		p.Images += n
		p.Seconds += time.Since(t0).Seconds()
		pos.Batch, pos.Iter = b.Index+1, tr.Iter
		bar.Describe(fmt.Sprintf("epoch %d/%d  loss %.3f  acc %.1f%%", ep.Epoch, c.Epochs, p.Loss/float64(p.Images), 100*float64(p.Correct)/float64(p.Images)))
		bar.Add(n)
	}
	if err := it.Err(); err != nil {
		if ctx.Err() != nil {
			return ep, ErrInterrupted
		}
		return ep, err
	}
	bar.Finish()
	p := pos.Partial
	ep.TrainLoss = p.Loss / float64(p.Images)
	ep.TrainError = 100 * (1 - float64(p.Correct)/float64(p.Images))
	ep.LR = tr.Schedule.LR(tr.Iter - 1)
	ep.Seconds = p.Seconds
	ep.ImagesPerSec = float64(p.Images) / p.Seconds
	if c.Test != nil {
		loss, errPct, err := Evaluate(ctx, tr.Net, c.Test, c.Normalize)
		if err != nil {
			if ctx.Err() != nil {
				return ep, ErrInterrupted
			}
			return ep, err
		}
		if math.IsNaN(loss) || math.IsInf(loss, 0) {
			// Every weight is finite (checked after each step), but the outputs are not.
			return ep, &divergence{fmt.Sprintf("the test pass after epoch %d", ep.Epoch), fmt.Errorf("the test loss is %v: the weights are finite but so large that the network's outputs overflow", loss)}
		}
		ep.Tested, ep.TestLoss, ep.TestError = true, loss, errPct
	}
	return ep, nil
}

// Evaluate runs the network in eval mode over d and returns the mean cross-entropy loss and the
// top-1 error in percent.
func Evaluate(ctx context.Context, net *train.Network, d *datasets.Dataset, norm datasets.Normalize) (loss, errPct float64, err error) {
	l, err := datasets.NewEvalLoader(d, 250, norm)
	if err != nil {
		return 0, 0, err
	}
	it := l.Epoch(ctx, 0, 0)
	defer it.Close()
	var wrong, total int
	for it.Next() {
		b := it.Batch()
		logits, err := net.Eval(b.Tensor())
		if err != nil {
			return 0, 0, err
		}
		k := logits.Shape[1]
		for i, y := range b.Labels {
			row := logits.Data[i*k : (i+1)*k]
			best, peak := 0, math.Inf(-1)
			for j, v := range row {
				if float64(v) > peak {
					best, peak = j, float64(v)
				}
			}
			var s float64
			for _, v := range row {
				s += math.Exp(float64(v) - peak)
			}
			loss += math.Log(s) + peak - float64(row[y])
			if best != y {
				wrong++
			}
			total++
		}
	}
	if err := it.Err(); err != nil {
		return 0, 0, err
	}
	return loss / float64(total), 100 * float64(wrong) / float64(total), nil
}

// writeOutputs writes the model directory, metrics, plot and (last) the checkpoint. Everything
// is encoded before the first file is written, so a value JSON cannot hold fails the call
// with every file as it was.
func writeOutputs(c *Config, tr *train.Trainer, pos position) error {
	net := tr.Net
	cfgJSON, err := c.Arch.MarshalJSON()
	if err != nil {
		return err
	}
	var lines strings.Builder
	trainErr, test := make([]float64, len(pos.History)), []float64{}
	for i, e := range pos.History {
		b, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("metrics of epoch %d: %w", e.Epoch, err)
		}
		lines.Write(append(b, '\n'))
		trainErr[i] = e.TrainError
		if c.Test != nil {
			test = append(test, e.TestError)
		}
	}
	meta, err := checkpointMeta(pos)
	if err != nil {
		return err
	}
	// metrics.jsonl first: a folder with a run's model files then always has it, which is how
	// `resnet train --resume` tells a run killed before its first checkpoint (restarted) from
	// a model folder (refused, not replaced).
	if err := atomicfile.Write(filepath.Join(c.Out, MetricsFile), []byte(lines.String())); err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(c.Out, "config.json"), append(cfgJSON, '\n')); err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(c.Out, "preprocessor_config.json"), processorFor(c).Config()); err != nil {
		return err
	}
	if err := weights.WriteSafetensors(filepath.Join(c.Out, "model.safetensors"), net.StateDict(), map[string]string{"format": "pt"}, "F32"); err != nil {
		return err
	}
	title := fmt.Sprintf("%s on %s", describe(c.Arch), c.Train.Source)
	if err := plots.Training(filepath.Join(c.Out, PlotFile), title, plots.Curve{Name: "error", Train: trainErr, Test: test}); err != nil {
		return err
	}
	return writeCheckpoint(c.Out, tr, meta)
}

// processorFor is the preprocessing that matches training: resize to the training size with
// Pillow's bilinear filter, rescale 1/255, then the training normalisation.
func processorFor(c *Config) *imageproc.Processor {
	p := imageproc.CIFARProcessor()
	p.Height, p.Width = c.Train.H, c.Train.W
	p.Mean, p.Std = [3]float32{0, 0, 0}, [3]float32{1, 1, 1}
	for i := 0; i < 3; i++ {
		if len(c.Normalize.Mean) == 3 {
			p.Mean[i], p.Std[i] = c.Normalize.Mean[i], c.Normalize.Std[i]
		} else if len(c.Normalize.Mean) == 1 {
			p.Mean[i], p.Std[i] = c.Normalize.Mean[0], c.Normalize.Std[0]
		}
	}
	return p
}

func describe(c *arch.Config) string {
	kind := "ResNet"
	if c.Plain {
		kind = "plain"
	}
	per := 2
	if c.LayerType == arch.Bottleneck {
		per = 3
	}
	depth := 2
	for _, d := range c.Depths {
		depth += d * per
	}
	return fmt.Sprintf("%s-%d", kind, depth)
}

func (e Epoch) line(epochs int) string {
	s := fmt.Sprintf("epoch %d/%d  train loss %.4f  train error %.2f%%", e.Epoch, epochs, e.TrainLoss, e.TrainError)
	if e.Tested {
		s += fmt.Sprintf("  test loss %.4f  test error %.2f%%", e.TestLoss, e.TestError)
	}
	return s + fmt.Sprintf("  lr %.4g  %.0f s  %.0f img/s", e.LR, e.Seconds, e.ImagesPerSec)
}
