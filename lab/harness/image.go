package harness

import "context"

// Image returns the lab image for linux/arch (FROM scratch, the one static
// binary at /tcplab), building it when none has this binary's hash yet:
// from the checkout the process runs in, else this executable, else the
// module source embedded in it (see labBinary). lab/netimpair runs its
// sidecar from it.
func Image(ctx context.Context, arch string) (string, error) { return buildImage(ctx, arch) }

// UseEndpoint points this process's Docker clients (moby's and
// testcontainers') at the daemon the docker CLI would use ($DOCKER_HOST,
// else the current context) and says where that is.
func UseEndpoint() (string, error) { return useEndpoint() }
