package netimpair

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"

	"github.com/tcplab/tcplab/lab/harness"
)

// Sidecar is one sidecar Clean found.
type Sidecar struct {
	ID     string // the sidecar's container ID
	Target string // the impaired container's ID
	// TargetName is the impaired container's name, "" when it is gone.
	TargetName string
	// Owner is what became of the process that attached it: "live",
	// "dead" (its lock could be taken), "other host" (attached from
	// another machine against this daemon) or "no lock to test" (an
	// older tcplab's).
	Owner string
	// Restored: the sidecar was running, stopped, and restored the
	// target on its way out (exit code 0). A sidecar that was not running
	// is removed without it; its tables, if any, stay until the next
	// Attach to the target, while the queue's bypass lets packets through.
	Restored bool
}

// CleanOptions choose what Clean may remove.
type CleanOptions struct {
	// All removes every netimpair sidecar, its owner alive or not.
	All bool
	// Target restricts Clean to one impaired container's sidecars (tests).
	Target string
}

// CleanReport says what Clean removed and what it left alone.
type CleanReport struct {
	Removed, Kept []Sidecar
}

// Clean removes the sidecars whose owner is dead (the process that
// attached them was killed before Close), restoring their targets, as
// `tcplab clean` does. Sidecars of live owners, and those it cannot
// judge, are kept unless opts.All.
func Clean(ctx context.Context, opts CleanOptions) (*CleanReport, error) {
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoDocker, err)
	}
	defer cli.Close()
	f := client.Filters{}.Add("label", LabelSidecar+"=1")
	if opts.Target != "" {
		f = f.Add("label", LabelTarget+"="+opts.Target)
	}
	l, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return nil, fmt.Errorf("%w: listing sidecars: %v", ErrNoDocker, err)
	}
	rep := &CleanReport{}
	var errs []error
	for _, c := range l.Items {
		s := Sidecar{ID: c.ID, Target: c.Labels[LabelTarget]}
		if r, err := cli.ContainerInspect(ctx, s.Target, client.ContainerInspectOptions{}); err == nil {
			s.TargetName = strings.TrimPrefix(r.Container.Name, "/")
		}
		var done func()
		s.Owner, done = harness.JudgeOwner(c.Labels)
		if done == nil && !opts.All {
			rep.Kept = append(rep.Kept, s)
			continue
		}
		var err error
		s.Restored, err = removeSidecar(ctx, cli, c.ID)
		if done != nil {
			done()
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		rep.Removed = append(rep.Removed, s)
	}
	return rep, errors.Join(errs...)
}
