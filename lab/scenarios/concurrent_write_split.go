package scenarios

import (
	"time"

	"github.com/tcplab/tcplab/lab/scenario"
)

// concurrentWriteSplit: as concurrent-write, but each message is a header
// Write followed by its payload in client.piece-byte Writes. The fd lock is
// released between Writes, so other goroutines' pieces land inside the
// message: the contrast to concurrent-write.
var concurrentWriteSplit = &scenario.Scenario{
	ID:      "concurrent-write-split",
	Section: "3 Read and Write",
	Title:   "K goroutines share a conn, each message in several Writes: messages interleave",
	Timeout: 90 * time.Second,
	Weight:  fixed(3900 * time.Millisecond),
	Knobs: append([]scenario.Knob{
		{Name: "client.piece", Default: "4096", Kind: scenario.Int, Min: 16, Max: 1 << 20, Help: "bytes per Write (a multiple of 16)"},
	}, concurrentWriteKnobs...),
	Obs:      scenario.ObsOf[ConcurrentWriteObs](),
	Server:   readAndCheck,
	Client:   concurrentWriteDriver(true),
	Verdicts: concurrentWriteVerdicts(true),
	Article:  "the article warned a message split over several Writes is not contiguous; the lab counts the interleaved ones",
}
