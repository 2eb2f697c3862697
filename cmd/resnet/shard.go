package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// jobIndexEnv is the variable a Kubernetes Indexed Job sets in each pod to its index.
const jobIndexEnv = "JOB_COMPLETION_INDEX"

// shardHelp is the --shard flag's help, shared by classify and embed.
const shardHelp = "process one shard of the inputs: I/N (0 ≤ I < N) takes every N-th input of the sorted, de-duplicated list of all inputs, starting at the I-th; auto/N reads I from $" + jobIndexEnv + " (set by a Kubernetes Indexed Job); an --output file gets -IIIII-of-NNNNN before its extension"

// shard is one part of the inputs: index of count (count 0: everything).
type shard struct{ index, count int }

// parseShard reads I/N or auto/N (I from $JOB_COMPLETION_INDEX via getenv).
func parseShard(v string, getenv func(string) string) (shard, error) {
	if v == "" {
		return shard{}, nil
	}
	is, ns, ok := strings.Cut(v, "/")
	n, err := strconv.Atoi(ns)
	if !ok || err != nil || n < 1 {
		return shard{}, fmt.Errorf("--shard %q: want I/N or auto/N with N ≥ 1 shards (e.g. 0/8, auto/8)", v)
	}
	from := ""
	if is == "auto" {
		is = getenv(jobIndexEnv)
		if is == "" {
			return shard{}, fmt.Errorf("--shard %s: $%s is not set (a Kubernetes Indexed Job sets it; elsewhere give I/N)", v, jobIndexEnv)
		}
		from = fmt.Sprintf(" ($%s=%q)", jobIndexEnv, is)
	}
	i, err := strconv.Atoi(is)
	if err != nil || i < 0 || i >= n {
		return shard{}, fmt.Errorf("--shard %s%s: the index must be an integer from 0 to %d", v, from, n-1)
	}
	return shard{index: i, count: n}, nil
}

// apply returns the shard's inputs: all inputs cleaned, sorted and de-duplicated (so every
// shard of a job sees the same list, whatever the order of the arguments), then every
// count-th from index. Without sharding it returns paths unchanged.
func (s shard) apply(paths []string) []string {
	if s.count == 0 {
		return paths
	}
	all := make([]string, len(paths))
	for i, p := range paths {
		all[i] = filepath.Clean(p)
	}
	slices.Sort(all)
	all = slices.Compact(all)
	var out []string
	for i := s.index; i < len(all); i += s.count {
		out = append(out, all[i])
	}
	return out
}

// outputName is the shard's output file: X.ext → X-00003-of-00008.ext (the numbering of
// sharded datasets, which sorts in shard order). Without sharding it is path itself.
func (s shard) outputName(path string) string {
	if s.count == 0 {
		return path
	}
	ext := filepath.Ext(path)
	width := max(5, len(strconv.Itoa(s.count-1)))
	return fmt.Sprintf("%s-%0*d-of-%0*d%s", strings.TrimSuffix(path, ext), width, s.index, width, s.count, ext)
}

// String describes the shard for messages.
func (s shard) String() string {
	if s.count == 0 {
		return "all inputs"
	}
	return fmt.Sprintf("shard %d of %d", s.index, s.count)
}

// shardInputs parses --shard and applies it to the expanded inputs.
func shardInputs(flag string, paths []string) ([]string, shard, error) {
	s, err := parseShard(flag, os.Getenv)
	if err != nil {
		return nil, s, err
	}
	return s.apply(paths), s, nil
}
