package netimpair

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"runtime/debug"
	"time"

	"github.com/moby/moby/client"

	"github.com/tcplab/tcplab/lab/harness"
)

// EnvSidecarImage names the sidecar's image for every Attach in this
// process that gives no SidecarImage: a copy in your own registry, or an
// image you built (docker build -f images/tcplab/Dockerfile …). A pull
// of it that fails is an error.
const EnvSidecarImage = "TCPLAB_SIDECAR_IMAGE"

// PublishedRepo is where tcplab's tagged releases publish the lab image
// for linux/amd64 and linux/arm64 (.github/workflows/image.yml). A
// program built with a tagged release of this module uses
// PublishedRepo:<version> by default, pulled once; where no registry can
// be reached, it builds the image from the module's source instead, as a
// program built from a checkout or a pseudo-version always does.
const PublishedRepo = "ghcr.io/tcplab/tcplab"

// publishedRef is the published image of the tcplab this program was
// built with, "" when it is not a tagged release.
var publishedRef = func() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	return releaseRef(bi)
}()

// release is a tag of a release: vX.Y.Z, no pseudo-version, no "(devel)".
var release = regexp.MustCompile(`^v[0-9]+\.[0-9]+\.[0-9]+$`)

// releaseRef finds this module in bi (as the main module or a
// dependency) and names its published image when its version is a
// release.
func releaseRef(bi *debug.BuildInfo) string {
	const mod = "github.com/tcplab/tcplab"
	v := ""
	if bi.Main.Path == mod {
		v = bi.Main.Version
	}
	for _, d := range bi.Deps {
		if d.Path == mod {
			v = d.Version
			if d.Replace != nil {
				v = "" // replaced by a local copy: its own source, not the release
			}
		}
	}
	if !release.MatchString(v) {
		return ""
	}
	return PublishedRepo + ":" + v
}

// sidecarImage picks the sidecar's image: the SidecarImage option, else
// EnvSidecarImage, else the release's published image, else one built
// from the module's source for arch (harness.Image, cached by hash).
// The published image falls back to the built one when it cannot be
// pulled, and says so on stderr.
func sidecarImage(ctx context.Context, cli client.APIClient, option, published, arch string) (string, error) {
	ref := option
	if ref == "" {
		ref = os.Getenv(EnvSidecarImage)
	}
	if ref != "" {
		return ref, ensureImage(ctx, cli, ref)
	}
	if published != "" {
		err := ensureImage(ctx, cli, published)
		if err == nil {
			return published, nil
		}
		fmt.Fprintf(os.Stderr, "netimpair: %v; building the sidecar's image from the module's source instead\n", err)
	}
	ref, err := harness.Image(ctx, arch)
	if err != nil {
		return "", fmt.Errorf("netimpair: the sidecar's image: %w", err)
	}
	return ref, nil
}

// ensureImage pulls ref unless the daemon has it, within a minute.
func ensureImage(ctx context.Context, cli client.APIClient, ref string) error {
	if _, err := cli.ImageInspect(ctx, ref); err == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	resp, err := cli.ImagePull(ctx, ref, client.ImagePullOptions{})
	if err == nil {
		err = resp.Wait(ctx)
	}
	if err != nil {
		return fmt.Errorf("pulling the sidecar's image %s: %v", ref, err)
	}
	return nil
}
