// Package felixproxy is felix-proxy: Felix's external dataplane driver.
// Felix (calico-node) starts it with two pipes, fd 3 carrying Felix's
// messages (ToDataplane) and fd 4 the answers (FromDataplane), each an
// 8-byte little-endian length and a protobuf. felix-proxy relays both
// directions, byte for byte, to the agent's policy socket: the agent
// speaks the same framing there.
//
// When the agent's connection ends, felix-proxy exits: Felix then restarts
// (its driver is gone), which re-sends its whole state to the restarted
// agent. Nothing is buffered, so nothing is lost or replayed twice.
package felixproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sync/errgroup"
)

// DefaultSocket is the agent's policy socket (CALICOVPP_FELIX_DATAPLANE_SOCKET).
const DefaultSocket = "/var/run/calico/felix-dataplane.sock"

// Dial connects to the agent's socket, retrying every interval until ctx
// ends: the agent may start after Felix.
func Dial(ctx context.Context, socket string, interval time.Duration, log *logrus.Entry) (net.Conn, error) {
	var d net.Dialer
	for attempt := 0; ; attempt++ {
		conn, err := d.DialContext(ctx, "unix", socket)
		if err == nil {
			return conn, nil
		}
		if attempt == 0 || attempt%30 == 0 {
			log.WithError(err).WithField("socket", socket).Info("waiting for the agent's policy socket")
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("connect to the agent at %s: %w", socket, ctx.Err())
		case <-time.After(interval):
		}
	}
}

// ErrAgentGone reports that the agent closed the connection.
var ErrAgentGone = errors.New("the agent closed the policy connection")

// Relay copies fromFelix to agent and agent to toFelix until either side
// ends. It returns nil when Felix closed its pipe (Felix is stopping),
// ErrAgentGone when the agent went away, or the I/O error.
//
// fromFelix must unblock its Read when closed (a pipe in non-blocking
// mode, as os.NewFile makes one).
func Relay(ctx context.Context, fromFelix io.ReadCloser, toFelix io.Writer, agent net.Conn) error {
	g, gctx := errgroup.WithContext(ctx)
	felixDone := make(chan struct{})
	g.Go(func() error {
		_, err := io.Copy(agent, fromFelix)
		close(felixDone)
		if err != nil {
			return fmt.Errorf("relay Felix's messages to the agent: %w", err)
		}
		return errFelixClosed
	})
	g.Go(func() error {
		_, err := io.Copy(toFelix, agent)
		select {
		case <-felixDone:
			return nil // the agent closed because we did
		default:
		}
		if err != nil {
			return fmt.Errorf("relay the agent's answers to Felix: %w", err)
		}
		return ErrAgentGone
	})
	g.Go(func() error {
		<-gctx.Done() // one side ended: unblock the other copy
		return errors.Join(agent.Close(), fromFelix.Close())
	})
	err := g.Wait()
	if errors.Is(err, errFelixClosed) {
		return nil
	}
	return err
}

var errFelixClosed = errors.New("Felix closed its pipe")
