package kernelrun_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tcplab/tcplab/lab/harness"
	"github.com/tcplab/tcplab/lab/scenario"
	"github.com/tcplab/tcplab/lab/scenarios"
)

// BenchmarkRuntimes runs the same scenario on each named kernel in a VM and
// on the host's kernel in containers, and reports per run the wall time
// (run-ms) and, for VMs, the boot to /init (boot-ms): the per-scenario
// overhead of a VM kernel against the container runtime.
//
//	go test ./lab/kernelrun -run '^$' -bench Runtimes -benchtime 3x
func BenchmarkRuntimes(b *testing.B) {
	for _, id := range []string{"dial-refused", "backlog-full"} {
		sc, err := scenarios.Lookup(id)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(id+"/host", func(b *testing.B) {
			ctx := context.Background()
			lab, err := harness.New(ctx)
			if errors.Is(err, harness.ErrNoDocker) {
				b.Skip(err)
			}
			if err != nil {
				b.Fatal(err)
			}
			defer lab.Close()
			var total time.Duration
			for b.Loop() {
				start := time.Now()
				res, err := lab.Run(ctx, id, nil)
				if err != nil || !res.OK {
					b.Fatalf("%v %v", err, res)
				}
				total += time.Since(start)
			}
			b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "run-ms")
		})
		for _, r := range runtimes(b) {
			b.Run(id+"/"+r.Name, func(b *testing.B) {
				var boot, total time.Duration
				r.Boots = func(d, _ time.Duration) { boot += d }
				for b.Loop() {
					tp, err := r.Plan(sc, scenario.Knobs{})
					if err != nil {
						b.Fatal(err)
					}
					start := time.Now()
					res, err := r.Run(context.Background(), tp)
					if err != nil || !res.OK {
						b.Fatalf("%v %v", err, res)
					}
					total += time.Since(start)
				}
				b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "run-ms")
				b.ReportMetric(float64(boot.Milliseconds())/float64(b.N), "boot-ms")
			})
		}
	}
}
