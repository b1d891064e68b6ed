package harness

import (
	"context"
	"sync"

	"github.com/testcontainers/testcontainers-go"
)

// Image returns the lab image for linux/arch (FROM scratch, the one static
// binary at /tcplab), building it when none has this binary's hash yet:
// from the checkout the process runs in, else this executable, else the
// module source embedded in it (see labBinary). lab/netimpair runs its
// sidecar from it. The first call in a process compiles the binary to
// learn its hash (about a second from Go's cache); later calls reuse that
// image while the daemon still has it.
func Image(ctx context.Context, arch string) (string, error) {
	images.Lock()
	ref, ok := images.ref[arch]
	images.Unlock()
	if ok && imageExists(ctx, ref) {
		return ref, nil
	}
	ref, err := buildImage(ctx, arch)
	if err != nil {
		return "", err
	}
	images.Lock()
	images.ref[arch] = ref
	images.Unlock()
	return ref, nil
}

// images are the refs Image built or found in this process, by arch.
var images = struct {
	sync.Mutex
	ref map[string]string
}{ref: map[string]string{}}

// imageExists reports whether the daemon has ref now: an image removed
// since (docker image prune) is built again, never pulled.
func imageExists(ctx context.Context, ref string) bool {
	p, err := testcontainers.NewDockerProvider()
	if err != nil {
		return false
	}
	defer p.Close()
	_, err = p.Client().ImageInspect(ctx, ref)
	return err == nil
}

// UseEndpoint points this process's Docker clients (moby's and
// testcontainers') at the daemon the docker CLI would use ($DOCKER_HOST,
// else the current context) and says where that is.
func UseEndpoint() (string, error) { return useEndpoint() }
