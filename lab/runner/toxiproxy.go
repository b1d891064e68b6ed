package runner

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/tcplab/tcplab/lab/impair"
	"github.com/tcplab/tcplab/lab/scenario"
)

// ProbePlainPort echoes like ProbePort but is never impaired: the path a
// userspace proxy such as toxiproxy adds its own latency to.
const ProbePlainPort = 7003

// probeToxiproxy measures the same round trips as the probe through the
// best userspace peer, toxiproxy's latency toxic (half the RTT upstream,
// half downstream), run here in the client's container in front of the
// server's unimpaired echo port, so both tools are compared on one path.
func (l *link) probeToxiproxy(ctx context.Context, im scenario.Impairment) (*impair.PeerProbe, error) {
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	p := toxiproxy.NewProxy(srv, "tcplab", "127.0.0.1:0", net.JoinHostPort(l.ip, strconv.Itoa(ProbePlainPort)))
	if err := p.Start(); err != nil {
		return nil, fmt.Errorf("toxiproxy: %w", err)
	}
	defer p.Stop()
	half := im.RTT.Milliseconds() / 2
	for _, stream := range []string{"upstream", "downstream"} {
		toxic := fmt.Sprintf(`{"name":"latency_%s","type":"latency","stream":%q,"attributes":{"latency":%d,"jitter":%d}}`,
			stream, stream, half, im.Jitter.Milliseconds()/2)
		if _, err := p.Toxics.AddToxicJson(strings.NewReader(toxic)); err != nil {
			return nil, fmt.Errorf("toxiproxy latency toxic: %w", err)
		}
	}
	all, connects, err := spread(ctx, p.Listen, im.Probe, nil)
	if err != nil {
		return nil, fmt.Errorf("through toxiproxy: %w", err)
	}
	out := &impair.PeerProbe{Tool: "toxiproxy v2.12.0 latency toxic", Echoes: len(all)}
	out.EchoP50MS, out.EchoP99MS, out.EchoMaxMS = percentiles(all)
	for _, c := range connects {
		out.ConnectMS = append(out.ConnectMS, msFine(c))
	}
	return out, nil
}
