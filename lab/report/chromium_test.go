package report

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// chartShapes is the data shape each chart kind must draw, beyond its axes.
var chartShapes = map[string]string{
	chartDialHistogram: "<rect",
	chartBlockBars:     "<rect",
	chartProgress:      "<polyline",
	chartSweep:         "<polyline",
	chartTimeline:      "<circle",
	chartConnectRTT:    "<circle",
	chartBDP:           "<circle",
}

// chromiumBin finds headless Chromium, or skips the test.
func chromiumBin(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("chromium not installed: apt-get install -y chromium to run this test")
	return ""
}

// runChromium opens page in headless Chromium with args and returns what
// it printed; dir holds its profile.
func runChromium(t *testing.T, ctx context.Context, bin, dir, page string, args ...string) []byte {
	t.Helper()
	args = append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--hide-scrollbars", "--user-data-dir=" + filepath.Join(dir, "profile")}, args...)
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, append(args, "file://"+page)...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", bin, strings.Join(args, " "), err, stderr.String())
	}
	return stdout.Bytes()
}

// TestHTMLInChromium renders the page in headless Chromium and checks the
// charts are in the browser's DOM and the screenshot shows something.
// TCPLAB_REPORT_SCREENSHOT=path keeps a copy of the screenshot.
func TestHTMLInChromium(t *testing.T) {
	bin := chromiumBin(t)
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	var b bytes.Buffer
	if err := HTML(&b, sampleReport()); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(page, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	chromium := func(args ...string) []byte {
		t.Helper()
		return runChromium(t, ctx, bin, dir, page, args...)
	}

	dom := string(chromium("--dump-dom"))
	svgs := regexp.MustCompile(`(?s)<svg class="chart" data-chart="([^"]+)"(.*?)</svg>`).FindAllStringSubmatch(dom, -1)
	want := 0
	for _, n := range sampleCharts {
		want += n
	}
	if n := strings.Count(dom, `class="chart"`); n != want || len(svgs) != want {
		t.Errorf("the DOM has %d chart elements (%d parsed), want %d", n, len(svgs), want)
	}
	for _, m := range svgs {
		kind, body := m[1], m[2]
		if !strings.Contains(body, "<line") || !strings.Contains(body, "<text") {
			t.Errorf("%s chart has no axes or labels", kind)
		}
		if shape := chartShapes[kind]; shape == "" || !strings.Contains(body, shape) {
			t.Errorf("%s chart draws no %q", kind, shape)
		}
	}

	shot := filepath.Join(dir, "report.png")
	chromium("--screenshot="+shot, "--window-size=1280,2000")
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	bounds, inked := img.Bounds(), 0
	for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
		for x := bounds.Min.X; x < bounds.Max.X; x++ {
			if r, g, b, _ := img.At(x, y).RGBA(); r < 0xf000 || g < 0xf000 || b < 0xf000 {
				inked++
			}
		}
	}
	share := float64(inked) / float64(bounds.Dx()*bounds.Dy())
	t.Logf("screenshot %v, %.1f %% of pixels not white", bounds.Size(), share*100)
	if bounds.Dx() != 1280 || bounds.Dy() != 2000 || share < 0.03 {
		t.Errorf("screenshot %v with %.1f %% ink: blank or the wrong size", bounds.Size(), share*100)
	}
	if keep := os.Getenv("TCPLAB_REPORT_SCREENSHOT"); keep != "" {
		data, _ := os.ReadFile(shot)
		if err := os.WriteFile(keep, data, 0o644); err != nil {
			t.Error(err)
		}
	}
}
