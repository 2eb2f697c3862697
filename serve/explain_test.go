package serve

import (
	"bytes"
	"context"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/resnet-go/resnet"
	"github.com/resnet-go/resnet/gradcam"
	"github.com/resnet-go/resnet/imageproc"
)

// The overlay the server sends is the one the library draws for the same photo, class,
// method and layer, byte for byte, at the photo's size.
func TestExplainRoute(t *testing.T) {
	ts := newTestServer(t, Options{}, nil)
	cifar, _ := testModels(t)
	path := imagePath(t, "cat.jpg")
	data := readFile(t, path)
	img, err := imageproc.DecodeFile(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		query, class, method string
		classIndex           int
	}{
		{"", "3", "gradcam", -1},
		{"?class=dog&method=gradcam%2B%2B", "5", "gradcam++", 5},
		{"?class=1&layer=stage3", "1", "gradcam", 1},
	} {
		t.Run(c.query, func(t *testing.T) {
			resp, body := do(t, "POST", ts.url+"/v1/models/"+cifarName+"/explain"+c.query, data, nil)
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" {
				t.Fatalf("%d %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
			}
			if got := resp.Header.Get("X-Class"); got != c.class {
				t.Errorf("X-Class %s, want %s", got, c.class)
			}
			if got := resp.Header.Get("X-Layer"); got != "resnet.encoder.stages.2.layers.2" {
				t.Errorf("X-Layer %s", got)
			}
			dec, err := png.Decode(bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			if b := dec.Bounds(); b.Dx() != img.W || b.Dy() != img.H {
				t.Fatalf("overlay %dx%d, image %dx%d", b.Dx(), b.Dy(), img.W, img.H)
			}
			ex, err := cifar.Explain(img, c.classIndex, "", c.method)
			if err != nil {
				t.Fatal(err)
			}
			var want bytes.Buffer
			if err := gradcam.EncodePNG(&want, ex.Overlay); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(body, want.Bytes()) {
				t.Error("the served overlay differs from resnet.Model.Explain's")
			}
		})
	}
}

func TestExplainRouteErrors(t *testing.T) {
	ts := newTestServer(t, Options{MaxBody: 4 << 10}, nil)
	small := &bytes.Buffer{}
	gradcam.EncodePNG(small, imageproc.NewRGB(8, 8))
	u := ts.url + "/v1/models/" + cifarName + "/explain"
	for _, c := range []struct {
		name, method, url string
		body              []byte
		status            int
		want              string
	}{
		{"unknown model", "POST", ts.url + "/v1/models/nope/explain", small.Bytes(), 404, "nope"},
		{"unknown route", "POST", ts.url + "/v1/models/" + cifarName + "/predict", small.Bytes(), 404, "no route"},
		{"GET", "GET", u, nil, 405, ""},
		{"unknown class", "POST", u + "?class=zebra", small.Bytes(), 400, "no class is named"},
		{"class out of range", "POST", u + "?class=12", small.Bytes(), 400, "out of range"},
		{"unknown method", "POST", u + "?method=scorecam", small.Bytes(), 400, "use gradcam or gradcam++"},
		{"unknown layer", "POST", u + "?layer=stage7", small.Bytes(), 400, "unknown Grad-CAM layer"},
		{"inner layer without an Explainer", "POST", u + "?layer=stage1", small.Bytes(), 400, "last stage"},
		{"not an image", "POST", u, []byte("plain text"), 415, "cannot decode the image"},
		{"body too large", "POST", u, make([]byte, 5<<10), 413, "larger than the limit"},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, body := do(t, c.method, c.url, c.body, nil)
			if c.status == 405 {
				if resp.StatusCode != 405 || !strings.Contains(resp.Header.Get("Allow"), "POST") {
					t.Errorf("%d, Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
				}
				return
			}
			if msg := wantError(t, resp, body, c.status); !strings.Contains(msg, c.want) {
				t.Errorf("error %q, want it to contain %q", msg, c.want)
			}
		})
	}
}

// With an Explainer the route takes any layer, and answers what the library draws there.
func TestExplainRouteAnyLayer(t *testing.T) {
	ck, err := resnet.DefaultCheckpoint()
	if err != nil {
		t.Fatal(err)
	}
	ex, err := ck.BuildExplainer()
	if err != nil {
		t.Fatal(err)
	}
	s := New(Options{})
	if err := s.Add(Model{Name: "r20", Model: ex.Model, Source: "built-in", Explainer: ex}); err != nil {
		t.Fatal(err)
	}
	s.MarkReady()
	hs := httptest.NewUnstartedServer(nil)
	hs.Config = s.HTTPServer()
	hs.Start()
	t.Cleanup(func() {
		hs.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.Close(ctx)
	})
	path := imagePath(t, "cat.jpg")
	img, err := imageproc.DecodeFile(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	resp, body := do(t, "POST", hs.URL+"/v1/models/r20/explain?layer=stage1&method=gradcam%2B%2B", readFile(t, path), nil)
	if resp.StatusCode != 200 || resp.Header.Get("X-Layer") != "resnet.encoder.stages.0.layers.2" {
		t.Fatalf("%d, layer %q: %s", resp.StatusCode, resp.Header.Get("X-Layer"), body)
	}
	want, err := ex.Explain(img, -1, "stage1", "gradcam++")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := gradcam.EncodePNG(&buf, want.Overlay); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(body, buf.Bytes()) {
		t.Error("the served stage-1 overlay differs from resnet.Explainer.Explain's")
	}
}

// Explain requests run side by side (on the decode workers' tokens) and agree.
func TestExplainRouteConcurrent(t *testing.T) {
	ts := newTestServer(t, Options{DecodeWorkers: 3}, nil)
	data := readFile(t, imagePath(t, "cat.jpg"))
	const n = 8
	bodies := make([][]byte, n)
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Post(ts.url+"/v1/models/"+cifarName+"/explain?method=gradcam%2B%2B", "image/jpeg", bytes.NewReader(data))
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			codes[i] = resp.StatusCode
			bodies[i], _ = io.ReadAll(resp.Body)
		}()
	}
	wg.Wait()
	for i := 0; i < n; i++ {
		if codes[i] != 200 || !bytes.Equal(bodies[i], bodies[0]) {
			t.Errorf("request %d: status %d, %d bytes (request 0: %d bytes)", i, codes[i], len(bodies[i]), len(bodies[0]))
		}
	}
}
