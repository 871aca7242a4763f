package routing

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/calico-vpp/calico-vpp/calico-vpp-agent/inputs"
	"github.com/calico-vpp/calico-vpp/calico-vpp-agent/vppkinds"
	"github.com/calico-vpp/calico-vpp/pkg/journal"
	"github.com/calico-vpp/calico-vpp/pkg/reconcile"
)

// InputRouting is the reconciler input of learned routes: synced once the
// peers have sent their End-of-RIB (or SyncTimeout passed), so that an
// agent restart never prunes routes its peers are about to send again.
const InputRouting = "routing"

// CalicoSource is Calico's BGP model (inputs.Calico).
type CalicoSource interface {
	Watch() <-chan struct{}
	State() inputs.CalicoState
	Synced() bool
}

// Options configure the manager.
type Options struct {
	Node string
	// PodCIDRs returns the Kubernetes node's spec.podCIDRs when host-local
	// IPAM is used (nil with Calico IPAM).
	PodCIDRs func() []netip.Prefix
	// PodCIDRsChanged signals that PodCIDRs may answer differently (the
	// node's podCIDRs were assigned after the agent started).
	PodCIDRsChanged <-chan struct{}
	Secrets         SecretGetter
	// SyncTimeout bounds the wait for peers' End-of-RIB (default 60s).
	SyncTimeout time.Duration
	// OnSynced is called once learned routes are complete.
	OnSynced func()
	// BGPLogLevel is GoBGP's log level until a BGPConfiguration sets
	// logSeverityScreen (CALICOVPP_BGP_LOG_LEVEL; default info).
	BGPLogLevel logrus.Level
	Log         *logrus.Entry
}

// Manager runs the speaker and turns what it learns into VPP routes.
type Manager struct {
	opts    Options
	calico  CalicoSource
	watch   <-chan struct{}
	bgp     *BGP
	tunnels *reconcile.Table[TunnelKey, Tunnel]
	routes  *reconcile.Table[vppkinds.RouteKey, BGPRoute]
	synced  atomic.Bool

	mu     sync.Mutex
	errors []string
	counts map[string]int
}

// NewManager registers the tunnel and route kinds with r. Journals record
// the tunnels and routes the agent created (they carry no tag).
func NewManager(r *reconcile.Reconciler, v VPPSource, calico CalicoSource, tunnelJournal, routeJournal *journal.Journal, opts Options) *Manager {
	if opts.SyncTimeout <= 0 {
		opts.SyncTimeout = 60 * time.Second
	}
	if opts.BGPLogLevel == 0 {
		opts.BGPLogLevel = logrus.InfoLevel
	}
	m := &Manager{opts: opts, calico: calico, watch: calico.Watch(), bgp: NewBGP(opts.Log.WithField("subcomponent", "gobgp"), opts.BGPLogLevel)}
	m.tunnels = reconcile.NewTable[TunnelKey, Tunnel](r, NewTunnelKind(v, tunnelJournal), TunnelKey.String)
	m.routes = reconcile.NewTable[vppkinds.RouteKey, BGPRoute](r, NewRouteKind(v, routeJournal, m.tunnels), vppkinds.RouteKey.String)
	return m
}

// Name implements agent.Component.
func (m *Manager) Name() string { return "routing" }

// Synced implements agent.Component.
func (m *Manager) Synced() bool { return m.synced.Load() }

// Status implements agent.Component.
func (m *Manager) Status() any {
	m.mu.Lock()
	defer m.mu.Unlock()
	return map[string]any{"peers": m.bgp.Status(), "errors": m.errors, "objects": m.counts}
}

// Run follows Calico's model and the speaker until ctx ends.
func (m *Manager) Run(ctx context.Context) error {
	for {
		bgpEnabled, failed := m.recompute(ctx)
		if !m.synced.Load() && m.calico.Synced() && m.routesComplete(bgpEnabled) {
			m.synced.Store(true)
			m.opts.Log.Info("learned routes complete")
			if m.opts.OnSynced != nil {
				m.opts.OnSynced()
			}
		}
		var poll <-chan time.Time
		if !m.synced.Load() || failed {
			poll = time.After(2 * time.Second) // the sync deadline, or a retry
		}
		select {
		case <-ctx.Done():
			return nil
		case <-m.watch:
		case <-m.bgp.Changed():
		case <-m.opts.PodCIDRsChanged: // nil without host-local: never
		case <-poll:
		}
	}
}

// routesComplete reports whether the learned routes can be trusted to be
// all there are: the node runs no BGP, or it does and every peer has sent
// its End-of-RIB (or SyncTimeout has passed since BGP started). Until
// then nothing installed before a restart is pruned.
func (m *Manager) routesComplete(bgpEnabled bool) bool {
	if !bgpEnabled {
		return true
	}
	started := m.bgp.Running()
	return !started.IsZero() && (m.bgp.PeersSynced() || time.Since(started) > m.opts.SyncTimeout)
}

// recompute applies the current model to the speaker and the learned
// routes to the tables. It reports whether the node runs BGP and whether
// something failed (to be retried).
func (m *Manager) recompute(ctx context.Context) (bgpEnabled, failed bool) {
	if !m.calico.Synced() {
		return false, false // a partial model would drop peers
	}
	st := m.calico.State()
	sp, errs := DesiredSpeaker(st, m.opts.Node, m.opts.Secrets)
	if err := m.bgp.Apply(ctx, sp); err != nil {
		errs = append(errs, err)
	}
	var podCIDRs []netip.Prefix
	if m.opts.PodCIDRs != nil {
		podCIDRs = m.opts.PodCIDRs()
	}
	ads, adErrs := Advertisements(st, m.opts.Node, podCIDRs)
	errs = append(errs, adErrs...)
	if err := m.bgp.Advertise(ctx, sp, ads, Exports(st.IPPools, ads)); err != nil {
		errs = append(errs, err)
	}
	nTunnels, nRoutes := m.install(m.bgp.Learned(), ads, st.IPPools, Underlay{NodeIPv4: sp.NodeIPv4, NodeIPv6: sp.NodeIPv6})

	msgs := make([]string, 0, len(errs))
	for _, e := range errs {
		msgs = append(msgs, e.Error())
	}
	m.mu.Lock()
	changed := len(msgs) > 0 && !slices.Equal(msgs, m.errors)
	m.errors = msgs
	m.counts = map[string]int{"advertised": len(ads), "routes": nRoutes, "tunnels": nTunnels, "peers": len(sp.Peers)}
	m.mu.Unlock()
	if changed {
		m.opts.Log.WithError(errors.Join(errs...)).Warn("routing configuration partly applied")
	}
	return sp.Enabled(), len(errs) > 0
}

// install declares the VPP routes and tunnels of what the speaker learned.
func (m *Manager) install(learned Learned, own map[netip.Prefix]Advertisement, pools map[netip.Prefix]inputs.IPPool, u Underlay) (tunnels, routes int) {
	wantT, wantR := DesiredRoutes(learned, own, pools, u)
	ts := make(map[TunnelKey]Tunnel, len(wantT))
	for k := range wantT {
		ts[k] = Tunnel{}
	}
	rs := make(map[vppkinds.RouteKey]BGPRoute, len(wantR))
	for p, r := range wantR {
		rs[vppkinds.RouteKey{Prefix: p}] = BGPRoute{Spec: r}
	}
	m.tunnels.Replace(ts)
	m.routes.Replace(rs)
	return len(ts), len(rs)
}
