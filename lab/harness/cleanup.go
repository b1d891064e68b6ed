package harness

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/gofrs/flock"
	"github.com/moby/moby/client"
)

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }

// installInterruptCleanup removes this process's containers and networks on
// Ctrl-C or SIGTERM before exiting: go test's own clean-ups do not run then.
func installInterruptCleanup(l *Lab) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		sig := <-ch
		fmt.Fprintf(os.Stderr, "tcplab: %v: removing the lab's containers and networks\n", sig)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// Containers first (a network in use cannot be removed); twice, in
		// case a container was being created while the first pass ran.
		for range 2 {
			if err := removeSession(ctx, l.docker, l.session); err != nil {
				fmt.Fprintln(os.Stderr, "tcplab: clean-up:", err)
			}
		}
		_ = l.sess.release()
		os.Exit(130)
	}()
}

// Close removes whatever this process's session still has in Docker and
// ends the session (its lock file goes too).
func (l *Lab) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := removeSession(ctx, l.docker, l.session)
	return errors.Join(err, l.sess.release())
}

// SessionLeft is what one session has in Docker.
type SessionLeft struct {
	ID         string
	Host       string
	State      string // live, dead, other host, no lock to test
	Containers []string
	Networks   []string
}

// CleanReport says what a clean removed and what it left alone, and why.
type CleanReport struct {
	Removed []SessionLeft // dead sessions (or every session, with All)
	Kept    []SessionLeft // live, other hosts', unowned
	Locks   int           // stale lock files of sessions that left nothing
	Scratch int           // build directories of processes killed before a run (SweepScratch)
}

// CleanOptions choose what a clean may remove.
type CleanOptions struct {
	// All removes every session's containers and networks, live or not and
	// from whichever host (the old `clean`): for a daemon shared with other
	// machines only when you know none of them is running the lab.
	All bool
	// Only restricts the clean to one session (tests).
	Only string
}

// Clean removes the containers and networks of dead lab sessions: those
// created on this host by a process that no longer holds its session lock.
// Live sessions, and sessions another machine started against this (remote)
// daemon, are left alone unless opts.All.
func Clean(ctx context.Context, opts CleanOptions) (*CleanReport, error) {
	if _, err := useEndpoint(); err != nil {
		return nil, err
	}
	cli, err := client.New(client.FromEnv)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoDocker, err)
	}
	defer cli.Close()
	if _, err := cli.Ping(ctx, client.PingOptions{}); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoDocker, firstLine(err.Error()))
	}
	return clean(ctx, cli, opts, "")
}

// clean is Clean on an open client; self (this process's session) is
// always live.
func clean(ctx context.Context, cli *client.Client, opts CleanOptions, self string) (*CleanReport, error) {
	f := client.Filters{}.Add("label", LabelLab+"=1")
	if opts.Only != "" {
		f = f.Add("label", LabelSession+"="+opts.Only)
	}
	cs, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return nil, err
	}
	ns, err := cli.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	if err != nil {
		return nil, err
	}
	sessions := map[string]*SessionLeft{}
	labels := map[string]map[string]string{}
	get := func(l map[string]string) *SessionLeft {
		id := l[LabelSession]
		if s, ok := sessions[id]; ok {
			return s
		}
		s := &SessionLeft{ID: id, Host: l[LabelHost]}
		sessions[id], labels[id] = s, l
		return s
	}
	for _, c := range cs.Items {
		s := get(c.Labels)
		s.Containers = append(s.Containers, c.ID)
	}
	for _, n := range ns.Items {
		s := get(n.Labels)
		s.Networks = append(s.Networks, n.ID)
	}
	host, _ := os.Hostname()
	dir := SessionDir()
	rep := &CleanReport{}
	var errs []error
	for _, id := range sortedKeys(sessions) {
		s := sessions[id]
		state, lock := dead, (*flock.Flock)(nil)
		switch {
		case self != "" && id == self:
			state = live
		case !opts.All:
			state, lock = judge(labels[id], host, dir)
		}
		s.State = state.String()
		if state != dead {
			rep.Kept = append(rep.Kept, *s)
			continue
		}
		errs = append(errs, removeSession(ctx, cli, id))
		if lock != nil {
			bury(lock)
		}
		rep.Removed = append(rep.Removed, *s)
	}
	if opts.Only == "" {
		rep.Locks = sweepLocks(dir, self)
		rep.Scratch = SweepScratch()
	}
	return rep, errors.Join(errs...)
}

// sweepLocks removes the lock files of dead sessions that left nothing in
// Docker. A file younger than lockGrace is spared: its session may have
// created it and not yet locked it.
func sweepLocks(dir, self string) int {
	files, _ := filepath.Glob(filepath.Join(dir, "*.lock"))
	n := 0
	for _, path := range files {
		st, err := os.Stat(path)
		if err != nil || time.Since(st.ModTime()) < lockGrace || strings.TrimSuffix(filepath.Base(path), ".lock") == self {
			continue
		}
		l := flock.New(path)
		if ok, err := l.TryLock(); err == nil && ok {
			bury(l)
			n++
		}
	}
	return n
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// sweepDead removes what dead sessions on this host left behind (SIGKILL,
// go test's -timeout panic) before this one starts.
func (l *Lab) sweepDead(ctx context.Context) {
	_, _ = clean(ctx, l.docker, CleanOptions{}, l.session)
}

// removeSession removes every container, then every network, of session
// id: a network in use cannot be removed.
func removeSession(ctx context.Context, cli *client.Client, id string) error {
	f := client.Filters{}.Add("label", LabelSession+"="+id)
	var errs []error
	cs, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return err
	}
	for _, c := range cs.Items {
		_, err := cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
		errs = append(errs, err)
	}
	ns, err := cli.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	if err != nil {
		return err
	}
	for _, n := range ns.Items {
		_, err := cli.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{})
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
