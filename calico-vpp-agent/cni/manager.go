package cni

import (
	"context"
	"sync/atomic"

	"github.com/sirupsen/logrus"
)

// InputPods is the reconciler input of recorded pods.
const InputPods = "pods"

// Manager is the agent's CNI component: it restores the recorded pods as
// desired state, then serves the CNI plugin.
type Manager struct {
	store  *Store
	server *Server
	dp     *VPPDataplane
	socket string
	synced atomic.Bool
	// onSynced tells the reconciler the pods input has delivered.
	onSynced func()
	log      *logrus.Entry
}

// NewManager returns the component; onSynced is called once the recorded
// pods are declared.
func NewManager(store *Store, server *Server, dp *VPPDataplane, socket string, onSynced func(), log *logrus.Entry) *Manager {
	return &Manager{store: store, server: server, dp: dp, socket: socket, onSynced: onSynced, log: log}
}

// Name implements agent.Component.
func (m *Manager) Name() string { return "cni" }

// Run restores, then serves until ctx ends.
func (m *Manager) Run(ctx context.Context) error {
	pods := m.store.List()
	m.dp.Restore(pods)
	m.log.WithField("pods", len(pods)).Info("recorded pods restored as desired state")
	m.synced.Store(true)
	if m.onSynced != nil {
		m.onSynced()
	}
	return m.server.Serve(ctx, m.socket)
}

// Synced implements agent.Component.
func (m *Manager) Synced() bool { return m.synced.Load() }

// PodStatus is one pod in /status.
type PodStatus struct {
	Pod               string   `json:"pod"`
	Netns             string   `json:"netns"`
	InterfaceName     string   `json:"interfaceName"`
	HostInterfaceName string   `json:"hostInterfaceName"`
	Link              string   `json:"link"`
	SwIfIndex         *uint32  `json:"swIfIndex,omitempty"`
	Addresses         []string `json:"addresses"`
}

// Status implements agent.Component.
func (m *Manager) Status() any {
	pods := m.store.List()
	out := make([]PodStatus, 0, len(pods))
	for _, p := range pods {
		s := PodStatus{Pod: p.Workload.Namespace + "/" + p.Workload.Pod, Netns: p.Netns, InterfaceName: p.InterfaceName,
			HostInterfaceName: p.HostInterfaceName, Link: string(p.Spec.Interconnect)}
		if idx, ok := m.dp.SwIfIndex(p.Key); ok {
			i := uint32(idx)
			s.SwIfIndex = &i
		}
		for _, a := range p.Addresses {
			s.Addresses = append(s.Addresses, a.String())
		}
		out = append(out, s)
	}
	return map[string]any{"socket": m.socket, "pods": out}
}
