//go:build unix

package runner

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A process stopped for 100 ms (SIGSTOP, as a runner that deschedules it)
// finds its timers that much late: the watch sees what no delay line's
// counters can.
func TestLateWatchSeesAStop(t *testing.T) {
	if os.Getenv("TCPLAB_WATCH_CHILD") == "1" {
		w := watchLateness()
		time.Sleep(3 * watchTick)
		fmt.Println("ready")
		_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
		fmt.Println(w.Stop())
		os.Exit(0)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestLateWatchSeesAStop$")
	cmd.Env = append(os.Environ(), "TCPLAB_WATCH_CHILD=1")
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	outPipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill() //nolint:errcheck // gone already when the test passes
	out := bufio.NewReader(outPipe)
	if line, err := out.ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("child: %q, %v", line, err)
	}
	const stopped = 100 * time.Millisecond
	if err := cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	time.Sleep(stopped)
	if err := cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(in)
	line, err := out.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	late, err := strconv.ParseFloat(strings.TrimSpace(line), 64)
	if err != nil {
		t.Fatalf("child said %q", line)
	}
	// The timer due during the stop fired after it, about the stop late.
	// Half of it is asked: kill returns before a busy child's threads are
	// all stopped, so the stop may begin late.
	if want := msFine(stopped / 2); late < want {
		t.Errorf("a process stopped %v: timers %.2f ms late at the most, want ≥ %.2f ms", stopped, late, want)
	}
	_ = cmd.Wait()
}
