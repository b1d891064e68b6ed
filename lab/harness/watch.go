package harness

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/moby/moby/client"

	"github.com/tcplab/tcplab/lab/scenario"
)

// Sealed watches, for as long as it runs, every network the daemon
// creates: one that carries a lab label (any session's, compose's) must be
// internal, or be the published-port network, which says so in its label.
// A look at the end of each test sees only what still exists; this sees
// each network the moment it is made, whoever made it.
type Sealed struct {
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	bad    []string
	err    error
	seen   int
	keys   []string
}

// WatchSealed starts watching the daemon the environment names, for
// networks that carry any of the label keys (default: the lab's and the
// session's).
func WatchSealed(ctx context.Context, keys ...string) (*Sealed, error) {
	if len(keys) == 0 {
		keys = []string{LabelLab, LabelSession}
	}
	cli, err := client.New(client.FromEnv)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	ev := cli.Events(ctx, client.EventsListOptions{Filters: client.Filters{}.Add("type", "network").Add("event", "create")})
	s := &Sealed{cancel: cancel, done: make(chan struct{}), keys: keys}
	go func() {
		defer close(s.done)
		defer cli.Close()
		for {
			select {
			case m := <-ev.Messages:
				s.check(ctx, cli, m.Actor.ID)
			case err := <-ev.Err:
				if ctx.Err() == nil {
					s.mu.Lock()
					s.err = err
					s.mu.Unlock()
				}
				return
			}
		}
	}()
	return s, nil
}

func (s *Sealed) check(ctx context.Context, cli *client.Client, id string) {
	n, err := cli.NetworkInspect(ctx, id, client.NetworkInspectOptions{})
	if err != nil {
		return // gone already: nothing could have used it
	}
	l := n.Network.Labels
	if !slices.ContainsFunc(s.keys, func(k string) bool { return l[k] != "" }) {
		return // not the lab's
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seen++
	if !n.Network.Internal && l[scenario.LabelPublished] != "true" {
		s.bad = append(s.bad, fmt.Sprintf("network %s (%.12s, labels %v) is neither internal nor the published-port network", n.Network.Name, id, l))
	}
}

// Seen is how many lab networks the watch has inspected so far.
func (s *Sealed) Seen() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seen
}

// Stop ends the watch and returns how many lab networks it saw and the
// ones that had a way out; err if the event stream broke.
func (s *Sealed) Stop() (seen int, bad []string, err error) {
	s.cancel()
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seen, s.bad, s.err
}
