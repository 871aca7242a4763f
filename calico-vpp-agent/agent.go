// Package agent is calico-vpp-agent's spine: it connects to VPP (again
// after each VPP restart), runs the reconciler and the managers (routing,
// CNI, services, policy) under one errgroup, and serves health and
// metrics. Components are built by main with their dependencies and
// handed to New; the spine does not know them beyond Component.
package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sync/errgroup"

	"github.com/calico-vpp/calico-vpp/calico-vpp-agent/health"
	"github.com/calico-vpp/calico-vpp/calico-vpp-agent/metrics"
	"github.com/calico-vpp/calico-vpp/calico-vpp-agent/vppconn"
	"github.com/calico-vpp/calico-vpp/pkg/config"
	"github.com/calico-vpp/calico-vpp/pkg/reconcile"
)

// Component is a manager plugged into the agent.
type Component interface {
	Name() string
	// Run runs until ctx ends. A returned error stops the agent.
	Run(ctx context.Context) error
	// Synced reports whether the component delivered its initial desired
	// state (readiness waits for it).
	Synced() bool
	// Status is the component's part of /status.
	Status() any
}

// Agent runs the components.
type Agent struct {
	cfg        *config.Config
	log        *logrus.Entry
	conn       *vppconn.Holder
	reconciler *reconcile.Reconciler
	metrics    *metrics.Metrics // nil when disabled
	components []Component
	healthAddr string
	stuckAfter time.Duration
	started    time.Time
}

// Options are the agent's optional settings.
type Options struct {
	// HealthAddr overrides ":<healthCheckPort>".
	HealthAddr string
	// StuckAfter is how long VPP may stay unreachable while vpp-manager
	// reports it running before /liveness fails (default 2m): long
	// enough for any restart, short enough to heal a wedged client.
	StuckAfter time.Duration
}

// New wires an agent. conn and reconciler are shared with the components
// (which main built with them); m may be nil.
func New(cfg *config.Config, log *logrus.Entry, conn *vppconn.Holder, r *reconcile.Reconciler, m *metrics.Metrics, opts Options, components ...Component) *Agent {
	addr := opts.HealthAddr
	if addr == "" {
		addr = net.JoinHostPort("", strconv.Itoa(int(cfg.Initial.HealthCheckPort)))
	}
	stuck := opts.StuckAfter
	if stuck <= 0 {
		stuck = 2 * time.Minute
	}
	return &Agent{cfg: cfg, log: log, conn: conn, reconciler: r, metrics: m, components: components, healthAddr: addr, stuckAfter: stuck}
}

// Ready returns nil when the agent is ready: VPP connected, every input
// synced, every component synced.
func (a *Agent) Ready() error {
	if _, err := a.conn.Get(); err != nil {
		return err
	}
	if !a.reconciler.Synced() {
		return errors.New("inputs not synced")
	}
	if !a.reconciler.Converged() {
		return errors.New("VPP not programmed yet")
	}
	for _, c := range a.components {
		if !c.Synced() {
			return fmt.Errorf("%s not synced", c.Name())
		}
	}
	return nil
}

// Status is /status.
func (a *Agent) Status() any {
	comps := map[string]any{}
	for _, c := range a.components {
		comps[c.Name()] = map[string]any{"synced": c.Synced(), "status": c.Status()}
	}
	ready := "ready"
	if err := a.Ready(); err != nil {
		ready = err.Error()
	}
	return map[string]any{
		"ready":        ready,
		"vppConnected": a.conn.Connected(),
		"vppManager":   a.conn.VPPStatus(),
		"uptime":       time.Since(a.started).Round(time.Second).String(),
		"components":   comps,
		"objects":      a.reconciler.Status(),
	}
}

// Run runs everything until ctx ends or a part fails, then stops within
// CALICOVPP_GRACEFUL_SHUTDOWN_TIMEOUT.
func (a *Agent) Run(ctx context.Context) error {
	a.started = time.Now()
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return a.conn.Run(gctx) })
	g.Go(func() error { return a.reconciler.Run(gctx) })
	liveness := []health.Check{
		{Name: "vpp", Err: func() error {
			if d := a.conn.Unreachable(); d > a.stuckAfter {
				return fmt.Errorf("vpp-manager reports VPP running but it has been unreachable for %s", d.Round(time.Second))
			}
			return nil
		}},
	}
	checks := []health.Check{
		{Name: "vpp", Err: func() error { _, err := a.conn.Get(); return err }},
		{Name: "inputs", Err: func() error {
			if !a.reconciler.Synced() {
				return errors.New("not synced")
			}
			return nil
		}},
		{Name: "reconciler", Err: func() error {
			if !a.reconciler.Converged() {
				return errors.New("VPP not programmed yet")
			}
			return nil
		}},
	}
	for _, c := range a.components {
		c := c
		checks = append(checks, health.Check{Name: c.Name(), Err: func() error {
			if !c.Synced() {
				return errors.New("not synced")
			}
			return nil
		}})
		g.Go(func() error {
			if err := c.Run(gctx); err != nil {
				return fmt.Errorf("%s: %w", c.Name(), err)
			}
			return nil
		})
	}
	hs := health.New(a.healthAddr, liveness, checks, a.Status, a.log.WithField("component", "health"))
	g.Go(func() error { return hs.Run(gctx, a.cfg.GracefulShutdownTimeout) })
	if a.metrics != nil {
		g.Go(func() error { return a.metrics.Serve(gctx, a.cfg.Initial.PrometheusListenEndpoint) })
	}
	a.log.Info("agent running")

	done := make(chan error, 1)
	var waiter errgroup.Group
	waiter.Go(func() error { done <- g.Wait(); return nil })
	select {
	case err := <-done:
		_ = waiter.Wait()
		return err
	case <-ctx.Done():
	}
	a.log.WithField("timeout", a.cfg.GracefulShutdownTimeout).Info("shutting down")
	select {
	case err := <-done:
		_ = waiter.Wait()
		return err
	case <-time.After(a.cfg.GracefulShutdownTimeout):
		// The process exits with this error; what still runs goes with it.
		return fmt.Errorf("components did not stop within %s", a.cfg.GracefulShutdownTimeout)
	}
}
