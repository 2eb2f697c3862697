package fit

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/resnet-go/resnet/train"
	"github.com/resnet-go/resnet/weights"
)

// CheckpointFile holds everything needed to resume: the network (parameters, BN running
// statistics), the optimiser's momentum buffers (prefixed "optimizer."), and in its header
// metadata the position (epoch, batch, iteration), the partial sums of the epoch in progress
// and the metrics so far. It is one file written by rename, so a crash at any moment leaves
// either the previous checkpoint or the new one, never a mixture.
const CheckpointFile = "checkpoint.safetensors"

const optimizerPrefix = "optimizer."

// position says where training stands. The data order and augmentation depend only on the
// seed, the epoch and the example index, so this is the whole random state.
type position struct {
	Fingerprint fingerprint `json:"fingerprint"`
	Epoch       int         `json:"epoch"` // 0-based epoch in progress (== Epochs when done)
	Batch       int         `json:"batch"` // next batch of that epoch
	Iter        int         `json:"iter"`  // optimiser steps taken
	Partial     sums        `json:"partial"`
	History     []Epoch     `json:"history"`
}

// sums accumulate one epoch's training statistics.
type sums struct {
	Loss    float64 `json:"loss"` // Σ batch mean loss × batch size
	Correct int     `json:"correct"`
	Images  int     `json:"images"`
	Seconds float64 `json:"seconds"`
}

func saveCheckpoint(dir string, t *train.Trainer, pos position) error {
	meta, err := checkpointMeta(pos)
	if err != nil {
		return err
	}
	return writeCheckpoint(dir, t, meta)
}

// checkpointMeta encodes the position for the checkpoint's header.
func checkpointMeta(pos position) (string, error) {
	meta, err := json.Marshal(pos)
	if err != nil {
		return "", fmt.Errorf("checkpoint metadata: %w", err)
	}
	return string(meta), nil
}

func writeCheckpoint(dir string, t *train.Trainer, meta string) error {
	sd := t.Net.StateDict()
	for name, v := range t.Opt.StateDict() {
		sd[optimizerPrefix+name] = v
	}
	return weights.WriteSafetensors(filepath.Join(dir, CheckpointFile), sd, map[string]string{"format": "pt", "resnet_go_training": meta}, "F32")
}

// loadCheckpoint restores the trainer and returns where to continue. A missing checkpoint is
// os.ErrNotExist.
func loadCheckpoint(dir string, t *train.Trainer, want fingerprint) (position, error) {
	var pos position
	path := filepath.Join(dir, CheckpointFile)
	sd, meta, err := weights.ReadSafetensors(path)
	if err != nil {
		return pos, err
	}
	raw, ok := meta["resnet_go_training"]
	if !ok {
		return pos, fmt.Errorf("%s: not a training checkpoint (no resnet_go_training metadata)", path)
	}
	if err := json.Unmarshal([]byte(raw), &pos); err != nil {
		return pos, fmt.Errorf("%s: training metadata: %w", path, err)
	}
	want = pos.Fingerprint.upTo(want)
	if pos.Fingerprint != want {
		// The settings shape the run (--epochs sets the schedule's length), so a run
		// resumes only with its own.
		return pos, fmt.Errorf("%s was written by a run with other settings: %s; resume with the run's own arguments, or pick a new --out", path, pos.Fingerprint.diff(want))
	}
	net, opt := weights.StateDict{}, weights.StateDict{}
	for name, v := range sd {
		if rest, ok := strings.CutPrefix(name, optimizerPrefix); ok {
			opt[rest] = v
		} else {
			net[name] = v
		}
	}
	if err := t.Net.LoadStateDict(net); err != nil {
		return pos, fmt.Errorf("%s: %w", path, err)
	}
	if err := t.Opt.LoadStateDict(opt); err != nil {
		return pos, fmt.Errorf("%s: %w", path, err)
	}
	t.Iter = pos.Iter
	return pos, nil
}

func isNotExist(err error) bool { return errors.Is(err, os.ErrNotExist) }
