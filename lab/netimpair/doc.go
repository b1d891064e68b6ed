// Package netimpair puts a real, packet-level network in front of any
// container in your tests: added round-trip time with jitter, packet loss
// and a rate limit, on the TCP handshake as on every later round trip,
// changed atomically mid-test, on kernels with or without sch_netem.
//
// It is tcplab's impairment (lab/impair) for containers that are not the
// lab's: your Redis, HTTP service or gRPC server, started with
// testcontainers-go or by docker run. Unlike a userspace proxy it needs
// no change of address in your application, delays the handshake too, and
// drops real packets, so TCP's own recovery is what you measure.
//
// # Use
//
//	ctr, _ := testcontainers.Run(ctx, "my-service:dev")
//	h := netimpair.AttachForTest(t, ctr, netimpair.RTT(40*time.Millisecond), netimpair.Loss(0.01))
//	// … every TCP round trip with ctr now takes 40 ms more; 1 % of the
//	// packets into ctr are dropped
//	h.Set(ctx, netimpair.RTT(100*time.Millisecond)) // established connections too
//
// or from the container's start, as a testcontainers customizer:
//
//	imp := netimpair.WithImpairment(netimpair.RTT(40 * time.Millisecond))
//	ctr, err := testcontainers.Run(ctx, "my-service:dev", imp)
//	// imp.Handle() is the handle; ctr.Terminate closes it
//
// # How
//
// Attach starts a sidecar container in the target's network namespace
// (NetworkMode container:<target>) with CAP_NET_ADMIN and no other
// capability, nothing privileged. It runs tcplab's static binary from an
// image built FROM scratch, by default compiled from this module's source
// with your Go toolchain and cached by its hash (no registry is needed),
// or the image SidecarImage names. The sidecar applies the impairment given
// on its command line before it says it is ready, so Attach is one
// container start (about a quarter of a second on a 2-core Linux host).
// Later the handle controls it with docker exec through a unix socket in
// the sidecar's own filesystem: nothing listens in the target's namespace,
// and it works where the host cannot reach container addresses (Docker
// Desktop).
//
// The sidecar touches only what it creates: the nf_tables tables
// "netimpair", "netimpair_delay" and "netimpair_out" (ip family) and a root qdisc with
// handle 7f: on eth0. It refuses to replace a root qdisc it did not add,
// never flushes another table, and leaves routes alone. Close (or stopping
// the sidecar, which it takes as SIGTERM) releases every
// packet it holds at once (later ones in arrival order, so nothing is
// reordered), then, once the traffic pauses for 20 ms (at most 5 s),
// removes its rules and deletes its tables and qdisc.
//
// # Owners and orphans
//
// The process that attaches owns the sidecar: from before the sidecar is
// created until Close has removed it, the handle holds an exclusive lock
// on a file of its own (harness.Claim, the lab sessions' lock, in
// os.UserCacheDir()/tcplab/sessions), and the sidecar's labels name that
// file and this host. The operating system drops the lock when the
// process ends, however it ends (SIGKILL, a go test -timeout panic), so
// "can the lock be taken?" tells a dead owner from a live one without a
// timeout and without trusting a PID that may have been reused.
//
// A killed owner's sidecar is an orphan: it keeps the impairment in force.
// The next Attach to the same container finds it, takes its dead owner's
// lock, stops it (on SIGTERM the sidecar restores the namespace: rules,
// held packets, table, qdisc) and removes it, then attaches as usual.
// `tcplab clean` (Clean) removes every orphan the same way and says what it
// removed. A sidecar whose owner lives, another process or another handle
// in this one, is refused with ErrAttached and kept by Clean; so are
// sidecars attached from another machine against the same daemon, and an
// older tcplab's, which name no lock (ReplaceExisting, or
// `tcplab clean --all`, removes those).
//
// # Measuring what it does
//
// RTT reads, from inside the target's namespace, the round-trip time the
// target's own TCP stack measured on each of its established connections
// (TCP_INFO by sock_diag, as ss -ti): tcpi_min_rtt, the least sample of
// the last 5 minutes, and tcpi_rtt, the smoothed one. It sends nothing;
// a connection made before Attach keeps its unimpaired minimum.
//
// An HTTP service, measured from the test (TestHTTPService does this with a
// static server built FROM scratch):
//
//	h := netimpair.AttachForTest(t, ctr, netimpair.RTT(50*time.Millisecond))
//	client := &http.Client{}
//	start := time.Now()
//	resp, err := client.Get(url) // a fresh connection: ≥ 2 round trips, ≥ 100 ms
//	...
//	r, err := h.RTT(ctx) // the server's view of its connections
//	// r.MinRTT ≥ 50 ms; r.Conns[i].Remote is the client's address
//	h.Set(ctx, netimpair.RTT(10*time.Millisecond), netimpair.Loss(0.1))
//	c, err := h.Counters(ctx) // c.Dropped of c.Queued: Binomial(Queued, 0.1)
//
// # What each option does, and where
//
// The target is one end of every connection it has, so one sidecar on the
// target's side gives a whole round trip: every round trip between the
// target and a peer carries exactly one packet into the target (the SYN or
// the SYN-ACK, a request or a reply) and one out of it.
//
//   - RTT and Jitter: with the delay line (kernels without sch_netem, or
//     WithMechanism(DelayLine)), each TCP packet into the target from
//     another host is held for RTT ± Jitter (uniform) before the target's
//     stack sees it; packets are never reordered. A dial to the target
//     connects after RTT; a dial from the target connects after RTT. With
//     netem, each packet out of eth0 is delayed the same way.
//   - Loss: this fraction of the same packets (into the target with the
//     delay line, out of it with netem) is dropped. One direction only,
//     so a round trip loses a packet with probability Loss.
//   - LossOut: this fraction of the TCP packets out of the target is
//     dropped, whatever the mechanism: an nf_tables rule on output picks
//     them and queues them to NFQUEUE, where the sidecar drops them, so
//     the target's TCP takes each for sent and recovers it as a loss on
//     the wire. With the delay line, Loss and LossOut give each direction
//     its own loss.
//   - Rate: a token bucket (TBF) on eth0's egress: what the target sends.
//     With netem it is netem's rate.
//   - Ports: only TCP packets to or from these ports are delayed and lost
//     (the target's listening ports, or a remote service's). Default: all
//     TCP from other hosts. Loopback is never delayed. netem cannot select
//     ports: with Ports, Auto takes the delay line.
//   - Peers: only packets from these IPv4 addresses into the target are
//     delayed and lost, so only the round trips with those peers (a
//     client container, the host's bridge address). Default: every peer.
//     Delay line only, as Ports; Rate cannot select peers.
//
// # Limits
//
//   - IPv4 TCP only; UDP and IPv6 pass undelayed (the delay line's table
//     is ip family).
//   - One interface: eth0's qdisc carries Rate (and netem); the delay line
//     covers every interface but lo.
//   - The sidecar needs NET_ADMIN over the target's namespace, and NFQUEUE
//     (delay line) or sch_netem. Where it may not force its queue's
//     receive buffer past net.core.rmem_max (rootless Docker), the buffer
//     is rmem_max's (Counters' RcvBufBytes says which).
//   - A killed test process leaves the sidecar (and its impairment) in
//     place until the next Attach to that container or `tcplab clean`
//     (see Owners and orphans). A sidecar that was itself killed cannot
//     restore the namespace: its tables stay (its queue's bypass lets
//     packets through undelayed) until the next Attach's sidecar starts.
//   - Precision is tcplab's delay line's (docs/impairment.md): on an idle
//     machine the median lies within about +0.5 ms of the asked RTT; the
//     tail is the scheduler's.
package netimpair
