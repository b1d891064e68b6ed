package harness

import (
	"context"
	"errors"
	"math"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	tcnetwork "github.com/testcontainers/testcontainers-go/network"

	"github.com/tcplab/tcplab/lab/scenarios"
	"github.com/tcplab/tcplab/lab/topology"
)

// BenchmarkStartup measures container start to ready for each node of a
// run, as the Docker runtime starts them (topology.go), on dial-refused's
// plan: the server's agent and the client's agent (until their ready line:
// routes cut), the server (its ready line) and the client (until it exited
// with its result; its own work is five refused dials, well under a
// millisecond). "follow" waits on the daemon's log stream and
// ContainerWait, as the runtime does; "poll" waits the way testcontainers'
// strategies do (logs every 50 ms, state every 100 ms). "docker-floor" is
// what no runtime can beat here: a container created, started and waited
// for with three raw API calls, running a process that prints one line and
// exits, on no network; "docker-floor-net" the same on an internal
// network (what an agent owning a namespace costs Docker).
//
//	go test ./lab/harness -run '^$' -bench Startup -benchtime 20x
func BenchmarkStartup(b *testing.B) {
	ctx := context.Background()
	l, err := New(ctx)
	if errors.Is(err, ErrNoDocker) {
		b.Skip(err)
	}
	if err != nil {
		b.Fatal(err)
	}
	sc, err := scenarios.Lookup("dial-refused")
	if err != nil {
		b.Fatal(err)
	}
	roles := []string{"server-agent", "server", "client-agent", "client"}
	for _, variant := range []string{"follow", "poll", "docker-floor", "docker-floor-net"} {
		b.Run(variant, func(b *testing.B) {
			var mu sync.Mutex
			took := map[string][]time.Duration{}
			l.poll = variant == "poll"
			l.started = func(n topology.Node, d time.Duration) {
				mu.Lock()
				defer mu.Unlock()
				took[n.Name] = append(took[n.Name], d)
			}
			defer func() { l.poll, l.started = false, nil }()
			network := "none"
			if variant == "docker-floor-net" {
				nw, err := tcnetwork.New(ctx, tcnetwork.WithLabels(l.labels()), tcnetwork.WithInternal())
				if err != nil {
					b.Fatal(err)
				}
				defer func() {
					if err := nw.Remove(ctx); err != nil {
						b.Error(err)
					}
				}()
				network = nw.Name
			}
			for b.Loop() {
				if network != "none" || variant == "docker-floor" {
					took["container"] = append(took["container"], l.floorOnce(ctx, b, network))
					continue
				}
				t, err := l.Plan(sc, nil)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := l.Runtime().Run(ctx, t); err != nil {
					b.Fatal(err)
				}
			}
			names := roles
			if variant != "follow" && variant != "poll" {
				names = []string{"container"}
			}
			for _, role := range names {
				b.ReportMetric(percentile(took[role], 50), role+"-p50-ms")
				b.ReportMetric(percentile(took[role], 99), role+"-p99-ms")
			}
			b.ReportMetric(0, "ns/op") // the whole run is not the figure
		})
	}
}

// floorOnce times create, start and exit of a container printing one line
// ("verdict"), with the daemon's API alone, on network ("none" for none);
// removal is not timed.
func (l *Lab) floorOnce(ctx context.Context, b *testing.B, network string) time.Duration {
	t0 := time.Now()
	c, err := l.docker.ContainerCreate(ctx, client.ContainerCreateOptions{
		Config:     &container.Config{Image: l.Image, Cmd: []string{"verdict"}, Labels: l.labels()},
		HostConfig: &container.HostConfig{NetworkMode: container.NetworkMode(network), CapDrop: []string{"ALL"}},
	})
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		if _, err := l.docker.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true}); err != nil {
			b.Error(err)
		}
	}()
	if _, err := l.docker.ContainerStart(ctx, c.ID, client.ContainerStartOptions{}); err != nil {
		b.Fatal(err)
	}
	w := l.docker.ContainerWait(ctx, c.ID, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	select {
	case <-w.Result:
	case err := <-w.Error:
		b.Fatal(err)
	}
	return time.Since(t0)
}

// percentile is the nearest-rank p-th percentile of ds, in milliseconds.
func percentile(ds []time.Duration, p float64) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return float64(s[max(i, 0)]) / float64(time.Millisecond)
}
