package netimpair_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"testing"
	"time"

	"github.com/testcontainers/testcontainers-go"

	"github.com/tcplab/tcplab/lab/netimpair"
)

// Put 40 ms of round-trip time and 1 % loss in front of a container you
// already run, change it mid-test, and restore it. The Examples need
// Docker, so they have no output to check.
func ExampleAttach() {
	ctx := context.Background()
	ctr, err := testcontainers.Run(ctx, "my-service:dev") // your service
	if err != nil {
		log.Fatal(err)
	}
	defer func() {
		if err := testcontainers.TerminateContainer(ctr); err != nil {
			log.Print(err)
		}
	}()

	h, err := netimpair.Attach(ctx, ctr, netimpair.RTT(40*time.Millisecond), netimpair.Loss(0.01))
	if err != nil {
		log.Fatal(err)
	}
	defer h.Close(ctx)
	fmt.Println("impaired by", h.Mechanism()) // delayline where the kernel has no sch_netem

	// … run your client against ctr: every round trip takes 40 ms more,
	// the handshake included.

	// Established connections see a change at once.
	if err := h.Set(ctx, netimpair.RTT(200*time.Millisecond), netimpair.Jitter(20*time.Millisecond)); err != nil {
		log.Fatal(err)
	}
	c, err := h.Counters(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("held %d packets, dropped %d, latest release %v late\n", c.Queued, c.Dropped, c.MaxLate)
}

// In a test, AttachForTest fails the test when it cannot attach and
// restores the container at the test's end.
func ExampleAttachForTest() {
	testSlowNetwork := func(t *testing.T) {
		ctx := context.Background()
		ctr, err := testcontainers.Run(ctx, "my-http-service:dev", testcontainers.WithExposedPorts("8080/tcp"))
		testcontainers.CleanupContainer(t, ctr)
		if err != nil {
			t.Fatal(err)
		}
		netimpair.AttachForTest(t, ctr, netimpair.RTT(100*time.Millisecond), netimpair.Ports(8080))
		url, err := ctr.PortEndpoint(ctx, "8080/tcp", "http")
		if err != nil {
			t.Fatal(err)
		}
		client := &http.Client{Timeout: 150 * time.Millisecond} // one round trip to connect, one to ask
		if _, err := client.Get(url); err == nil {
			t.Error("a 150 ms timeout held at +100 ms RTT")
		}
	}
	_ = testSlowNetwork
}

// WithImpairment puts the impairment in force from the container's start,
// before its wait strategy runs, and closes it when the container is
// terminated.
func ExampleWithImpairment() {
	ctx := context.Background()
	imp := netimpair.WithImpairment(netimpair.RTT(50*time.Millisecond), netimpair.Rate(8_000_000))
	ctr, err := testcontainers.Run(ctx, "my-service:dev", imp)
	if err != nil {
		log.Fatal(err)
	}
	defer func() { // terminating the container closes the impairment too
		if err := testcontainers.TerminateContainer(ctr); err != nil {
			log.Print(err)
		}
	}()
	fmt.Println(imp.Handle())
}

// Containers started by docker run or compose are attached by name.
func ExampleAttachID() {
	ctx := context.Background()
	h, err := netimpair.AttachID(ctx, "compose-app-1", netimpair.RTT(50*time.Millisecond), netimpair.ReplaceExisting())
	if err != nil {
		log.Fatal(err)
	}
	defer h.Close(ctx)
}

// RTT is the target's own measure of its connections: check that the
// impairment gives what you asked, from the service's side.
func ExampleHandle_RTT() {
	ctx := context.Background()
	h, err := netimpair.AttachID(ctx, "my-http-service", netimpair.RTT(50*time.Millisecond))
	if err != nil {
		log.Fatal(err)
	}
	defer h.Close(ctx)
	// … make requests to the service, then:
	r, err := h.RTT(ctx)
	if err != nil {
		log.Fatal(err) // ErrNoConnections when there is none
	}
	for _, c := range r.Conns {
		fmt.Printf("%v: min %v, smoothed %v ± %v\n", c.Remote, c.MinRTT, c.SRTT, c.RTTVar)
	}
}

// Clean removes the sidecars of processes killed before Close, as
// `tcplab clean` does; the next Attach to such a container does it too.
func ExampleClean() {
	rep, err := netimpair.Clean(context.Background(), netimpair.CleanOptions{})
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range rep.Removed {
		fmt.Printf("removed the sidecar of %s (owner %s), restored: %v\n", s.TargetName, s.Owner, s.Restored)
	}
}
