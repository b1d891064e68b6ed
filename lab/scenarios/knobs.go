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
