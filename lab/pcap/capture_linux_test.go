package pcap_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/tcplab/tcplab/lab/pcap"
)

// A packet is stamped when it passed the tap, not when the capture read
// it: a capture process stopped for 150 ms (SIGSTOP, as a runner that
// deschedules it) still stamps a SYN sent meanwhile at its sending time.
func TestCaptureStampsInKernel(t *testing.T) {
	if dir := os.Getenv("TCPLAB_CAPTURE_CHILD"); dir != "" {
		port, _ := strconv.Atoi(os.Getenv("TCPLAB_CAPTURE_PORT"))
		ctx, cancel := context.WithCancel(context.Background())
		ready := make(chan struct{})
		done := make(chan error, 1)
		go func() { done <- pcap.Capture(ctx, "lo", uint16(port), filepath.Join(dir, "c.pcap"), ready) }()
		select {
		case <-ready:
			fmt.Println("ready")
		case err := <-done:
			fmt.Println("error:", err)
			os.Exit(0)
		}
		_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
		time.Sleep(200 * time.Millisecond) // what was sent is read by now
		cancel()
		if err := <-done; err != nil {
			fmt.Println("error:", err)
			os.Exit(0)
		}
		fmt.Println("done")
		os.Exit(0)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCaptureStampsInKernel$")
	cmd.Env = append(os.Environ(), "TCPLAB_CAPTURE_CHILD="+dir, "TCPLAB_CAPTURE_PORT="+strconv.Itoa(port))
	in, _ := cmd.StdinPipe()
	outPipe, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill() //nolint:errcheck // gone when the test passes
	out := bufio.NewReader(outPipe)
	line, err := out.ReadString('\n')
	if err != nil || line != "ready\n" {
		t.Skipf("no capture here: %q %v", line, err) // CAP_NET_RAW
	}
	if err := cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	sent := time.Now()
	c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	time.Sleep(150 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(in)
	if line, err := out.ReadString('\n'); err != nil || line != "done\n" {
		t.Fatalf("child: %q %v", line, err)
	}
	_ = cmd.Wait()
	recs, err := pcap.ReadFile(filepath.Join(dir, "c.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if r.Segment.DstPort == uint16(port) && pcap.FlagString(r.Segment.Flags) == "SYN" {
			if d := r.At.Sub(sent); d < 0 || d > 20*time.Millisecond {
				t.Fatalf("the SYN sent while the capture was stopped is stamped %v after its sending, want < 20ms", d)
			}
			return
		}
	}
	t.Fatalf("no SYN to port %d among %d packets", port, len(recs))
}
