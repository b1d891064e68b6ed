// Command slowdocker is a Docker API proxy on a unix socket that holds
// every request for a fixed delay before passing it on: a daemon made slow
// on purpose, to prove the lab's runs wait for a slow daemon rather than
// fail (a run's budget counts its own work, and each call is its work).
//
//	go run ./tests/slowdocker -listen /tmp/slow.sock -delay 200ms &
//	DOCKER_HOST=unix:///tmp/slow.sock go test ./...
//
// Streams (logs that follow, events, the wait for an exit) and upgraded
// connections pass through unbuffered. It stops on SIGINT or SIGTERM, or
// after -for.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	listen := flag.String("listen", "", "unix socket to serve on (removed first, and at exit)")
	upstream := flag.String("upstream", "/var/run/docker.sock", "the real daemon's unix socket")
	delay := flag.Duration("delay", 200*time.Millisecond, "how long every request is held")
	life := flag.Duration("for", time.Hour, "exit after this long")
	flag.Parse()
	if *listen == "" || *delay < 0 {
		fmt.Fprintln(os.Stderr, "slowdocker: usage: slowdocker -listen SOCKET [-upstream SOCKET] [-delay D] [-for D]")
		os.Exit(2)
	}
	_ = os.Remove(*listen)
	ln, err := net.Listen("unix", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "slowdocker:", err)
		os.Exit(1)
	}
	defer os.Remove(*listen)
	dial := func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", *upstream)
	}
	proxy := &httputil.ReverseProxy{
		Rewrite:       func(r *httputil.ProxyRequest) { r.SetURL(&url.URL{Scheme: "http", Host: "docker"}) },
		Transport:     &http.Transport{DialContext: dial, DisableCompression: true},
		FlushInterval: -1, // streams as they come
	}
	var n atomic.Int64
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		select {
		case <-time.After(*delay):
		case <-r.Context().Done():
			return
		}
		proxy.ServeHTTP(w, r)
	})}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *life)
	defer cancel()
	go func() {
		<-ctx.Done()
		sctx, c := context.WithTimeout(context.Background(), 5*time.Second)
		defer c()
		_ = srv.Shutdown(sctx)
		_ = srv.Close()
	}()
	fmt.Fprintf(os.Stderr, "slowdocker: %s -> %s, every request held %v\n", *listen, *upstream, *delay)
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, "slowdocker:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "slowdocker: %d requests held %v each\n", n.Load(), *delay)
}
