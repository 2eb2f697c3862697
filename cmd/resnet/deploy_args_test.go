package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// TestDeployArgs: the args of every container in deploy/ and the Dockerfile's CMD are flags
// this binary takes, with values of the right types (cobra parses them all before --help).
func TestDeployArgs(t *testing.T) {
	files, err := filepath.Glob("../../deploy/*/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests: %v", err)
	}
	type container struct {
		Name string   `json:"name"`
		Args []string `json:"args"`
	}
	type podSpec struct {
		Containers []container `json:"containers"`
	}
	var doc struct {
		Spec struct {
			podSpec
			Template struct {
				Spec podSpec `json:"spec"`
			} `json:"template"`
			Predictor podSpec `json:"predictor"`
		} `json:"spec"`
	}
	checked := 0
	check := func(where string, args []string) {
		checked++
		_, stderr, code := run(t, append(append([]string(nil), args...), "--help")...)
		if code != 0 {
			t.Errorf("%s: resnet %s: %s", where, strings.Join(args, " "), stderr)
		}
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		doc.Spec.Containers, doc.Spec.Template.Spec.Containers, doc.Spec.Predictor.Containers = nil, nil, nil
		if err := yaml.Unmarshal(data, &doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, cs := range [][]container{doc.Spec.Containers, doc.Spec.Template.Spec.Containers, doc.Spec.Predictor.Containers} {
			for _, c := range cs {
				check(f+" "+c.Name, c.Args)
			}
		}
	}
	docker, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(docker), "\n") {
		if rest, ok := strings.CutPrefix(line, "CMD "); ok {
			var args []string
			if err := json.Unmarshal([]byte(rest), &args); err != nil {
				t.Fatalf("Dockerfile CMD %s: %v", rest, err)
			}
			check("Dockerfile CMD", args)
		}
	}
	if checked != 6 {
		t.Errorf("checked %d argument lists, want 6 (a Deployment, 2 InferenceServices, 2 Jobs, the CMD)", checked)
	}
}
