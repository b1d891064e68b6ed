package scenarios

import "github.com/tcplab/tcplab/lab/scenario"

// Knobs that several scenarios declare alike, each declared once here: the
// same name, default, range and help wherever it is offered. A scenario's
// own knobs stay in its file.

// knobPart is the size of each of the two Writes of a request, which
// answerTwoParts reads too (opt-nodelay, latency-nodelay).
var knobPart = scenario.Knob{Name: "client.part", Default: "16", Kind: scenario.Int, Min: 1, Max: 512, Help: "bytes in each of the two Writes"}

// knobChunk is the size of each Write of a write scenario.
var knobChunk = scenario.Knob{Name: "client.chunk", Default: "65536", Kind: scenario.Int, Min: 1, Max: 16 << 20, Help: "bytes per Write (the article's 64 KiB)"}

// knobSinkReadBuffer is the SO_RCVBUF the sink sets on its listener.
var knobSinkReadBuffer = scenario.Knob{Name: "server.read_buffer", Default: "0", Kind: scenario.Int, Min: 0, Max: 64 << 20, Help: "SO_RCVBUF (as SetReadBuffer) on the listener; 0: not set"}

// knobSerialDialTimeout bounds each of a driver's serial dials below the
// first SYN retransmission (1 s): a dial that is not answered at once ends
// at its deadline having sent one SYN (backlog-full, proxy-backlog).
var knobSerialDialTimeout = scenario.Knob{Name: "client.dial_timeout", Default: "500ms", Kind: scenario.Duration, Min: 0.05, Max: 0.99,
	Help: "bound of each serial dial; below the 1 s SYN retransmission"}

// knobLatencyRTT is the RTT the latency scenarios add by default
// (latency-dial, latency-bdp, latency-nodelay).
var knobLatencyRTT = withDefault("impair.rtt", "50ms")
