package main

import (
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestSoak30s is the CI soak: the real binary, 30 s of load from 4 clients plus 2 slow ones,
// 10% bad requests; every check of Run must pass (see the package comment). The long run
// (go run ./tools/soak -duration 2m) is what README "Limits" quotes.
func TestSoak30s(t *testing.T) {
	if testing.Short() {
		t.Skip("30 s of load; runs without -short")
	}
	bin := filepath.Join(t.TempDir(), "resnet")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/resnet").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	rep, err := Run(Config{Bin: bin, Model: "resnet20-cifar10", Duration: 30 * time.Second, Clients: 4, Slow: 2, Bad: 0.1, Seed: 1, Log: testWriter{t}})
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + rep.String())
	for _, p := range rep.Problems {
		t.Error(p)
	}
	switch {
	case rep.Good < 1000 || rep.Bad < 50:
		t.Errorf("only %d good and %d bad requests in 30 s", rep.Good, rep.Bad)
	case rep.SlowHeaders < 1 || rep.SlowBodies < 1:
		t.Errorf("slow clients: %d slowloris sessions, %d slow bodies", rep.SlowHeaders, rep.SlowBodies)
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }
