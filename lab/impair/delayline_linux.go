package impair

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	nfqueue "github.com/florianl/go-nfqueue/v2"
	mdnetlink "github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// The delay line: a kernel without sch_netem can still hold packets. An
// nf_tables rule at prerouting (priority -300, before conntrack) queues the
// lab port's packets to NFQUEUE; this program gives each a release time and
// accepts it then. Holding on ingress, not on the sender's output, matters:
// a held outgoing packet keeps TCP small queues waiting and throughput
// collapses (0.06 MB/s at +50 ms, measured). So each side of a connection
// runs its own agent and holds its own incoming half of the round trip.
const (
	queueNum      = 7
	queueMaxLen   = 65536
	queueRcvBuf   = 16 << 20
	xtQueueBypass = 1 // NFQUEUE target flag: accept while no program listens
	// The releaser sleeps with nanosleep on its own thread (Go timers alone
	// were +0.6 to +2.2 ms late), at most this long, to notice a stop.
	sleepChunk = 20 * time.Millisecond
)

func sleep(d time.Duration) {
	ts := unix.NsecToTimespec(int64(d))
	_ = unix.Nanosleep(&ts, nil)
}

// lineParams are what the line does to each packet; Update swaps them.
type lineParams struct {
	delay, jitter time.Duration
	loss          float64
}

type heldPacket struct {
	id  uint32
	due time.Time
}

type delayLine struct {
	nf     *nfqueue.Nfqueue
	cancel context.CancelFunc
	table  string
	ports  []int        // nil: every TCP packet from another host
	peers  []netip.Addr // nil: from every host
	params atomic.Pointer[lineParams]

	mu       sync.Mutex
	held     []heldPacket // FIFO; due times never decrease, so the head is next
	last     time.Time    // due time of the newest packet: no reordering
	stopping bool         // release everything held, and each later packet in turn
	drained  bool         // stopping, and the releaser has released all: accept at once
	crashed  bool         // crash abandoned the queue; stop only removes the rules
	failure  string
	wake     chan struct{}
	quit     chan struct{}
	done     chan struct{}

	queued, released, lost, verdictErrors atomic.Uint64
	maxLate, maxReadLag                   atomic.Int64
	lateHist                              [lateBuckets + 1]atomic.Uint64 // per packet released, by lateness
	stampFD                               int                            // a socket asking for receive timestamps
	rcvBuf                                int                            // the queue socket's receive buffer, as the kernel gave it
}

