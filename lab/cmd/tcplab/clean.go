//go:build !container

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/tcplab/tcplab/lab/harness"
	"github.com/tcplab/tcplab/lab/netimpair"
)

// cleanCmd removes what dead sessions left: a session is dead when the
// lock it holds for its whole life can be taken (see harness.Clean); and
// lab/netimpair's sidecars whose owner is dead, restoring their targets
// (netimpair.Clean).
func cleanCmd(args []string) {
	all, err := parseClean(args)
	if err != nil {
		fail(2, "tcplab clean: usage: tcplab clean [--all]")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rep, err := harness.Clean(ctx, harness.CleanOptions{All: all})
	if rep == nil {
		fail(1, "tcplab clean: "+err.Error())
	}
	for _, s := range rep.Removed {
		fmt.Printf("removed session %s (%s, host %s): %d containers, %d networks\n", s.ID, s.State, s.Host, len(s.Containers), len(s.Networks))
	}
	for _, s := range rep.Kept {
		if s.ID == "" {
			s.ID = "(none: compose's)"
		}
		fmt.Printf("kept session %s (%s, host %s): %d containers, %d networks\n", s.ID, s.State, s.Host, len(s.Containers), len(s.Networks))
	}
	if rep != nil && rep.Locks > 0 {
		fmt.Printf("removed %d lock files of dead sessions that left nothing\n", rep.Locks)
	}
	if rep != nil && rep.Scratch > 0 {
		fmt.Printf("removed %d build directories of tcplab processes killed before their run\n", rep.Scratch)
	}
	irep, ierr := netimpair.Clean(ctx, netimpair.CleanOptions{All: all})
	printImpairClean(os.Stdout, irep)
	if err = errors.Join(err, ierr); err != nil {
		fail(1, "tcplab clean: "+err.Error())
	}
	if (len(rep.Kept) > 0 || len(irep.Kept) > 0) && !all {
		fmt.Println("tcplab clean: live sessions, and sessions another machine runs against this daemon, are left alone; --all removes them too")
	}
	fmt.Printf("tcplab clean: removed %d dead sessions, kept %d; removed %d impairment sidecars, kept %d\n",
		len(rep.Removed), len(rep.Kept), len(irep.Removed), len(irep.Kept))
}

// printImpairClean says which lab/netimpair sidecars a clean removed (their
// owner dead: killed before Close) and which it kept.
func printImpairClean(w io.Writer, rep *netimpair.CleanReport) {
	if rep == nil {
		return
	}
	name := func(s netimpair.Sidecar) string {
		if s.TargetName != "" {
			return s.TargetName
		}
		return short(s.Target) + " (gone)"
	}
	for _, s := range rep.Removed {
		how := "target restored"
		switch {
		case s.Restored:
		case s.TargetName == "":
			how = "its target is gone"
		default:
			how = "it was not running: its tables, if any, go at the next attach"
		}
		fmt.Fprintf(w, "removed impairment sidecar %s of %s (owner %s): %s\n", short(s.ID), name(s), s.Owner, how)
	}
	for _, s := range rep.Kept {
		fmt.Fprintf(w, "kept impairment sidecar %s of %s (owner %s)\n", short(s.ID), name(s), s.Owner)
	}
}

func short(id string) string { return id[:min(12, len(id))] }

// parseClean parses "[--all]".
func parseClean(args []string) (all bool, err error) {
	fs := newFlags("clean")
	fs.BoolVar(&all, "all", false, "remove every session's containers and networks, live or not, from any host")
	fs.BoolVar(&all, "force", false, "same as --all")
	if err := fs.Parse(args); err != nil {
		return false, err
	}
	return all, noArgs(fs.Args())
}
