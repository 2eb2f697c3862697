package serve

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

var screenshot = flag.String("screenshot", "", "TestPageInChromium writes a screenshot of the page with its results here (e.g. ../docs/serve-page.png)")

// chromiumPath is Debian's chromium package; CI installs it (apt-get install chromium).
const chromiumPath = "/usr/bin/chromium"

func TestPageMarkup(t *testing.T) {
	ts := newTestServer(t, Options{}, nil)
	resp, body := do(t, "GET", ts.url+"/", nil, nil)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("%d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	page := string(body)
	for _, want := range []string{
		`<input type="file" id="file"`, `<select id="model">`, `<ol id="results">`,
		`<option value="resnet20-cifar10" title="built-in">resnet20-cifar10</option>`, `<option value="basic"`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	// Self-contained: nothing loaded from elsewhere.
	for _, bad := range []string{"http://", "https://", "@import", "<link", "src=\""} {
		if strings.Contains(page, bad) {
			t.Errorf("page refers to an external resource (%s)", bad)
		}
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
}

// TestPageInChromium drives the page in headless Chromium as a person would: upload
// ../shared/data/images/cat.jpg with the built-in model and read "cat" first in the results;
// drop and paste an image; see an error in words for a file that is not an image.
func TestPageInChromium(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		msg := fmt.Sprintf("%s not found: the web page test needs Debian's chromium package (apt-get install -y chromium)", chromiumPath)
		if os.Getenv("RESNET_REQUIRE_CHROMIUM") != "" {
			t.Fatal(msg) // CI installs it: a skip there would hide a broken install
		}
		t.Skip(msg)
	}
	ts := newTestServer(t, Options{}, nil)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.NoSandbox, // CI runs as root
		chromedp.WindowSize(900, 720),
	)
	// The browser lives as long as this context: the whole test, at most two minutes.
	limit, cancelLimit := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancelLimit()
	actx, cancelAlloc := chromedp.NewExecAllocator(limit, opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("chromium: %s: %v", what, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		must("text of "+sel, err)
		return s
	}
	count := func() int {
		t.Helper()
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#results li").length`))
		must("counting results", err)
		return n
	}

	must("upload cat.jpg", chromedp.Do(ctx,
		chromedp.Navigate(ts.url+"/"),
		chromedp.WaitReady(chromedp.CSS("#model")),
		chromedp.SetValue(chromedp.CSS("#model"), cifarName),
		chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{imagePath(t, "cat.jpg")}),
		chromedp.WaitVisible(chromedp.CSS("#results li:nth-child(5)")),
	))
	model, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS("#model")))
	must("model", err)
	if first, n := text("#results li:first-child .label"), count(); first != "cat" || n != 5 || model != cifarName {
		t.Errorf("first label %q of %d with model %q; want cat first of 5 with %s", first, n, model, cifarName)
	}
	if score := text("#results li:first-child .score"); !strings.HasSuffix(score, "%") {
		t.Errorf("score %q", score)
	}
	if *screenshot != "" {
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // quality 100: PNG
		must("screenshot", err)
		if err := os.WriteFile(*screenshot, png, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// The Grad-CAM toggle: the overlay replaces the photo, at the photo's own size (cat.jpg is
	// 480×360), and turning it off brings the photo back.
	must("explain toggle on", chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("#explain")),
		chromedp.WaitVisible(chromedp.CSS("#overlay")),
		chromedp.WaitNotVisible(chromedp.CSS("#preview")),
	))
	size, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(async () => {
		const o = document.getElementById("overlay"); await o.decode();
		return o.naturalWidth + "x" + o.naturalHeight + " " + o.title; })()`, chromedp.EvalAwaitPromise))
	must("overlay size", err)
	if want := "480x360 Grad-CAM of cat at resnet.encoder.stages.2.layers.2"; size != want {
		t.Errorf("overlay %q, want %q", size, want)
	}
	if msg := text("#error"); msg != "" {
		t.Errorf("error shown with the overlay: %q", msg)
	}
	if *screenshot != "" {
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		must("screenshot", err)
		if err := os.WriteFile(strings.TrimSuffix(*screenshot, ".png")+"-gradcam.png", png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	must("explain toggle off", chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("#explain")),
		chromedp.WaitVisible(chromedp.CSS("#preview")),
		chromedp.WaitNotVisible(chromedp.CSS("#overlay")),
	))

	// Drop, then paste, an image drawn on a canvas; each fills the results again.
	for _, event := range []string{"drop", "paste"} {
		js := `(async () => {
			const c = document.createElement("canvas"); c.width = c.height = 40;
			const g = c.getContext("2d"); g.fillStyle = "#3a6"; g.fillRect(0, 0, 40, 40);
			const blob = await new Promise(r => c.toBlob(r, "image/png"));
			document.getElementById("results").replaceChildren();
			const dt = new DataTransfer(); dt.items.add(new File([blob], "green.png", {type: "image/png"}));
			if ("` + event + `" === "drop") {
				document.getElementById("drop").dispatchEvent(new DragEvent("drop", {dataTransfer: dt, bubbles: true, cancelable: true}));
			} else {
				document.dispatchEvent(new ClipboardEvent("paste", {clipboardData: dt, bubbles: true}));
			}
			return true;
		})()`
		_, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js, chromedp.EvalAwaitPromise))
		must(event, err)
		must(event+": results", chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS("#results li:nth-child(5)"))))
	}

	// A file that is not an image: the error is shown in words, and no results.
	bad := t.TempDir() + "/notes.txt"
	if err := os.WriteFile(bad, []byte("not an image"), 0o644); err != nil {
		t.Fatal(err)
	}
	must("upload a text file", chromedp.Do(ctx,
		chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{bad}),
		chromedp.WaitVisible(chromedp.CSS("#error:not(:empty)")),
	))
	if msg, n := text("#error"), count(); !strings.HasPrefix(msg, "Error: cannot decode the image") || n != 0 {
		t.Errorf("error shown %q with %d results", msg, n)
	}
}
