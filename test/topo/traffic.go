package topo

import (
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/vishvananda/netns"
	"golang.org/x/sync/errgroup"

	"github.com/calico-vpp/calico-vpp/vpp-manager/nsutil"
)

// TCPTransfer sends size bytes from a client in from to a server listening
// on listen in to, and checks that the server received them all: bulk TCP
// (full segments, offloaded checksums) rather than a ping.
func TCPTransfer(to, from *Netns, listen string, size int) error {
	toNS, err := netns.GetFromName(to.Name)
	if err != nil {
		return err
	}
	defer toNS.Close()
	fromNS, err := netns.GetFromName(from.Name)
	if err != nil {
		return err
	}
	defer fromNS.Close()
	var ln net.Listener
	if err := nsutil.Do(toNS, func() error {
		ln, err = net.Listen("tcp", listen)
		return err
	}); err != nil {
		return fmt.Errorf("listen on %s in %s: %w", listen, to.Name, err)
	}
	defer ln.Close()
	var g errgroup.Group
	received := 0
	g.Go(func() error {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(30 * time.Second))
		n, err := io.Copy(io.Discard, c)
		received = int(n)
		return err
	})
	var conn net.Conn
	if err := nsutil.Do(fromNS, func() error {
		conn, err = net.DialTimeout("tcp", listen, 10*time.Second)
		return err
	}); err != nil {
		_ = ln.Close()
		_ = g.Wait()
		return fmt.Errorf("connect to %s from %s: %w", listen, from.Name, err)
	}
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	_, werr := conn.Write(make([]byte, size))
	_ = conn.Close()
	if err := errors.Join(werr, g.Wait()); err != nil {
		return err
	}
	if received != size {
		return fmt.Errorf("server received %d bytes of %d", received, size)
	}
	return nil
}
