package hub

import (
	"os"
	"path/filepath"
	"testing"
)

func TestIsRepoID(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.MkdirAll(filepath.Join("local", "model"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile("resnet-50", nil, 0o644)
	tests := []struct {
		in   string
		want bool
	}{
		{"microsoft/resnet-50", true},
		{"gpt2", true},
		{"a/b", true},
		{"Org_1/name.v2-x", true},
		{"local/model", false}, // exists on disk
		{"resnet-50", false},   // exists on disk
		{"", false},
		{"a/b/c", false},
		{"/abs/path", false},
		{"./model", false},
		{"-org/name", false},
		{"org/name-", false},
		{"org/.name", false},
		{"org--x/name", false},
		{"org/na..me", false},
		{"org/name.git", false},
		{"org/na me", false},
		{"org/näme", false},
		{"model.safetensors", true}, // a valid id unless such a file exists
	}
	for _, tc := range tests {
		if got := IsRepoID(tc.in); got != tc.want {
			t.Errorf("IsRepoID(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestFileURL(t *testing.T) {
	c := &Client{Endpoint: "https://hf.example/"}
	tests := []struct{ repo, rev, file, want string }{
		{"microsoft/resnet-50", "main", "config.json", "https://hf.example/microsoft/resnet-50/resolve/main/config.json"},
		{"m", "refs/pr/1", "a b/c+d.txt", "https://hf.example/m/resolve/refs%2Fpr%2F1/a%20b/c%2Bd.txt"},
		{"m", "v1.0~rc_1", "x", "https://hf.example/m/resolve/v1.0~rc_1/x"},
	}
	for _, tc := range tests {
		if got := c.fileURL(tc.repo, tc.rev, tc.file); got != tc.want {
			t.Errorf("fileURL(%q, %q, %q) = %s, want %s", tc.repo, tc.rev, tc.file, got, tc.want)
		}
	}
}

func TestNormalizeETag(t *testing.T) {
	for in, want := range map[string]string{`"abc"`: "abc", `W/"abc"`: "abc", "abc": "abc", ` "abc" `: "abc", "": ""} {
		if got := normalizeETag(in); got != want {
			t.Errorf("normalizeETag(%q) = %q, want %q", in, got, want)
		}
	}
}
