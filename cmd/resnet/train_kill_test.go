package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"image/png"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/resnet-go/resnet/weights"
)

// killRun is `resnet train` on the 96-image folder: 5 epochs of 12 steps, about 0.15 s an
// epoch on one core, so a run is short enough to kill two dozen times.
func killRunArgs(data, out string) []string {
	return []string{"train", "--arch", "cifar-resnet8", "--dataset", "folder:" + data, "--epochs", strconv.Itoa(killEpochs), "--batch", "8", "--out", out, "-q"}
}

const killEpochs = 5

// trainOutputs are the files a run writes after every epoch, in that order (fit.writeOutputs).
var trainOutputs = []string{"config.json", "preprocessor_config.json", "model.safetensors", "metrics.jsonl", "training.png", "checkpoint.safetensors"}

// TestTrainSurvivesKill9 kills `resnet train` with SIGKILL at random moments and resumes it
// with --resume until it finishes, as a restart loop would (also after a kill inside epoch 1,
// which leaves no checkpoint: --resume then starts the run again). Half the kills fall at a uniformly random time over what
// is left of the run (start-up, data loading, steps, evaluation, writes); the other half fire
// the moment the temporary file of one of the outputs appears, so they land inside its
// atomic write (confirmed afterwards: the temporary file is still there). After every kill:
// every output present is complete and readable, the checkpoint is at an epoch boundary no
// earlier than the last epoch the dead process reported (so at most the epoch in progress is
// lost), and metrics.jsonl holds epochs 1..n once each. At the end: the model's bytes equal
// an uninterrupted run's, metrics.jsonl equals its numbers epoch for epoch, and no temporary
// file is left behind. 24 kills (8 with -short); the RNG is seeded, so the sequence of
// choices repeats, though where a timed kill lands depends on the machine's speed.
func TestTrainSurvivesKill9(t *testing.T) {
	data := imageFolder(t)
	ref := filepath.Join(t.TempDir(), "ref")
	start := time.Now()
	times := runToEnd(t, killRunArgs(data, ref))
	if len(times) != killEpochs {
		t.Fatalf("uninterrupted run reported %d epochs, want %d", len(times), killEpochs)
	}
	perEpoch := (times[killEpochs-1] - times[0]) / (killEpochs - 1)
	startup := max(times[0]-perEpoch, 10*time.Millisecond)
	t.Logf("uninterrupted run: %v (start-up %v, %v an epoch)", time.Since(start).Round(time.Millisecond), startup.Round(time.Millisecond), perEpoch.Round(time.Millisecond))
	refModel, _ := os.ReadFile(filepath.Join(ref, "model.safetensors"))
	refMetrics := readMetrics(t, filepath.Join(ref, "metrics.jsonl"))

	want := 24
	if testing.Short() {
		want = 8
	}
	const seed = 14
	rng := rand.New(rand.NewSource(seed))
	kills, writeKills, midWrite := 0, 0, map[string]int{}
	for chain := 0; kills < want; chain++ {
		if chain > 3*want {
			t.Fatalf("only %d kills landed in %d runs; the run is too fast to kill", kills, chain)
		}
		out := filepath.Join(t.TempDir(), "run")
		reported := 0 // highest epoch any process of this chain reported done
		for round := 0; ; round++ {
			args := killRunArgs(data, out)
			if round > 0 {
				// As a restart loop would: always --resume, also when the kill came before
				// the first checkpoint (train then starts the run again).
				args = append(args, "--resume")
			}
			// Each chain kills up to 4 times, then lets the run finish.
			if round == 4 || kills >= want {
				runToEnd(t, args)
				break
			}
			ckpt := checkpointEpoch(t, out)
			before := map[string]bool{}
			for _, f := range trainOutputs {
				for _, n := range tempFiles(t, out, f) {
					before[n] = true
				}
			}
			var k killer
			if rng.Intn(2) == 0 {
				left := startup + time.Duration(killEpochs-ckpt)*perEpoch
				k = killer{after: time.Duration(rng.Int63n(int64(left)))}
			} else {
				// Every other one in the checkpoint's write (the window is its 0.6 MB write
				// and fsync, ~1 ms here), the others in the model's, metrics' and plot's.
				file := "checkpoint.safetensors"
				if writeKills%2 == 1 {
					file = trainOutputs[2+writeKills/2%3]
				}
				// With every epoch checkpointed (a kill after the last one) only the final
				// writes remain: aim at the first (a file not written again ends the run unkilled).
				k = killer{file: file, nth: 1 + rng.Intn(max(1, killEpochs-ckpt))}
				writeKills++
			}
			killed, epochs := k.run(t, args, out)
			if epochs > reported {
				reported = epochs
			}
			what := fmt.Sprintf("chain %d round %d (%s, checkpoint at epoch %d, epochs reported %d)", chain, round, k, ckpt, reported)
			if !killed {
				if reported != killEpochs {
					t.Fatalf("%s: the run ended unkilled after epoch %d of %d", what, reported, killEpochs)
				}
				break
			}
			kills++
			landed := ""
			for _, f := range trainOutputs {
				for _, n := range tempFiles(t, out, f) {
					if !before[n] {
						midWrite[f]++
						landed = f
					}
				}
			}
			t.Logf("%s: landed in %q", what, landed)
			checkAfterKill(t, what, out, reported)
		}
		// The finished run: the same weights, bit for bit, and the same metrics, epoch for epoch.
		what := fmt.Sprintf("chain %d", chain)
		if m, _ := os.ReadFile(filepath.Join(out, "model.safetensors")); !bytes.Equal(m, refModel) {
			t.Errorf("%s: model.safetensors differs from the uninterrupted run's", what)
		}
		got := readMetrics(t, filepath.Join(out, "metrics.jsonl"))
		if len(got) != len(refMetrics) {
			t.Errorf("%s: metrics.jsonl has %d epochs, want %d", what, len(got), len(refMetrics))
		}
		for i := 0; i < len(got) && i < len(refMetrics); i++ {
			if got[i].withoutTimes() != refMetrics[i].withoutTimes() {
				t.Errorf("%s: metrics.jsonl line %d is %+v, the uninterrupted run's %+v", what, i+1, got[i], refMetrics[i])
			}
		}
		for _, f := range trainOutputs {
			if tmps := tempFiles(t, out, f); len(tmps) > 0 {
				t.Errorf("%s: temporary files of killed writes left behind: %v", what, tmps)
			}
		}
	}
	t.Logf("%d kills (seed %d); killed inside the atomic write of: %v", kills, seed, midWrite)
	if !testing.Short() && midWrite["checkpoint.safetensors"] == 0 {
		t.Errorf("no kill landed inside a checkpoint write (%v): the test no longer covers it", midWrite)
	}
}

