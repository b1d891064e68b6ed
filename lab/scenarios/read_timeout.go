package scenarios

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/tcplab/tcplab/lab/scenario"
)

// readTimeout answers the article's open question with a count: can a Read
// return data and a timeout together? Each trial asks the server for 65536
// bytes and at once Reads with a 10 µs deadline, so whether data is there
// yet is a race. Go returns the timeout only when read(2) said EAGAIN (or
// the deadline had passed before it tried), so n>0 with a timeout should
// never be seen. After every trial the rest is drained, which is also the
// proof that the conn works after a timeout.
var readTimeout = &scenario.Scenario{
	ID:      "read-timeout",
	Section: "3 Read and Write",
	Title:   "65536 bytes against a 10 µs read deadline, K trials: (0, timeout) or (n>0, nil), never both",
	Timeout: 60 * time.Second,
	Knobs: []scenario.Knob{
		{Name: "client.trials", Default: "1000", Kind: scenario.Int, Min: 1, Max: 100000},
		{Name: "client.read_deadline", Default: "10us", Kind: scenario.Duration, Min: 0, Max: 1},
		{Name: "client.size", Default: "65536", Kind: scenario.Int, Min: 1, Max: 1 << 20, Help: "bytes the server sends per trial, and the read buffer"},
	},
	Obs: scenario.ObsOf[ReadTimeoutObs](),
	Server: func(s *scenario.ServerEnv) error {
		return acceptWith(s, func(c net.Conn) {
			data := make([]byte, s.Knobs.Int("client.size"))
			for i := 0; ; i++ {
				if s.Await("send"+strconv.Itoa(i)) != nil {
					return
				}
				if _, err := c.Write(data); err != nil {
					return
				}
			}
		})
	},
	Client: func(e *scenario.Env) error {
		k := e.Knobs.Int("client.trials")
		dl := e.Knobs.Duration("client.read_deadline")
		size := e.Knobs.Int("client.size")
		c, err := dialTCP(e)
		if err != nil {
			return err
		}
		defer c.Close()
		buf := make([]byte, size)
		var zeroTimeout, dataNil, dataTimeout, other, partial, timeoutWithData, idleLate int
		var odd []string
		// No Read may hang: this bound stays until a trial sets its own.
		if err := c.SetReadDeadline(time.Now().Add(step)); err != nil {
			return err
		}
		for i := range k {
			// Before anything is asked for, the trial's deadline alone must
			// end a Read: (0, timeout), late only by scheduling. Only then
			// does the race below say anything about the deadline.
			if err := c.SetReadDeadline(time.Now().Add(dl)); err != nil { // the idle Read's
				return err
			}
			t0 := time.Now()
			n, err := c.Read(buf)
			if idle := time.Since(t0); n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) || idle > dl+idleSlack {
				idleLate++
				odd = append(odd, fmt.Sprintf("trial %d, nothing asked for: n=%d err=%v after %v", i, n, err, idle))
				break
			}
			if err := e.Signal("send" + strconv.Itoa(i)); err != nil {
				return err
			}
			if err := c.SetReadDeadline(time.Now().Add(dl)); err != nil {
				return err
			}
			n, err = c.Read(buf)
			timeout := errors.Is(err, os.ErrDeadlineExceeded)
			switch {
			case n == 0 && timeout:
				zeroTimeout++
				if inq, _, _ := queues(c); inq > 0 {
					timeoutWithData++
				}
			case n > 0 && err == nil:
				dataNil++
				if n < size {
					partial++
				}
			case n > 0 && timeout:
				dataTimeout++
			default:
				other++
				odd = append(odd, fmt.Sprintf("trial %d: n=%d err=%v", i, n, err))
			}
			if other > 0 {
				break
			}
			// Drain the rest: after a timeout this Read is the conn's next use.
			if err := c.SetReadDeadline(time.Now().Add(step)); err != nil {
				return err
			}
			if _, err := io.ReadFull(c, buf[:size-n]); err != nil {
				return fmt.Errorf("trial %d (n=%d, timeout=%v): draining the rest failed: %w", i, n, timeout, err)
			}
		}
		// A timeout that is certain (nothing was asked for), then a full
		// read on the same conn: a deadline does not spoil the conn.
		if err := c.SetReadDeadline(time.Now().Add(dl)); err != nil {
			return err
		}
		n0, errT := c.Read(buf)
		if err := e.Signal("send" + strconv.Itoa(k)); err != nil {
			return err
		}
		if err := c.SetReadDeadline(time.Now().Add(step)); err != nil {
			return err
		}
		nAfter, errAfter := io.ReadFull(c, buf)
		if err := e.Record(&ReadTimeoutObs{Trials: k, ReadDeadlineUS: dl.Microseconds(), ZeroTimeout: zeroTimeout, DataNil: dataNil,
			DataTimeout: dataTimeout, Other: other, PartialReads: partial, TimeoutsWithDataQueuedAfter: timeoutWithData,
			IdleTimeout: scenario.Classify(errT), ReadAfterTimeout: nAfter}); err != nil {
			return err
		}
		e.Expect("with nothing to read, each trial's deadline ends the Read (0, timeout) within 250 ms", idleLate == 0, "%v", odd)
		e.Expect("every trial is (0, timeout) or (n>0, nil)", other == 0, "%d others: %v", other, odd)
		e.Expect("never data and a timeout together", dataTimeout == 0, "(n>0, timeout) in %d of %d trials", dataTimeout, k)
		e.Expect("a Read with nothing to read times out with n=0", n0 == 0 && errors.Is(errT, os.ErrDeadlineExceeded), "n=%d err=%v", n0, errT)
		e.Expect("the conn is usable after a timeout", errAfter == nil && nAfter == size, "read %d of %d after the timeout: %v", nAfter, size, errAfter)
		e.Headline("%d trials, %v deadline: (0,timeout) %d, (n>0,nil) %d [%d partial], (n>0,timeout) %d",
			k, dl, zeroTimeout, dataNil, partial, dataTimeout)
		return nil
	},
	Article: "one (0, timeout), one (65536, nil); never saw data with a timeout, but could not say it cannot happen",
}

// idleSlack bounds how late a Read with nothing to read may return after
// its deadline: scheduling on a busy 2-core machine, as elsewhere in the lab.
const idleSlack = 250 * time.Millisecond

// ReadTimeoutObs is what read-timeout observed: how the trials' Reads ended.
type ReadTimeoutObs struct {
	Trials         int   `json:"trials"`
	ReadDeadlineUS int64 `json:"read_deadline_us"`
	ZeroTimeout    int   `json:"zero_timeout"` // (0, timeout)
	DataNil        int   `json:"data_nil"`     // (n>0, nil)
	DataTimeout    int   `json:"data_timeout"` // (n>0, timeout): never expected
	Other          int   `json:"other"`        // anything else; the run stops at the first
	PartialReads   int   `json:"partial_reads"`
	// TimeoutsWithDataQueuedAfter counts timeouts after which data was
	// already queued when looked at: it arrived just after the deadline.
	TimeoutsWithDataQueuedAfter int              `json:"timeouts_with_data_queued_after"`
	IdleTimeout                 scenario.ErrInfo `json:"idle_timeout"`       // a Read with nothing asked for
	ReadAfterTimeout            int              `json:"read_after_timeout"` // bytes of a full read after it
}
