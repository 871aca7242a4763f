package topo

import (
	"context"
	"io"
	"net"
	"sync"
	"testing"

	"github.com/vishvananda/netns"
	"golang.org/x/sync/errgroup"

	"github.com/calico-vpp/calico-vpp/vpp-manager/nsutil"
)

// Forward makes target (a TCP address of the test process's own, root,
// namespace, e.g. the test API server on 127.0.0.1) reachable as listen
// inside ns: a socket stays in the namespace it was created in, so the
// listener is opened there and each connection is relayed from here.
// Processes in ns (an agent) then reach the server at listen, with no link
// or route of the root namespace touched. It stops at the test's end.
func Forward(t testing.TB, ns *Netns, listen, target string) {
	t.Helper()
	h, err := netns.GetFromName(ns.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	var ln net.Listener
	if err := nsutil.Do(h, func() error {
		var err error
		ln, err = net.Listen("tcp", listen)
		return err
	}); err != nil {
		t.Fatalf("listen on %s in %s: %v", listen, ns, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var g errgroup.Group
	var mu sync.Mutex
	conns := map[net.Conn]struct{}{}
	track := func(c net.Conn, add bool) {
		mu.Lock()
		defer mu.Unlock()
		if add {
			conns[c] = struct{}{}
		} else {
			delete(conns, c)
		}
	}
	g.Go(func() error {
		for {
			in, err := ln.Accept()
			if err != nil {
				return nil // closed at cleanup
			}
			g.Go(func() error {
				defer in.Close()
				var d net.Dialer
				out, err := d.DialContext(ctx, "tcp", target)
				if err != nil {
					return nil // the client sees its connection closed
				}
				defer out.Close()
				track(in, true)
				track(out, true)
				defer track(in, false)
				defer track(out, false)
				var relay errgroup.Group
				relay.Go(func() error { _, err := io.Copy(out, in); closeWrite(out); return err })
				relay.Go(func() error { _, err := io.Copy(in, out); closeWrite(in); return err })
				_ = relay.Wait()
				return nil
			})
		}
	})
	t.Cleanup(func() {
		cancel()
		_ = ln.Close()
		mu.Lock()
		for c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		_ = g.Wait()
	})
}

// closeWrite passes a half-close on (a client that sent all it had).
func closeWrite(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
}
