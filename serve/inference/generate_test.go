package inference

import (
	"os/exec"
	"testing"

	"github.com/resnet-go/resnet/internal/testenv"
)

// TestGeneratedCodeIsCurrent regenerates the Go code from open_inference_grpc.proto with
// protoc and the pinned plugins (tools/genproto) and compares it with the committed files.
// Without protoc it skips (RESNET_REQUIRE_CLIENTS=1, as in CI, makes that a failure).
func TestGeneratedCodeIsCurrent(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the protoc plugins")
	}
	if _, err := exec.LookPath("protoc"); err != nil {
		msg := "protoc is not installed (Debian: apt-get install protobuf-compiler)"
		testenv.MissingTool(t, "%s", msg)
	}
	out, err := exec.Command("go", "run", "../../tools/genproto", "-check").CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
}
