package services

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/sirupsen/logrus"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/calico-vpp/calico-vpp/pkg/journal"
	"github.com/calico-vpp/calico-vpp/pkg/reconcile"
	"github.com/calico-vpp/calico-vpp/pkg/vpplink"
	"github.com/calico-vpp/calico-vpp/pkg/vppstatus"
)

// InputServices is the reconciler input the manager reports synced once
// its first translations are computed from synced informers.
const InputServices = "services"

// VPPSource is the VPP connection and vpp-manager's view of the node
// (vppconn.Holder): the uplinks' addresses are where NodePorts listen.
type VPPSource interface {
	Get() (*vpplink.VPP, error)
	VPPStatus() vppstatus.Status
}

// Manager turns Services and EndpointSlices into translations.
type Manager struct {
	node     string
	vpp      VPPSource
	services cache.SharedIndexInformer
	slices   cache.SharedIndexInformer
	table    *reconcile.Table[Key, vpplink.Translation]
	onSynced func()
	log      *logrus.Entry
	changed  chan struct{}
	synced   atomic.Bool

	mu     sync.Mutex
	count  int
	errors []string
}

// NewManager registers the manager's table and its informer handlers.
func NewManager(r *reconcile.Reconciler, v VPPSource, services, slices cache.SharedIndexInformer, j *journal.Journal,
	node string, onSynced func(), log *logrus.Entry) (*Manager, error) {
	m := &Manager{node: node, vpp: v, services: services, slices: slices, onSynced: onSynced, log: log,
		changed: make(chan struct{}, 1)}
	m.table = reconcile.NewTable[Key, vpplink.Translation](r, NewTranslationKind(v, j), Key.String)
	signal := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { m.signal() },
		UpdateFunc: func(any, any) { m.signal() },
		DeleteFunc: func(any) { m.signal() },
	}
	for _, inf := range []cache.SharedIndexInformer{services, slices} {
		if _, err := inf.AddEventHandler(signal); err != nil {
			return nil, fmt.Errorf("watch services: %w", err)
		}
	}
	return m, nil
}

func (m *Manager) signal() {
	select {
	case m.changed <- struct{}{}:
	default: // one pending signal covers any number of changes
	}
}

// Name implements agent.Component.
func (m *Manager) Name() string { return "services" }

// Synced implements agent.Component.
func (m *Manager) Synced() bool { return m.synced.Load() }

// Status implements agent.Component.
func (m *Manager) Status() any {
	m.mu.Lock()
	defer m.mu.Unlock()
	return map[string]any{"translations": m.count, "errors": m.errors}
}

// Run recomputes the translations on every change, once the informers
// have synced.
func (m *Manager) Run(ctx context.Context) error {
	if !cache.WaitForCacheSync(ctx.Done(), m.services.HasSynced, m.slices.HasSynced) {
		return nil // ctx ended
	}
	for {
		m.recompute()
		if m.synced.CompareAndSwap(false, true) {
			m.log.Info("services synced")
			if m.onSynced != nil {
				m.onSynced()
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-m.changed:
		}
	}
}

func (m *Manager) recompute() {
	in := Inputs{Node: m.node, NodeAddrs: nodeAddrs(m.vpp.VPPStatus())}
	for _, o := range m.services.GetStore().List() {
		if s, ok := o.(*corev1.Service); ok {
			in.Services = append(in.Services, s)
		}
	}
	for _, o := range m.slices.GetStore().List() {
		if s, ok := o.(*discoveryv1.EndpointSlice); ok {
			in.Slices = append(in.Slices, s)
		}
	}
	want, errs := Desired(in)
	m.table.Replace(want)
	var msgs []string
	for _, err := range errs {
		msgs = append(msgs, err.Error())
	}
	m.mu.Lock()
	changed := fmt.Sprint(msgs) != fmt.Sprint(m.errors)
	m.count, m.errors = len(want), msgs
	m.mu.Unlock()
	if changed {
		for _, msg := range msgs {
			m.log.Warn(msg) // once per change, not per event
		}
	}
}

// nodeAddrs are the uplinks' addresses (without prefix length).
func nodeAddrs(st vppstatus.Status) []netip.Addr {
	var out []netip.Addr
	for _, u := range st.Uplinks {
		for _, a := range u.Addresses {
			if p, err := netip.ParsePrefix(a); err == nil {
				out = append(out, p.Addr())
			}
		}
	}
	return out
}
