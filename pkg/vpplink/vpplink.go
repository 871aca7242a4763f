// Package vpplink is the one typed layer over VPP's binary API: it is the
// only package that touches govpp binapi messages. Callers speak in domain
// types (netip prefixes, Route, Tap, Translation, ...); every method takes
// ctx first and returns errors that name the operation, the object and VPP's
// retval.
//
// A *VPP is safe for concurrent use: each call opens its own govpp stream.
package vpplink

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	"go.fd.io/govpp/adapter"
	"go.fd.io/govpp/adapter/socketclient"
	"go.fd.io/govpp/api"
	"go.fd.io/govpp/core"

	"go.fd.io/govpp/binapi/vpe"
)

// DefaultAPISocket is where VPP's socksvr listens by default in Calico/VPP.
const DefaultAPISocket = "/var/run/vpp/vpp-api.sock"

// VPP is a connection to one VPP instance.
type VPP struct {
	conn      *core.Connection
	events    chan core.ConnectionEvent
	log       *logrus.Entry
	closeOnce sync.Once
	closed    chan struct{}
}

// SupportedVersion is the VPP release whose API this package speaks.
const SupportedVersion = "25.10"

// ConnectOptions tune Connect.
type ConnectOptions struct {
	// RetryInterval is the first pause between attempts; it doubles up to
	// MaxRetryInterval. Zero values mean 100ms and 2s.
	RetryInterval    time.Duration
	MaxRetryInterval time.Duration
}

// Connect dials VPP's API socket and retries with backoff until VPP
// answers or ctx ends. After connecting it checks that VPP knows every
// message this package uses, with the CRCs it was built for, and fails
// with a *CompatibilityError naming the others.
func Connect(ctx context.Context, socket string, log *logrus.Entry, opts ConnectOptions) (*VPP, error) {
	if socket == "" {
		socket = DefaultAPISocket
	}
	if opts.RetryInterval <= 0 {
		opts.RetryInterval = 100 * time.Millisecond
	}
	if opts.MaxRetryInterval <= 0 {
		opts.MaxRetryInterval = 2 * time.Second
	}
	wait := opts.RetryInterval
	for attempt := 1; ; attempt++ {
		var (
			v   *VPP
			err error
		)
		if _, statErr := os.Stat(socket); statErr != nil {
			err = fmt.Errorf("API socket %s: %w", socket, statErr)
		} else {
			v, err = NewWithAdapter(ctx, socketclient.NewVppClient(socket), log)
		}
		if err == nil {
			return v, nil
		}
		var compat *CompatibilityError
		if errors.As(err, &compat) {
			return nil, err // retrying will not make VPP compatible
		}
		log.WithError(err).WithField("attempt", attempt).Debug("VPP not reachable yet")
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("connect to VPP at %s: %w (last error: %v)", socket, ctx.Err(), err)
		case <-time.After(wait):
		}
		wait = min(2*wait, opts.MaxRetryInterval)
	}
}

// NewWithAdapter connects through an already built govpp adapter (the
// socket client, or fakevpp's in-process adapter in tests). It makes one
// attempt.
func NewWithAdapter(ctx context.Context, a adapter.VppAPI, log *logrus.Entry) (*VPP, error) {
	conn, events, err := core.AsyncConnect(a, 1, 50*time.Millisecond)
	if err != nil {
		return nil, fmt.Errorf("connect to VPP: %w", err)
	}
	select {
	case ev := <-events:
		if ev.State != core.Connected {
			conn.Disconnect()
			return nil, fmt.Errorf("connect to VPP: %s: %v", ev.State, ev.Error)
		}
	case <-ctx.Done():
		conn.Disconnect()
		return nil, fmt.Errorf("connect to VPP: %w", ctx.Err())
	}
	v := &VPP{conn: conn, events: events, log: log, closed: make(chan struct{})}
	if err := v.checkCompatibility(); err != nil {
		conn.Disconnect()
		return nil, err
	}
	ver, err := v.Version(ctx)
	if err != nil {
		conn.Disconnect()
		return nil, err
	}
	if !strings.HasPrefix(ver.Version, SupportedVersion) {
		conn.Disconnect()
		return nil, &CompatibilityError{Version: ver.Version}
	}
	return v, nil
}

// CompatibilityError lists messages VPP does not know with the expected CRC:
// VPP is of another version than the bindings (25.10), or lacks a plugin.
type CompatibilityError struct {
	Incompatible []string
	Version      string // set when the messages match but the release does not
}

func (e *CompatibilityError) Error() string {
	if e.Version != "" {
		return fmt.Sprintf("VPP %s is not supported: this build speaks VPP %s's API", e.Version, SupportedVersion)
	}
	return fmt.Sprintf("VPP is incompatible with this build (VPP %s API): %d messages unknown or with another CRC: %v", SupportedVersion, len(e.Incompatible), e.Incompatible)
}

func (v *VPP) checkCompatibility() error {
	ch, err := v.conn.NewAPIChannel()
	if err != nil {
		return fmt.Errorf("open API channel: %w", err)
	}
	defer ch.Close()
	if err := ch.CheckCompatiblity(usedMessages()...); err != nil {
		var compat *api.CompatibilityError
		if errors.As(err, &compat) {
			return &CompatibilityError{Incompatible: compat.IncompatibleMessages}
		}
		return fmt.Errorf("check message compatibility: %w", err)
	}
	return nil
}

// Close disconnects from VPP. It is safe to call more than once, and
// concurrently with calls (which then fail).
func (v *VPP) Close() {
	v.closeOnce.Do(func() {
		close(v.closed)
		v.conn.Disconnect()
	})
}

// WaitDisconnected blocks until govpp's health check reports the
// connection lost (VPP exited, or stopped answering), and returns an error
// describing it; or returns nil when ctx ends or Close is called first.
func (v *VPP) WaitDisconnected(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-v.closed:
			return nil
		case ev, ok := <-v.events:
			if !ok {
				return ErrConnectionLost
			}
			if ev.State == core.Connected {
				continue
			}
			if ev.Error != nil {
				return fmt.Errorf("%w: %s: %v", ErrConnectionLost, ev.State, ev.Error)
			}
			return fmt.Errorf("%w: %s", ErrConnectionLost, ev.State)
		}
	}
}

// Version is what show_version reports.
type Version struct {
	Program   string
	Version   string
	BuildDate string
}

// Version asks VPP for its version.
func (v *VPP) Version(ctx context.Context) (Version, error) {
	reply, err := vpe.NewServiceClient(v.conn).ShowVersion(ctx, &vpe.ShowVersion{})
	if err != nil {
		return Version{}, wrap("show version", "", err)
	}
	return Version{Program: reply.Program, Version: reply.Version, BuildDate: reply.BuildDate}, nil
}

// dumpAll drains a govpp dump stream into a slice. The generated clients
// close the stream when they see the closing control_ping_reply; on error
// we close it ourselves so the channel returns to govpp's pool.
func dumpAll[T any](stream interface {
	Recv() (T, error)
	Close() error
}) ([]T, error) {
	var out []T
	for {
		item, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			_ = stream.Close()
			return out, err
		}
		out = append(out, item)
	}
}
