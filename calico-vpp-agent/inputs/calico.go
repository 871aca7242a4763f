// Package inputs owns the agent's view of the cluster: Kubernetes objects
// through client-go informers, and Calico's BGP-related resources through
// libcalico-go's BGP syncer (Kubernetes datastore, or etcd). Each input
// reports when it has delivered its initial state, so that nothing is
// pruned from VPP before the whole picture is known.
package inputs

import (
	"context"
	"net/netip"
	"sync"

	apiv3 "github.com/projectcalico/api/pkg/apis/projectcalico/v3"
	"github.com/projectcalico/calico/libcalico-go/lib/apiconfig"
	libapiv3 "github.com/projectcalico/calico/libcalico-go/lib/apis/v3"
	"github.com/projectcalico/calico/libcalico-go/lib/backend/api"
	"github.com/projectcalico/calico/libcalico-go/lib/backend/encap"
	"github.com/projectcalico/calico/libcalico-go/lib/backend/model"
	"github.com/projectcalico/calico/libcalico-go/lib/backend/syncersv1/bgpsyncer"
	calinet "github.com/projectcalico/calico/libcalico-go/lib/net"
	"github.com/sirupsen/logrus"
)

// EncapMode is an IPPool's IPIP or VXLAN mode.
type EncapMode string

// Encapsulation modes, as Calico's API names them.
const (
	EncapNever       EncapMode = "Never"
	EncapAlways      EncapMode = "Always"
	EncapCrossSubnet EncapMode = "CrossSubnet"
)

func encapMode(m encap.Mode) EncapMode {
	switch m {
	case encap.Always:
		return EncapAlways
	case encap.CrossSubnet:
		return EncapCrossSubnet
	}
	return EncapNever
}

// IPPool is what the dataplane needs of a Calico IPPool.
type IPPool struct {
	CIDR             netip.Prefix
	IPIPMode         EncapMode
	VXLANMode        EncapMode
	Masquerade       bool
	Disabled         bool
	DisableBGPExport bool
}

// BlockAffinity is an IPAM block affine to a node.
type BlockAffinity struct {
	CIDR netip.Prefix
	Host string
}

// CalicoState is a consistent copy of the Calico resources the agent
// uses. Maps are keyed by name (pools and blocks by CIDR).
type CalicoState struct {
	IPPools           map[netip.Prefix]IPPool
	BGPConfigurations map[string]*apiv3.BGPConfiguration
	BGPPeers          map[string]*apiv3.BGPPeer
	BGPFilters        map[string]*apiv3.BGPFilter
	Nodes             map[string]*libapiv3.Node
	BlockAffinities   map[netip.Prefix]BlockAffinity
	InSync            bool
}

func newCalicoState() CalicoState {
	return CalicoState{
		IPPools: map[netip.Prefix]IPPool{}, BGPConfigurations: map[string]*apiv3.BGPConfiguration{},
		BGPPeers: map[string]*apiv3.BGPPeer{}, BGPFilters: map[string]*apiv3.BGPFilter{},
		Nodes: map[string]*libapiv3.Node{}, BlockAffinities: map[netip.Prefix]BlockAffinity{},
	}
}

// clone copies the maps (values are shared and never modified).
func (s CalicoState) clone() CalicoState {
	out := newCalicoState()
	out.InSync = s.InSync
	for k, v := range s.IPPools {
		out.IPPools[k] = v
	}
	for k, v := range s.BGPConfigurations {
		out.BGPConfigurations[k] = v
	}
	for k, v := range s.BGPPeers {
		out.BGPPeers[k] = v
	}
	for k, v := range s.BGPFilters {
		out.BGPFilters[k] = v
	}
	for k, v := range s.Nodes {
		out.Nodes[k] = v
	}
	for k, v := range s.BlockAffinities {
		out.BlockAffinities[k] = v
	}
	return out
}

// Calico follows the BGP syncer. It is safe for concurrent use.
type Calico struct {
	client   api.Client
	node     string
	podCIDR  bool
	log      *logrus.Entry
	mu       sync.Mutex
	state    CalicoState
	watchers []chan struct{}
	onSynced func()
}

// NewCalico follows the Calico datastore behind client (from
// backend.NewClient). node filters block affinities; usePodCIDR is set
// when host-local IPAM is used (no Calico IPAM blocks then). onSynced is
// called once the initial state is complete.
func NewCalico(client api.Client, node string, usePodCIDR bool, onSynced func(), log *logrus.Entry) *Calico {
	return &Calico{client: client, node: node, podCIDR: usePodCIDR, onSynced: onSynced, log: log, state: newCalicoState()}
}

