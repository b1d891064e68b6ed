//go:build linux

package runner

import (
	"context"
	"net"
	"testing"
	"time"
)

// settle waits while a connection to the port can still send, and returns
// once every one is closed: the probe's leftovers never reach a scenario's
// namespace counters.
func TestSettle(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const max = 300 * time.Millisecond
	start := time.Now()
	settle(ctx, port, max)
	if took := time.Since(start); took < max {
		t.Fatalf("settle returned after %v with an established connection to port %d; want the whole %v", took, port, max)
	}
	c.Close() // FIN_WAIT2 once acked, then TIME_WAIT: quiet
	s.Close()
	start = time.Now()
	settle(ctx, port, 5*time.Second)
	if took := time.Since(start); took > time.Second {
		t.Fatalf("settle waited %v for closed connections", took)
	}
}
