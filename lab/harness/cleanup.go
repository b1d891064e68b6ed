package harness

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

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
			if err := Cleanup(ctx, l.docker, LabelSession, l.session); err != nil {
				fmt.Fprintln(os.Stderr, "tcplab: clean-up:", err)
			}
		}
		os.Exit(130)
	}()
}

// sweepDead removes what earlier lab processes on this host left behind
// when they were killed outright (SIGKILL, go test's -timeout panic).
func (l *Lab) sweepDead(ctx context.Context) {
	host, _ := os.Hostname()
	f := client.Filters{}.Add("label", LabelLab+"=1").Add("label", LabelHost+"="+host)
	cs, err := l.docker.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return
	}
	dead := map[string]bool{}
	for _, c := range cs.Items {
		if pid, err := strconv.Atoi(c.Labels[LabelPID]); err == nil && !alive(pid) {
			dead[c.Labels[LabelSession]] = true
		}
	}
	ns, err := l.docker.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	if err == nil {
		for _, n := range ns.Items {
			if pid, err := strconv.Atoi(n.Labels[LabelPID]); err == nil && !alive(pid) {
				dead[n.Labels[LabelSession]] = true
			}
		}
	}
	for s := range dead {
		_ = Cleanup(ctx, l.docker, LabelSession, s)
	}
}

func alive(pid int) bool {
	return syscall.Kill(pid, 0) == nil
}

// CleanAll removes every container and network any lab process created on
// this Docker host (label tcplab=1), e.g. after a `kill -9`.
func CleanAll(ctx context.Context) error {
	cli, err := client.New(client.FromEnv)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrNoDocker, err)
	}
	defer cli.Close()
	if _, err := cli.Ping(ctx, client.PingOptions{}); err != nil {
		return fmt.Errorf("%w: %v", ErrNoDocker, firstLine(err.Error()))
	}
	return Cleanup(ctx, cli, LabelLab, "1")
}

// Cleanup removes every container and network carrying label=value.
func Cleanup(ctx context.Context, cli *client.Client, label, value string) error {
	f := client.Filters{}.Add("label", label+"="+value)
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