// Watch returns a channel that receives (coalesced) a value after each
// change. Call before Run.
func (c *Calico) Watch() <-chan struct{} {
	ch := make(chan struct{}, 1)
	c.mu.Lock()
	c.watchers = append(c.watchers, ch)
	c.mu.Unlock()
	return ch
}

// State returns a copy of the current state.
func (c *Calico) State() CalicoState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state.clone()
}

// Run follows the datastore until ctx ends.
func (c *Calico) Run(ctx context.Context) error {
	syncer := bgpsyncer.New(c.client, callbacks{c}, c.node, apiconfig.CalicoAPIConfigSpec{KubeConfig: apiconfig.KubeConfig{K8sUsePodCIDR: c.podCIDR}})
	syncer.Start()
	<-ctx.Done()
	syncer.Stop()
	return nil
}

type callbacks struct{ c *Calico }

func (cb callbacks) OnStatusUpdated(status api.SyncStatus) {
	c := cb.c
	c.log.WithField("status", status.String()).Debug("Calico datastore sync status")
	if status != api.InSync {
		return
	}
	c.mu.Lock()
	first := !c.state.InSync
	c.state.InSync = true
	c.mu.Unlock()
	if first && c.onSynced != nil {
		c.onSynced()
	}
	c.notify()
}

func (cb callbacks) OnUpdates(updates []api.Update) {
	c := cb.c
	c.mu.Lock()
	for _, u := range updates {
		c.apply(u.KVPair)
	}
	c.mu.Unlock()
	c.notify()
}

func (c *Calico) notify() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ch := range c.watchers {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

func prefixOf(n calinet.IPNet) netip.Prefix {
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}
	}
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(a.Unmap(), ones)
}

// apply records one update; a nil value is a deletion.
func (c *Calico) apply(kv model.KVPair) {
	switch k := kv.Key.(type) {
	case model.IPPoolKey:
		p := prefixOf(k.CIDR)
		if v, ok := kv.Value.(*model.IPPool); ok && v != nil {
			c.state.IPPools[p] = IPPool{CIDR: p, IPIPMode: encapMode(v.IPIPMode), VXLANMode: encapMode(v.VXLANMode),
				Masquerade: v.Masquerade, Disabled: v.Disabled, DisableBGPExport: v.DisableBGPExport}
		} else {
			delete(c.state.IPPools, p)
		}
	case model.BlockAffinityKey:
		p := prefixOf(k.CIDR)
		if v, ok := kv.Value.(*model.BlockAffinity); ok && v != nil && !v.Deleted {
			c.state.BlockAffinities[p] = BlockAffinity{CIDR: p, Host: k.Host}
		} else {
			delete(c.state.BlockAffinities, p)
		}
	case model.ResourceKey:
		switch k.Kind {
		case apiv3.KindBGPConfiguration:
			setOrDelete(c.state.BGPConfigurations, k.Name, kv.Value)
		case apiv3.KindBGPPeer:
			setOrDelete(c.state.BGPPeers, k.Name, kv.Value)
		case apiv3.KindBGPFilter:
			setOrDelete(c.state.BGPFilters, k.Name, kv.Value)
		case libapiv3.KindNode:
			setOrDelete(c.state.Nodes, k.Name, kv.Value)
		}
	default:
		c.log.WithField("key", kv.Key.String()).Debug("ignored datastore key")
	}
}

func setOrDelete[T any](m map[string]*T, name string, value any) {
	if v, ok := value.(*T); ok && v != nil {
		m[name] = v
		return
	}
	delete(m, name)
}

// Name implements the agent's Component.
func (c *Calico) Name() string { return "calico" }

// Synced reports whether the initial state has arrived.
func (c *Calico) Synced() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state.InSync
}

// Status counts what the datastore holds.
func (c *Calico) Status() any {
	c.mu.Lock()
	defer c.mu.Unlock()
	return map[string]int{
		"ipPools": len(c.state.IPPools), "bgpConfigurations": len(c.state.BGPConfigurations), "bgpPeers": len(c.state.BGPPeers),
		"nodes": len(c.state.Nodes), "blockAffinities": len(c.state.BlockAffinities),
	}
}
