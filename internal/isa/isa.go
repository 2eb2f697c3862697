// Package isa holds the one choice of instruction-set path that every kernel of the module
// follows: package kernels (the GEMM, Winograd, pooling) and the vector loops of package nn
// read it on each call. It is chosen once, at start-up, from what the CPU and the operating
// system support (golang.org/x/sys/cpu, whose AVX flags already require the OS to save the
// YMM/ZMM register state) and from the environment:
//
//	RESNET_ISA=go|avx2|avx512|neon   force a path; a name this build or CPU cannot run is refused
//	RESNET_NOASM=1                   the same as RESNET_ISA=go
//
// A refused choice is reported by StartupError (kernels.ISAError), which the model-loading
// entry points return, and the best available path runs meanwhile. The package is internal
// so that it sits below kernels and nn and test helpers (internal/isatest) can import it
// without an import cycle; its public face is kernels.ISA, kernels.SetISA and friends.
package isa

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
)

// ID is an instruction-set path.
type ID int32

// The paths, in order of preference on their architecture.
const (
	Go     ID = iota // portable Go, every build
	AVX2             // amd64 AVX2+FMA assembly
	AVX512           // amd64 AVX-512F assembly (and AVX2 where no AVX-512 version exists)
	NEON             // arm64 NEON assembly
	count
)

var names = [count]string{"go", "avx2", "avx512", "neon"}

// String is the name used by RESNET_ISA.
func (id ID) String() string {
	if id < 0 || id >= count {
		return fmt.Sprintf("isa(%d)", int32(id))
	}
	return names[id]
}

// Parse returns the path named name (case-insensitive, surrounding spaces ignored).
func Parse(name string) (ID, bool) {
	name = strings.ToLower(strings.TrimSpace(name))
	for id, n := range names {
		if n == name {
			return ID(id), true
		}
	}
	return 0, false
}

// All lists every path's name, whether or not it can run here.
func All() []string { return names[:] }

// Unavailable says why this build and CPU cannot run path id ("" if they can): "not amd64",
// "built with -tags noasm", "CPU lacks AVX-512F", …
func Unavailable(id ID) string { return unavailable(id, cpuLacks) }

func unavailable(id ID, lacks func(ID) string) string {
	switch id {
	case Go:
		return ""
	case AVX2, AVX512:
		switch {
		case runtime.GOARCH != "amd64":
			return "not amd64"
		case noasmBuild:
			return "built with -tags noasm"
		}
		return lacks(id)
	case NEON:
		switch {
		case runtime.GOARCH != "arm64":
			return "not arm64"
		case noasmBuild:
			return "built with -tags noasm"
		}
		return lacks(id)
	}
	return "unknown instruction set"
}

// Supported lists the paths this build and CPU can run, "go" first (it always can).
func Supported() []string { return supported(cpuLacks) }

func supported(lacks func(ID) string) []string {
	var s []string
	for id := range count {
		if unavailable(id, lacks) == "" {
			s = append(s, id.String())
		}
	}
	return s
}

// best is the preferred path among those available.
func best(lacks func(ID) string) ID {
	for _, id := range []ID{AVX512, AVX2, NEON} {
		if unavailable(id, lacks) == "" {
			return id
		}
	}
	return Go
}

// Check returns nil if name is a path this build and CPU can run, else an error that says
// why.
func Check(name string) error { return check(name, cpuLacks) }

func check(name string, lacks func(ID) string) error {
	id, ok := Parse(name)
	if !ok {
		return fmt.Errorf("unknown instruction set %q (want one of %s)", name, strings.Join(names[:], ", "))
	}
	if why := unavailable(id, lacks); why != "" {
		return fmt.Errorf("instruction set %s cannot run here: %s (available: %s)", id, why, strings.Join(supported(lacks), ", "))
	}
	return nil
}

// choose is the start-up choice from the environment: RESNET_ISA if set (it must name a path
// that can run, and must not contradict RESNET_NOASM=1), else go with RESNET_NOASM=1, else the
// best available. On an error it also returns what runs instead: go if RESNET_NOASM=1 asked
// for no assembly, else the best available.
func choose(getenv func(string) string, lacks func(ID) string) (ID, error) {
	noasm := getenv("RESNET_NOASM") == "1"
	auto := best(lacks)
	if noasm {
		auto = Go
	}
	want := getenv("RESNET_ISA")
	if strings.TrimSpace(want) == "" {
		return auto, nil
	}
	if err := check(want, lacks); err != nil {
		return auto, fmt.Errorf("RESNET_ISA=%s: %v", want, err)
	}
	id, _ := Parse(want)
	if noasm && id != Go {
		return Go, fmt.Errorf("RESNET_ISA=%s contradicts RESNET_NOASM=1 (which means RESNET_ISA=go)", want)
	}
	return id, nil
}

var (
	active  atomic.Int32
	errMu   sync.Mutex
	initErr error
)

func init() {
	id, err := choose(os.Getenv, cpuLacks)
	active.Store(int32(id))
	if err != nil {
		initErr = fmt.Errorf("kernels: %w", err)
	}
}

// Active is the path in use. Kernels read it once per call, so a Set never mixes paths
// inside a call.
func Active() ID { return ID(active.Load()) }

// Set makes name the path in use (for tests, benchmarks and programs that choose it
// themselves); it returns Check's error, changing nothing, if name cannot run. An explicit
// choice supersedes the environment's, so it also clears StartupError.
func Set(name string) error {
	if err := Check(name); err != nil {
		return fmt.Errorf("kernels: %w", err)
	}
	id, _ := Parse(name)
	active.Store(int32(id))
	errMu.Lock()
	initErr = nil
	errMu.Unlock()
	return nil
}

// StartupError is the error of the environment's choice (RESNET_ISA naming a path that is
// unknown or cannot run here, or contradicting RESNET_NOASM), nil if there was none or Set
// has chosen since.
func StartupError() error {
	errMu.Lock()
	defer errMu.Unlock()
	return initErr
}
