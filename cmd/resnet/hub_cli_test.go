package main

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The CLI resolves a hub id through HF_ENDPOINT into the HF_HOME cache, then works offline.
func TestClassifyFromHubThenOffline(t *testing.T) {
	const commit = "89abcdef0123456789abcdef0123456789abcdef"
	var gets int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		file, ok := strings.CutPrefix(r.URL.Path, "/tiny/basic/resolve/main/")
		if !ok {
			w.Header().Set("X-Error-Code", "RepoNotFound")
			http.Error(w, "no such repo", http.StatusUnauthorized)
			return
		}
		w.Header().Set("X-Repo-Commit", commit)
		data, err := os.ReadFile(filepath.Join(tinyModel, file))
		if err != nil {
			w.Header().Set("X-Error-Code", "EntryNotFound")
			http.Error(w, "entry not found", http.StatusNotFound)
			return
		}
		sum := sha256.Sum256(data)
		w.Header().Set("ETag", `"`+hex.EncodeToString(sum[:])+`"`)
		if r.Method == http.MethodGet {
			gets++
		}
		w.Write(data)
	}))
	defer srv.Close()
	home := t.TempDir()
	img := filepath.Join(t.TempDir(), "x.png")
	writePNG(t, img, 50, 40)
	env := append(os.Environ(), "HF_HOME="+home, "HF_ENDPOINT="+srv.URL, "HF_TOKEN=", "HF_HUB_OFFLINE=")
	runEnv := func(extra ...string) (string, string, error) {
		cmd := exec.Command(binary, "classify", "--model", "tiny/basic", "--json", img)
		cmd.Env = append(env, extra...)
		var o, e strings.Builder
		cmd.Stdout, cmd.Stderr = &o, &e
		err := cmd.Run()
		return o.String(), e.String(), err
	}
	// info needs the config only.
	info := exec.Command(binary, "info", "--model", "tiny/basic", "--json")
	info.Env = env
	if out, err := info.CombinedOutput(); err != nil || !strings.Contains(string(out), `"num_labels":7`) {
		t.Fatalf("info: %v: %s", err, out)
	}
	if gets != 1 {
		t.Errorf("info made %d downloads, want 1 (config.json)", gets)
	}
	online, errOut, err := runEnv()
	if err != nil {
		t.Fatalf("online: %v: %s", err, errOut)
	}
	if gets != 2 {
		t.Errorf("%d downloads, want 2 (config.json, then model.safetensors)", gets)
	}
	snap := filepath.Join(home, "hub", "models--tiny--basic", "snapshots", commit, "model.safetensors")
	if _, err := os.Stat(snap); err != nil {
		t.Errorf("not in the HF cache layout: %v", err)
	}
	srv.Close()
	offline, errOut, err := runEnv("HF_HUB_OFFLINE=1")
	if err != nil {
		t.Fatalf("offline: %v: %s", err, errOut)
	}
	if offline != online || !strings.Contains(online, `"top"`) {
		t.Errorf("offline answer %q differs from online %q", offline, online)
	}
	// Offline with nothing cached: a clear error.
	cmd := exec.Command(binary, "classify", "--model", "tiny/absent", img)
	cmd.Env = append(env, "HF_HUB_OFFLINE=1")
	out, _ := cmd.CombinedOutput()
	if !strings.Contains(string(out), "HF_HUB_OFFLINE") {
		t.Errorf("offline miss says %q", out)
	}
}
