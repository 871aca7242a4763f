// Package nsutil runs code and starts processes in network namespaces.
// Namespace switches happen on a locked OS thread that is restored before
// it is released, so no other goroutine ever runs in the wrong namespace.
package nsutil

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sync/errgroup"
)

// Do runs fn on a locked OS thread switched into ns, in a goroutine of its
// own: should switching back fail, that goroutine exits still locked and Go
// discards the thread, so nothing else ever runs in the wrong namespace.
func Do(ns netns.NsHandle, fn func() error) error {
	var g errgroup.Group
	g.Go(func() error {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			return fmt.Errorf("get current netns: %w", err)
		}
		defer orig.Close()
		if err := netns.Set(ns); err != nil {
			runtime.UnlockOSThread()
			return fmt.Errorf("enter netns: %w", err)
		}
		fnErr := fn()
		if err := netns.Set(orig); err != nil {
			return errors.Join(fnErr, fmt.Errorf("return to original netns: %w", err)) // thread discarded
		}
		runtime.UnlockOSThread()
		return fnErr
	})
	return g.Wait()
}

// Start starts cmd with its network namespace set to ns (the child
// inherits the namespace of the thread that forks it).
func Start(ns netns.NsHandle, cmd *exec.Cmd) error {
	return Do(ns, cmd.Start)
}

// EnsureNamed opens the named namespace, creating it (bind-mounted under
// /var/run/netns) when missing. created says which.
func EnsureNamed(name string) (ns netns.NsHandle, created bool, err error) {
	if h, err := netns.GetFromName(name); err == nil {
		return h, false, nil
	}
	// NewNamed switches the calling thread into the new namespace: do it on
	// a thread of its own, switched back (or discarded) by Do's rules.
	current, err := netns.Get()
	if err != nil {
		return netns.None(), false, fmt.Errorf("get current netns: %w", err)
	}
	defer current.Close()
	var h netns.NsHandle
	err = Do(current, func() error {
		var nerr error
		h, nerr = netns.NewNamed(name)
		return nerr
	})
	if err != nil {
		if h.IsOpen() {
			h.Close()
		}
		return netns.None(), false, fmt.Errorf("create netns %s: %w", name, err)
	}
	// The loopback of VPP's namespace is needed by VPP's own sockets.
	if lh, err := netlink.NewHandleAt(h); err == nil {
		if lo, err := lh.LinkByName("lo"); err == nil {
			_ = lh.LinkSetUp(lo)
		}
		lh.Close()
	}
	return h, true, nil
}

// DeleteNamed removes a named namespace; a missing one is not an error.
func DeleteNamed(name string) error {
	if _, err := os.Stat("/var/run/netns/" + name); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err := netns.DeleteNamed(name); err != nil {
		return fmt.Errorf("delete netns %s: %w", name, err)
	}
	return nil
}

// Handle returns a netlink handle in ns; the caller closes it.
func Handle(ns netns.NsHandle) (*netlink.Handle, error) {
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return nil, fmt.Errorf("netlink handle: %w", err)
	}
	return h, nil
}

// MoveLink moves the link named name from the namespace of from into to,
// keeping its name.
func MoveLink(from *netlink.Handle, name string, to netns.NsHandle) error {
	link, err := from.LinkByName(name)
	if err != nil {
		return fmt.Errorf("find %s: %w", name, err)
	}
	if err := from.LinkSetNsFd(link, int(to)); err != nil {
		return fmt.Errorf("move %s to another netns: %w", name, err)
	}
	return nil
}