// killer SIGKILLs a run after a delay, or once the nth temporary file of file appears.
type killer struct {
	after time.Duration
	file  string
	nth   int
}

func (k killer) String() string {
	if k.file != "" {
		return fmt.Sprintf("kill in write %d of %s", k.nth, k.file)
	}
	return fmt.Sprintf("kill after %v", k.after.Round(time.Millisecond))
}

// run starts the command and kills it as k says; killed is false when it finished first
// (successfully: a failure fails the test). epochs is the last epoch it reported done.
func (k killer) run(t *testing.T, args []string, out string) (killed bool, epochs int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	stdout, _ := cmd.StdoutPipe()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The reader records the last epoch reported; exited is sent after it has read all output.
	exited := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if n, ok := epochLine(sc.Text()); ok {
				epochs = n
			}
		}
		exited <- cmd.Wait()
	}()
	deadline := time.After(k.after)
	if k.file != "" {
		deadline = nil
	}
	seen := map[string]bool{}
	poll := time.NewTicker(50 * time.Microsecond)
	defer poll.Stop()
	for {
		select {
		case err := <-exited:
			if err != nil {
				t.Fatalf("%v: %v\n%s", args, err, stderr.String())
			}
			return false, epochs
		case <-deadline:
		case <-poll.C:
			if k.file == "" {
				continue
			}
			for _, n := range tempFiles(t, out, k.file) {
				seen[n] = true
			}
			if len(seen) < k.nth {
				continue
			}
		}
		cmd.Process.Signal(syscall.SIGKILL)
		err := <-exited
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
			if err != nil {
				t.Fatalf("%v: %v\n%s", args, err, stderr.String())
			}
			return false, epochs // it finished just before the signal
		}
		return true, epochs
	}
}

// epochLine parses "epoch 3/5  train loss ...".
func epochLine(s string) (int, bool) {
	rest, ok := strings.CutPrefix(s, "epoch ")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(rest[:strings.IndexByte(rest, '/')])
	return n, err == nil
}

