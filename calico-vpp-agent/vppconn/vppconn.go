// Package vppconn keeps the agent connected to VPP across VPP restarts. It
// waits for vpp-manager to report VPP running, connects, watches the
// connection, and starts over when it is lost, telling its subscriber each
// time VPP (re)appears so that desired state is re-applied.
package vppconn

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/calico-vpp/calico-vpp/pkg/reconcile"
	"github.com/calico-vpp/calico-vpp/pkg/vpplink"
	"github.com/calico-vpp/calico-vpp/pkg/vppstatus"
)

// ErrNotConnected is returned (wrapped) by Get while VPP is away. It wraps
// reconcile.ErrUnavailable, so the reconciler waits instead of failing.
var ErrNotConnected = fmt.Errorf("not connected to VPP: %w", reconcile.ErrUnavailable)

// Options configure a Holder.
type Options struct {
	StatusFile string // vpp-manager's status file
	APISocket  string // used when the status file does not name one
	Poll       time.Duration
	Log        *logrus.Entry
	// OnConnect is called (from Run's goroutine) each time a new
	// connection is up: after start and after every VPP restart.
	OnConnect func(v *vpplink.VPP, status vppstatus.Status)
	// OnDisconnect is called when the connection is lost.
	OnDisconnect func(err error)
}

// Holder owns the current connection. Get is safe for concurrent use.
type Holder struct {
	opts    Options
	mu      sync.RWMutex
	vpp     *vpplink.VPP
	status  vppstatus.Status
	lastErr error
	// unreachableSince is when vpp-manager last started reporting VPP
	// running while we had no connection; zero when connected or when
	// VPP is (re)starting.
	unreachableSince time.Time
}

// New returns a holder; Run connects.
func New(opts Options) *Holder {
	if opts.Poll <= 0 {
		opts.Poll = 200 * time.Millisecond
	}
	if opts.OnConnect == nil {
		opts.OnConnect = func(*vpplink.VPP, vppstatus.Status) {}
	}
	if opts.OnDisconnect == nil {
		opts.OnDisconnect = func(error) {}
	}
	return &Holder{opts: opts}
}

// Get returns the current connection, or ErrNotConnected.
func (h *Holder) Get() (*vpplink.VPP, error) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.vpp == nil {
		if h.lastErr != nil {
			return nil, fmt.Errorf("%w: %v", ErrNotConnected, h.lastErr)
		}
		return nil, ErrNotConnected
	}
	return h.vpp, nil
}

// Connected reports whether a connection is up.
func (h *Holder) Connected() bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.vpp != nil
}

// Unreachable is how long vpp-manager has reported VPP running while no
// connection could be made (or kept): zero when connected or while VPP is
// not running. A long value means this process is stuck, not VPP.
func (h *Holder) Unreachable() time.Duration {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.unreachableSince.IsZero() {
		return 0
	}
	return time.Since(h.unreachableSince)
}

// VPPStatus is vpp-manager's status as of the current connection.
func (h *Holder) VPPStatus() vppstatus.Status {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.status
}

// Run connects, and reconnects after every loss, until ctx ends. A lost
// connection is retried whether VPP restarted or only stalled; failures
// back off up to 5s.
func (h *Holder) Run(ctx context.Context) error {
	log := h.opts.Log
	backoff := h.opts.Poll
	for {
		status, err := h.waitRunning(ctx)
		if err != nil {
			return nil // ctx ended
		}
		h.mu.Lock()
		if h.unreachableSince.IsZero() {
			h.unreachableSince = time.Now()
		}
		h.mu.Unlock()
		socket := status.APISocket
		if socket == "" {
			socket = h.opts.APISocket
		}
		// Short attempts: the status (and the socket) may change meanwhile.
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		v, err := vpplink.Connect(cctx, socket, log.WithField("component", "vpplink"), vpplink.ConnectOptions{})
		cancel()
		if ctx.Err() != nil {
			if v != nil {
				v.Close()
			}
			return nil
		}
		if err != nil {
			h.setErr(err)
			log.WithError(err).WithField("retryIn", backoff).Warn("cannot connect to VPP, retrying")
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 5*time.Second)
			continue
		}
		backoff = h.opts.Poll
		h.mu.Lock()
		h.vpp, h.status, h.lastErr = v, status, nil
		h.unreachableSince = time.Time{}
		h.mu.Unlock()
		log.WithFields(logrus.Fields{"socket": socket, "vppPid": status.VPPPID}).Info("connected to VPP")
		h.opts.OnConnect(v, status)

		lost := v.WaitDisconnected(ctx)
		h.mu.Lock()
		h.vpp = nil
		h.lastErr = lost
		h.mu.Unlock()
		v.Close()
		if ctx.Err() != nil {
			return nil
		}
		log.WithError(lost).Warn("lost VPP; waiting for it to come back")
		h.opts.OnDisconnect(lost)
	}
}

func (h *Holder) setErr(err error) {
	h.mu.Lock()
	h.lastErr = err
	h.mu.Unlock()
}

// waitRunning polls vpp-manager's status until it reports VPP running.
func (h *Holder) waitRunning(ctx context.Context) (vppstatus.Status, error) {
	for {
		st, err := vppstatus.Read(h.opts.StatusFile)
		if err == nil && st.State == vppstatus.StateRunning {
			err = h.checkFresh(st)
			if err == nil {
				return st, nil
			}
		}
		h.mu.Lock()
		h.unreachableSince = time.Time{} // VPP is away; waiting is right
		h.mu.Unlock()
		if errors.Is(err, errStaleStatus) {
			h.setErr(err)
		} else if err != nil {
			h.setErr(fmt.Errorf("vpp-manager status: %w", err))
		} else {
			h.setErr(fmt.Errorf("vpp-manager reports %s", st.State))
		}
		select {
		case <-ctx.Done():
			return vppstatus.Status{}, ctx.Err()
		case <-time.After(h.opts.Poll):
		}
	}
}

var errStaleStatus = errors.New("vpp-manager status is stale")

// checkFresh rejects a "running" status older than the API socket it
// names: that socket belongs to a VPP started after the status was
// written (vpp-manager was killed and a new one is still setting the new
// VPP up), which must not be programmed before vpp-manager publishes it.
func (h *Holder) checkFresh(st vppstatus.Status) error {
	socket := st.APISocket
	if socket == "" {
		socket = h.opts.APISocket
	}
	fi, err := os.Stat(socket)
	if err != nil || st.Updated.IsZero() || !fi.ModTime().After(st.Updated) {
		return nil // no socket yet: connecting will say so
	}
	return fmt.Errorf("%w: it reports VPP running as of %s, but %s was created at %s by a newer VPP",
		errStaleStatus, st.Updated.Format(time.RFC3339Nano), socket, fi.ModTime().Format(time.RFC3339Nano))
}
