package harness

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

const claimEnv = "TCPLAB_TEST_HOLD_CLAIM"

// TestHoldClaim is the helper process of TestClaimOwnerKilled; it does
// nothing in a normal run.
func TestHoldClaim(t *testing.T) {
	if os.Getenv(claimEnv) != "1" {
		t.Skip("helper process of TestClaimOwnerKilled")
	}
	c, err := NewClaim()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(c.Labels())
	fmt.Printf("CLAIM %s\n", b)
	time.Sleep(time.Minute) // until the parent kills it
}

// TestClaimOwnerKilled: a claim held by a process is live to every other
// process (and to another claim of this one); once that process is
// SIGKILLed it is dead, once, and done removes its lock file. Docker-free.
func TestClaimOwnerKilled(t *testing.T) {
	own, err := NewClaim()
	if err != nil {
		t.Fatal(err)
	}
	if state, done := JudgeOwner(own.Labels()); state != "live" || done != nil {
		t.Errorf("this process's own claim: %s, want live", state)
	}
	if err := own.Release(); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(os.Args[0], "-test.run", "^TestHoldClaim$", "-test.v")
	cmd.Env = append(os.Environ(), claimEnv+"=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	var labels map[string]string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if b, ok := strings.CutPrefix(sc.Text(), "CLAIM "); ok {
			if err := json.Unmarshal([]byte(b), &labels); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	if labels == nil {
		t.Fatal("the helper printed no claim")
	}
	if state, done := JudgeOwner(labels); state != "live" || done != nil {
		t.Fatalf("a live process's claim: %s, want live", state)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	state, done := JudgeOwner(labels)
	if state != "dead" || done == nil {
		t.Fatalf("a killed process's claim: %s, want dead", state)
	}
	if again, d2 := JudgeOwner(labels); again != "live" || d2 != nil {
		t.Errorf("judged again while the first judge holds it: %s, want live (held)", again)
	}
	done()
	if _, err := os.Stat(labels[LabelLock]); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lock file after done: %v, want it removed", err)
	}
	other := map[string]string{LabelSession: "x", LabelLock: labels[LabelLock], LabelHost: "another-machine"}
	if state, _ := JudgeOwner(other); state != "other host" {
		t.Errorf("another host's claim: %s, want other host", state)
	}
}
