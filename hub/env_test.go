package hub

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

var hfEnvVars = []string{
	"HF_ENDPOINT", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH", "HF_HUB_DISABLE_IMPLICIT_TOKEN",
	"HF_HOME", "XDG_CACHE_HOME", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE",
	"HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_ETAG_TIMEOUT", "HF_HUB_DOWNLOAD_TIMEOUT",
}

// clearHFEnv empties every variable the package reads and points HOME at a temp dir, so the
// developer's own settings and token never leak into a test.
func clearHFEnv(t *testing.T) {
	t.Helper()
	for _, k := range hfEnvVars {
		t.Setenv(k, "")
	}
	t.Setenv("HOME", t.TempDir())
}

func TestNewFromEnv(t *testing.T) {
	type want struct {
		endpoint, cache, token string
		offline                bool
		etag, stall            time.Duration
	}
	tests := []struct {
		name string
		env  func(home, tmp string) map[string]string
		want func(home, tmp string) want
	}{
		{"defaults",
			func(home, tmp string) map[string]string { return nil },
			func(home, tmp string) want {
				return want{defaultEndpoint, filepath.Join(home, ".cache/huggingface/hub"), "", false, 10 * time.Second, 10 * time.Second}
			}},
		{"XDG_CACHE_HOME",
			func(home, tmp string) map[string]string { return map[string]string{"XDG_CACHE_HOME": tmp} },
			func(home, tmp string) want {
				return want{defaultEndpoint, filepath.Join(tmp, "huggingface/hub"), "", false, 10 * time.Second, 10 * time.Second}
			}},
		{"HF_HOME beats XDG, mirror endpoint, fractional timeouts",
			func(home, tmp string) map[string]string {
				return map[string]string{"XDG_CACHE_HOME": "/nowhere", "HF_HOME": tmp, "HF_ENDPOINT": "https://hf-mirror.example/",
					"HF_HUB_ETAG_TIMEOUT": "2.5", "HF_HUB_DOWNLOAD_TIMEOUT": "60"}
			},
			func(home, tmp string) want {
				return want{"https://hf-mirror.example", filepath.Join(tmp, "hub"), "", false, 2500 * time.Millisecond, time.Minute}
			}},
		{"legacy HUGGINGFACE_HUB_CACHE beats HF_HOME",
			func(home, tmp string) map[string]string {
				return map[string]string{"HF_HOME": "/nowhere", "HUGGINGFACE_HUB_CACHE": tmp}
			},
			func(home, tmp string) want {
				return want{defaultEndpoint, tmp, "", false, 10 * time.Second, 10 * time.Second}
			}},
		{"HF_HUB_CACHE beats legacy, with ~",
			func(home, tmp string) map[string]string {
				return map[string]string{"HUGGINGFACE_HUB_CACHE": "/nowhere", "HF_HUB_CACHE": "~/hfc"}
			},
			func(home, tmp string) want {
				return want{defaultEndpoint, filepath.Join(home, "hfc"), "", false, 10 * time.Second, 10 * time.Second}
			}},
		{"HF_HUB_OFFLINE=yes, HF_TOKEN beats legacy token",
			func(home, tmp string) map[string]string {
				return map[string]string{"HF_HUB_OFFLINE": "yes", "HF_TOKEN": " a ", "HUGGING_FACE_HUB_TOKEN": "b"}
			},
			func(home, tmp string) want {
				return want{defaultEndpoint, filepath.Join(home, ".cache/huggingface/hub"), "a", true, 10 * time.Second, 10 * time.Second}
			}},
		{"TRANSFORMERS_OFFLINE=1, bad timeout ignored",
			func(home, tmp string) map[string]string {
				return map[string]string{"TRANSFORMERS_OFFLINE": "1", "HF_HUB_ETAG_TIMEOUT": "soon"}
			},
			func(home, tmp string) want {
				return want{defaultEndpoint, filepath.Join(home, ".cache/huggingface/hub"), "", true, 10 * time.Second, 10 * time.Second}
			}},
		{"HF_HUB_OFFLINE=0 is online; implicit token disabled",
			func(home, tmp string) map[string]string {
				return map[string]string{"HF_HUB_OFFLINE": "0", "HF_TOKEN": "a", "HF_HUB_DISABLE_IMPLICIT_TOKEN": "true"}
			},
			func(home, tmp string) want {
				return want{defaultEndpoint, filepath.Join(home, ".cache/huggingface/hub"), "", false, 10 * time.Second, 10 * time.Second}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clearHFEnv(t)
			home, tmp := os.Getenv("HOME"), t.TempDir()
			for k, v := range tc.env(home, tmp) {
				t.Setenv(k, v)
			}
			c := NewFromEnv()
			got := want{c.Endpoint, c.CacheDir, c.Token, c.Offline, c.MetadataTimeout, c.StallTimeout}
			if w := tc.want(home, tmp); got != w {
				t.Errorf("got %+v\nwant %+v", got, w)
			}
			if c.HTTP == nil {
				t.Error("no HTTP client")
			}
		})
	}
}

func TestTokenFileInHFHome(t *testing.T) {
	clearHFEnv(t)
	home := t.TempDir()
	t.Setenv("HF_HOME", home)
	if tok := NewFromEnv().Token; tok != "" {
		t.Fatalf("token %q without any source", tok)
	}
	if err := os.WriteFile(filepath.Join(home, "token"), []byte("hf_file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if tok := NewFromEnv().Token; tok != "hf_file" {
		t.Errorf("token = %q, want hf_file from $HF_HOME/token", tok)
	}
	t.Setenv("HF_TOKEN", "hf_env")
	if tok := NewFromEnv().Token; tok != "hf_env" {
		t.Errorf("token = %q, want HF_TOKEN to win over the file", tok)
	}
}