// startDelayLine binds the queue first, then adds the rules: a packet is
// never queued with nobody to hold it (and the bypass flag covers a crash).
func startDelayLine(s Spec, table string) (*delayLine, error) {
	nf, err := nfqueue.Open(&nfqueue.Config{
		NfQueue:      queueNum,
		MaxQueueLen:  queueMaxLen,
		Copymode:     nfqueue.NfQnlCopyMeta,
		Flags:        nfqueue.NfQaCfgFlagGSO | nfqueue.NfQaCfgFlagFailOpen,
		AfFamily:     unix.AF_INET,
		WriteTimeout: time.Second,
	})
	if err != nil {
		return nil, fmt.Errorf("impair: delay line: opening NFQUEUE: %w", err)
	}
	if err := nf.SetOption(mdnetlink.NoENOBUFS, true); err != nil {
		nf.Close()
		return nil, fmt.Errorf("impair: delay line: %w", err)
	}
	rcv, err := setRcvBuf(nf.Con, queueRcvBuf)
	if err != nil {
		nf.Close()
		return nil, fmt.Errorf("impair: delay line: receive buffer: %w", err)
	}
	l := &delayLine{nf: nf, table: table, ports: linePorts(s), stampFD: -1, rcvBuf: rcv,
		wake: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
	l.params.Store(&lineParams{s.Delay, s.Jitter, s.Loss})
	// While any socket asks for receive timestamps the kernel stamps every
	// packet on arrival, and the queue passes the stamp on (as tcpdump does).
	if fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0); err == nil {
		if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMP, 1) == nil {
			l.stampFD = fd
		} else {
			unix.Close(fd)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	if err := nf.RegisterWithErrorFunc(ctx, l.arrive, l.readError); err != nil {
		cancel()
		nf.Close()
		return nil, fmt.Errorf("impair: delay line: binding queue %d: %w", queueNum, err)
	}
	go l.release()
	l.peers = slices.Clone(s.Peers)
	if err := addQueueRules(table, l.ports, l.peers); err != nil {
		l.shutdown()
		return nil, err
	}
	return l, nil
}

// linePorts are the ports s's queue rules match; nil for every TCP packet.
func linePorts(s Spec) []int {
	if s.AllTCP {
		return nil
	}
	return append([]int{s.Port}, s.AlsoPorts...)
}

// set changes the delay, jitter and loss of the packets that arrive from
// now on; the ports must be those the line started with.
func (l *delayLine) set(s Spec) error {
	if !slices.Equal(linePorts(s), l.ports) {
		return fmt.Errorf("impair: the delay line queues ports %v, not %v: its ports cannot change while it runs", l.ports, linePorts(s))
	}
	if !slices.Equal(s.Peers, l.peers) {
		return fmt.Errorf("impair: the delay line queues packets from %v, not %v: its peers cannot change while it runs", l.peers, s.Peers)
	}
	l.params.Store(&lineParams{s.Delay, s.Jitter, s.Loss})
	return nil
}

// arrive runs for every queued packet: drop it (loss) or schedule it.
func (l *delayLine) arrive(a nfqueue.Attribute) int {
	if a.PacketID == nil {
		return 0
	}
	id := *a.PacketID
	l.queued.Add(1)
	p := l.params.Load()
	if p.loss > 0 && rand.Float64() < p.loss {
		l.lost.Add(1)
		l.verdict(id, nfqueue.NfDrop)
		return 0
	}
	d := p.delay
	if p.jitter > 0 {
		d += time.Duration((rand.Float64()*2 - 1) * float64(p.jitter))
	}
	// The hold counts from the packet's arrival in the kernel (its receive
	// timestamp), not from when this goroutine got to read it.
	arrived := time.Now()
	if a.Timestamp != nil {
		if lag := arrived.Sub(*a.Timestamp); lag > 0 && lag < time.Second {
			arrived = arrived.Add(-lag)
			if us := int64(lag / time.Microsecond); us > l.maxReadLag.Load() {
				l.maxReadLag.Store(us)
			}
		}
	}
	due := arrived.Add(max(d, 0))
	l.mu.Lock()
	if l.drained {
		// Nothing is held and the releaser is gone: accepting now keeps
		// the arrival order. Before that a packet joins the queue's tail,
		// so it cannot overtake what is held.
		l.mu.Unlock()
		l.released.Add(1)
		l.verdict(id, nfqueue.NfAccept)
		return 0
	}
	if due.Before(l.last) {
		due = l.last
	}
	l.last = due
	l.held = append(l.held, heldPacket{id, due})
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
	return 0
}

// readError records why the queue socket failed; a deadline after cancel
// is the normal end. Timeouts and buffer overruns are not fatal.
func (l *delayLine) readError(err error) int {
	var op *mdnetlink.OpError
	if errors.As(err, &op) && (op.Timeout() || errors.Is(err, unix.ENOBUFS)) {
		select {
		case <-l.quit:
			return 1
		default:
			return 0
		}
	}
	l.mu.Lock()
	if !l.stopping && l.failure == "" {
		l.failure = "reading the queue: " + err.Error()
	}
	l.mu.Unlock()
	return 1
}

func (l *delayLine) verdict(id uint32, v int) {
	if err := l.nf.SetVerdict(id, v); err != nil {
		l.verdictErrors.Add(1)
	}
}

// release accepts each held packet at its due time. It owns an OS thread
// so that nanosleep's precision is not lost to the Go scheduler.
func (l *delayLine) release() {
	runtime.LockOSThread()
	defer close(l.done)
	for {
		l.mu.Lock()
		if len(l.held) == 0 {
			stopping := l.stopping
			l.drained = stopping
			l.mu.Unlock()
			if stopping {
				return
			}
			select {
			case <-l.wake:
			case <-l.quit:
			}
			continue
		}
		head := l.held[0]
		wait := time.Until(head.due)
		if wait > 0 && !l.stopping {
			l.mu.Unlock()
			sleep(min(wait, sleepChunk))
			continue
		}
		// Every packet due by now goes in one batch verdict: it accepts all
		// queued packets up to that id, which are exactly these (ids grow
		// in arrival order, and the queue is in arrival order).
		now, due := time.Now(), 0
		for due < len(l.held) && (l.stopping || !l.held[due].due.After(now)) {
			l.lateHist[min(max(now.Sub(l.held[due].due), 0)/lateHistStep, lateBuckets)].Add(1)
			due++
		}
		last := l.held[due-1].id
		l.held = l.held[due:]
		l.mu.Unlock()
		if late := -wait; late > 0 && int64(late/time.Microsecond) > l.maxLate.Load() {
			l.maxLate.Store(int64(late / time.Microsecond))
		}
		l.released.Add(uint64(due))
		var err error
		if due == 1 {
			err = l.nf.SetVerdict(last, nfqueue.NfAccept)
		} else {
			err = l.nf.SetVerdictBatch(last, nfqueue.NfAccept)
		}
		if err != nil {
			l.verdictErrors.Add(1)
		}
	}
}

func (l *delayLine) counters() LineCounters {
	l.mu.Lock()
	defer l.mu.Unlock()
	return LineCounters{Queued: l.queued.Load(), Released: l.released.Load(), Lost: l.lost.Load(),
		Held: len(l.held), VerdictErrors: l.verdictErrors.Load(), MaxLateUS: l.maxLate.Load(), P99LateUS: l.p99Late(),
		MaxReadLagUS: l.maxReadLag.Load(), RcvBufBytes: l.rcvBuf, Failure: l.failure}
}

// stop ends the delay line without stalling or reordering a flow: every
// held packet is released at once, and each later one as it is queued,
// in arrival order, until the flow pauses; only then do the rules go.
// Had they gone first, new packets would bypass the queue and overtake
// the held ones; had they gone mid-flow, they would overtake the packets
// still waiting in the queue socket for this program to read them (a
// busy reader lags by milliseconds, GSO packets are up to 64 KB): either
// is reordering that a bulk transfer answers with retransmissions. Then
// the queue is unbound (an unbound queue would drop what it still holds)
// and the table deleted.
func (l *delayLine) stop() error {
	l.mu.Lock()
	crashed := l.crashed
	l.mu.Unlock()
	if crashed {
		return errors.Join(flushQueueRules(l.table), deleteQueueTable(l.table))
	}
	l.releaseAll()
	l.waitPause(stopPause, stopPauseMax, l.arrivals)
	err := flushQueueRules(l.table)
	l.shutdown()
	return errors.Join(err, deleteQueueTable(l.table))
}

// crash abandons the queue as a dying consumer would: the socket closes
// with packets still held (the kernel drops them) and the rules stay, so
// the queue rule's bypass flag lets every later packet through undelayed.
func (l *delayLine) crash() {
	l.mu.Lock()
	l.failure = "the delay line died (impair.crash=kill): its queue was abandoned with packets held, and later packets bypassed it undelayed"
	l.held, l.stopping, l.crashed = nil, true, true
	l.mu.Unlock()
	l.cancel()
	l.nf.Close()
	close(l.quit)
	<-l.done
	if l.stampFD >= 0 {
		unix.Close(l.stampFD)
	}
}

// releaseAll releases every held packet at once and returns when the
// releaser has; later packets are accepted as they arrive.
func (l *delayLine) releaseAll() {
	l.mu.Lock()
	if l.stopping {
		l.mu.Unlock()
		return
	}
	l.stopping = true
	l.mu.Unlock()
	close(l.quit)
	<-l.done
}

// shutdown releases everything, drains the queue and unbinds it.
func (l *delayLine) shutdown() {
	l.releaseAll()
	// Packets queued before the rules went may still sit in the socket
	// buffer: read (and accept) until none came for 20 ms, at most 1 s.
	l.waitPause(stopPause, time.Second, nil)
	l.cancel()
	l.nf.Close()
	if l.stampFD >= 0 {
		unix.Close(l.stampFD)
	}
}