// runToEnd runs the command to completion and returns when each epoch line appeared.
func runToEnd(t *testing.T, args []string) []time.Duration {
	t.Helper()
	start := time.Now()
	cmd := exec.Command(binary, args...)
	stdout, _ := cmd.StdoutPipe()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var times []time.Duration
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if _, ok := epochLine(sc.Text()); ok {
			times = append(times, time.Since(start))
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("%v: %v\n%s", args, err, stderr.String())
	}
	return times
}

// tempFiles lists the temporary files atomicfile made for file in dir.
func tempFiles(t *testing.T, dir, file string) []string {
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "."+file+".tmp") {
			names = append(names, e.Name())
		}
	}
	return names
}

// checkpointEpoch is the number of epochs the checkpoint in out holds (0 without one).
func checkpointEpoch(t *testing.T, out string) int {
	t.Helper()
	path := filepath.Join(out, "checkpoint.safetensors")
	if _, err := os.Stat(path); os.IsNotExist(err) {
		return 0
	}
	_, meta, err := weights.ReadSafetensors(path)
	if err != nil {
		t.Fatalf("checkpoint after a kill: %v", err)
	}
	var pos struct{ Epoch, Batch int }
	if err := json.Unmarshal([]byte(meta["resnet_go_training"]), &pos); err != nil {
		t.Fatalf("checkpoint metadata after a kill: %v", err)
	}
	if pos.Batch != 0 {
		t.Fatalf("checkpoint after a kill is mid-epoch (batch %d): only Ctrl-C writes those", pos.Batch)
	}
	return pos.Epoch
}

// checkAfterKill checks what a killed run left in out: complete files, a checkpoint no older
// than the last epoch reported, metrics for epochs 1..n once each.
func checkAfterKill(t *testing.T, what, out string, reported int) {
	t.Helper()
	ckpt := checkpointEpoch(t, out)
	if ckpt < reported {
		t.Fatalf("%s: the checkpoint holds %d epochs, but epoch %d was reported done: a finished epoch was lost", what, ckpt, reported)
	}
	if ckpt > reported+1 {
		t.Fatalf("%s: the checkpoint holds %d epochs, more than the %d reported plus the one in progress", what, ckpt, reported)
	}
	for _, f := range trainOutputs {
		path := filepath.Join(out, f)
		b, err := os.ReadFile(path)
		if os.IsNotExist(err) {
			continue
		} else if err != nil {
			t.Fatal(err)
		}
		switch filepath.Ext(f) {
		case ".json":
			if !json.Valid(b) {
				t.Fatalf("%s: %s is not valid JSON:\n%s", what, f, b)
			}
		case ".safetensors":
			if _, _, err := weights.ReadSafetensors(path); err != nil {
				t.Fatalf("%s: %v", what, err)
			}
		case ".png":
			if _, err := png.Decode(bytes.NewReader(b)); err != nil {
				t.Fatalf("%s: %s: %v", what, f, err)
			}
		}
	}
	n := len(readMetrics(t, filepath.Join(out, "metrics.jsonl")))
	if n != ckpt && n != ckpt+1 { // one ahead when killed between metrics.jsonl and the checkpoint
		t.Fatalf("%s: metrics.jsonl has %d epochs beside a checkpoint of %d", what, n, ckpt)
	}
}

// killMetrics is one line of metrics.jsonl.
type killMetrics struct {
	Epoch                                                   int
	TrainLoss, TrainError, TestLoss, TestError, LR, Seconds float64
	ImagesPerSec                                            float64
}

func (m killMetrics) withoutTimes() killMetrics { m.Seconds, m.ImagesPerSec = 0, 0; return m }

// readMetrics parses metrics.jsonl (empty when absent) and checks it lists epochs 1..n in
// order, each once.
func readMetrics(t *testing.T, path string) []killMetrics {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	} else if err != nil {
		t.Fatal(err)
	}
	var ms []killMetrics
	for i, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		var m map[string]float64
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("%s line %d: %v: %q", path, i+1, err, l)
		}
		km := killMetrics{Epoch: int(m["epoch"]), TrainLoss: m["train_loss"], TrainError: m["train_error"], TestLoss: m["test_loss"], TestError: m["test_error"], LR: m["lr"], Seconds: m["seconds"], ImagesPerSec: m["images_per_sec"]}
		if km.Epoch != i+1 {
			t.Fatalf("%s line %d is epoch %d: each finished epoch must appear once, in order", path, i+1, km.Epoch)
		}
		ms = append(ms, km)
	}
	return ms
}
