package harness

import (
	"context"
	"errors"
	"math"
	"sort"
	"testing"
	"time"

	"github.com/testcontainers/testcontainers-go"
	tcnetwork "github.com/testcontainers/testcontainers-go/network"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/tcplab/tcplab/lab/scenario"
)

// BenchmarkStartup measures container start to ready for each role of a
// run, as the harness starts them: the server (until its ready line), the
// impairment sidecar in the server's namespace (until its ready line), and
// the client of dial-refused (until it exited with its result: its own
// work is five refused dials, well under a millisecond). "poll" waits the
// way topology.go does today (wait.ForLog every 50 ms, wait.ForExit every
// 100 ms); "follow" waits on the daemon's log stream and ContainerWait.
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
	for _, tc := range []struct {
		name        string
		ready, exit wait.Strategy
	}{
		{"poll",
			wait.ForLog(scenario.ReadyLine).WithStartupTimeout(30 * time.Second).WithPollInterval(50 * time.Millisecond),
			wait.ForExit().WithExitTimeout(30 * time.Second).WithPollInterval(100 * time.Millisecond)},
		{"follow", l.ForLine(scenario.ReadyLine, 30*time.Second), l.ForExit(30 * time.Second)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var server, sidecar, client []time.Duration
			for b.Loop() {
				s, sc, c := l.startOnce(ctx, b, tc.ready, tc.exit)
				server, sidecar, client = append(server, s), append(sidecar, sc), append(client, c)
			}
			for _, m := range []struct {
				role string
				ds   []time.Duration
			}{{"server", server}, {"sidecar", sidecar}, {"client", client}} {
				b.ReportMetric(percentile(m.ds, 50), m.role+"-p50-ms")
				b.ReportMetric(percentile(m.ds, 99), m.role+"-p99-ms")
			}
			b.ReportMetric(0, "ns/op") // the whole iteration is not the figure
		})
	}
}

// startOnce starts server, sidecar and client on a fresh network and
// returns how long each took from the start request to ready; everything
// is removed before it returns (not timed).
func (l *Lab) startOnce(ctx context.Context, b *testing.B, ready, exit wait.Strategy) (server, sidecar, client time.Duration) {
	b.StopTimer()
	labels := l.labels()
	nw, err := tcnetwork.New(ctx, tcnetwork.WithLabels(labels))
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		b.StopTimer()
		_ = removeSession(ctx, l.docker, l.session)
		b.StartTimer()
	}()
	b.StartTimer()
	start := func(d *time.Duration, w wait.Strategy, netns string, caps []string, opts ...testcontainers.ContainerCustomizer) testcontainers.Container {
		opts = append(opts, testcontainers.WithLabels(labels), testcontainers.WithWaitStrategy(w),
			testcontainers.WithHostConfigModifier(hostConfig(nil, netns, caps...)))
		t0 := time.Now()
		c, err := testcontainers.Run(ctx, l.Image, opts...)
		*d = time.Since(t0)
		if err != nil {
			b.Fatal(err)
		}
		return c
	}
	srv := start(&server, ready, "", nil, testcontainers.WithCmd("serve", "dial-refused", "-lifetime", "2m"),
		tcnetwork.WithNetwork([]string{"server"}, nw))
	start(&sidecar, ready, srv.GetContainerID(), []string{"NET_ADMIN"}, testcontainers.WithCmd("agent", "-lifetime", "2m"))
	start(&client, exit, "", nil, testcontainers.WithCmd("client", "dial-refused", "-server", "server"),
		tcnetwork.WithNetwork([]string{"client"}, nw))
	return server, sidecar, client
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
