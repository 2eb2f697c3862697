package resnet

import (
	"testing"

	"github.com/resnet-go/resnet/internal/testenv"
)

// sharedDir is ../shared beside the repository root.
func sharedDir(t testing.TB) string { return testenv.SharedDir(t) }
