//go:build linux

package netimpair_test

import (
	"context"
	"testing"
	"time"

	"github.com/testcontainers/testcontainers-go"

	"github.com/tcplab/tcplab/lab/netimpair"
)

// BenchmarkAttach times Attach and Close to a running HTTP service, with
// the sidecar's image already built and found by its hash, as a test
// that attaches once per test pays them:
//
//	go test ./lab/netimpair -run '^$' -bench '^BenchmarkAttach$' -benchtime 10x
func BenchmarkAttach(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ctr, _ := httpService(b, ctx)
	attachClose(b, ctx, ctr) // the image, built or found once
	var t attachTime
	for b.Loop() {
		t.add(attachClose(b, ctx, ctr))
	}
	t.report(b, "")
	b.Logf("Attach: %v; Close: %v", t.attach, t.close)
}

// attachTime collects Attach's and Close's durations.
type attachTime struct{ attach, close []time.Duration }

func (t *attachTime) add(attach, close time.Duration) {
	t.attach = append(t.attach, attach)
	t.close = append(t.close, close)
}

// report adds the p50s as benchmark metrics, their names prefixed.
func (t *attachTime) report(b *testing.B, prefix string) {
	b.ReportMetric(ms(pct(t.attach, 50)), prefix+"attach-p50-ms")
	b.ReportMetric(ms(pct(t.close, 50)), prefix+"close-p50-ms")
}

// attachClose attaches to ctr (+50 ms) and closes at once, and returns
// how long each took.
func attachClose(b *testing.B, ctx context.Context, ctr testcontainers.Container, opts ...netimpair.Option) (attach, close time.Duration) {
	t0 := time.Now()
	h, err := netimpair.Attach(ctx, ctr, append(opts, netimpair.RTT(cmpBulkRTT))...)
	if err != nil {
		b.Fatal(err)
	}
	t1 := time.Now()
	if err := h.Close(ctx); err != nil {
		b.Fatal(err)
	}
	return t1.Sub(t0), time.Since(t1)
}
