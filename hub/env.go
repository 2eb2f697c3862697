package hub

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The environment variables below follow huggingface_hub's constants.py so that one set of
// settings drives both the Python tools and this client.

const defaultEndpoint = "https://huggingface.co"

// envTrue reports whether the variable holds one of huggingface_hub's true values.
func envTrue(name string) bool {
	switch strings.ToUpper(strings.TrimSpace(os.Getenv(name))) {
	case "1", "ON", "YES", "TRUE":
		return true
	}
	return false
}

// expandHome replaces a leading "~" like Python's os.path.expanduser.
func expandHome(p string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, p[1:])
		}
	}
	return p
}

// hfHome is $HF_HOME, else $XDG_CACHE_HOME/huggingface, else ~/.cache/huggingface.
func hfHome() string {
	if v := os.Getenv("HF_HOME"); v != "" {
		return expandHome(v)
	}
	if v := os.Getenv("XDG_CACHE_HOME"); v != "" {
		return filepath.Join(expandHome(v), "huggingface")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		home = os.TempDir()
	}
	return filepath.Join(home, ".cache", "huggingface")
}

// cacheDirFromEnv is HF_HUB_CACHE, else legacy HUGGINGFACE_HUB_CACHE, else $HF_HOME/hub.
func cacheDirFromEnv() string {
	for _, k := range []string{"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"} {
		if v := os.Getenv(k); v != "" {
			return expandHome(v)
		}
	}
	return filepath.Join(hfHome(), "hub")
}

// endpointFromEnv is HF_ENDPOINT (a mirror) or the public hub, without a trailing slash.
func endpointFromEnv() string {
	if v := strings.TrimSpace(os.Getenv("HF_ENDPOINT")); v != "" {
		return strings.TrimRight(v, "/")
	}
	return defaultEndpoint
}

// tokenFromEnv is HF_TOKEN, else HUGGING_FACE_HUB_TOKEN, else the contents of HF_TOKEN_PATH
// (default $HF_HOME/token); empty when HF_HUB_DISABLE_IMPLICIT_TOKEN is set.
func tokenFromEnv() string {
	if envTrue("HF_HUB_DISABLE_IMPLICIT_TOKEN") {
		return ""
	}
	for _, k := range []string{"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"} {
		if t := strings.TrimSpace(os.Getenv(k)); t != "" {
			return t
		}
	}
	path := os.Getenv("HF_TOKEN_PATH")
	if path == "" {
		path = filepath.Join(hfHome(), "token")
	}
	b, err := os.ReadFile(expandHome(path))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// offlineFromEnv is HF_HUB_OFFLINE or legacy TRANSFORMERS_OFFLINE.
func offlineFromEnv() bool {
	return envTrue("HF_HUB_OFFLINE") || envTrue("TRANSFORMERS_OFFLINE")
}

// envSeconds parses a (possibly fractional) number of seconds, or returns def.
func envSeconds(name string, def time.Duration) time.Duration {
	v := strings.TrimSpace(os.Getenv(name))
	if v == "" {
		return def
	}
	s, err := strconv.ParseFloat(v, 64)
	if err != nil || s <= 0 {
		return def
	}
	return time.Duration(s * float64(time.Second))
}
