package cni

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/calico-vpp/calico-vpp/calico-vpp-agent/inputs"
	"github.com/calico-vpp/calico-vpp/pkg/config"
	"github.com/calico-vpp/calico-vpp/pkg/reconcile"
	"github.com/calico-vpp/calico-vpp/pkg/vpplink"
	"github.com/calico-vpp/calico-vpp/pkg/vppstatus"
)

// PodID names a pod interface inside VPP (its tag, its veth): a digest of
// the key, short enough for VPP's 64-byte tags and Linux's 15-byte names.
func PodID(k Key) string {
	sum := sha256.Sum256([]byte(k.String()))
	return hex.EncodeToString(sum[:10])
}

// podTagPrefix starts the tag of every pod interface the agent owns; the
// pod's namespace/name follow its ID, for operators reading `show int`.
const podTagPrefix = "cvpp-pod:"

func podTag(pod Pod) string {
	tag := podTagPrefix + PodID(pod.Key)
	if pod.Workload.Pod != "" {
		tag += " " + pod.Workload.Namespace + "/" + pod.Workload.Pod
	}
	if len(tag) > 63 { // VPP keeps 64 bytes, NUL included
		tag = tag[:63]
	}
	return tag
}

// podIDOfTag returns the pod ID of an agent-owned interface tag.
func podIDOfTag(tag string) (string, bool) {
	rest, ok := strings.CutPrefix(tag, podTagPrefix)
	if !ok {
		return "", false
	}
	id, _, _ := strings.Cut(rest, " ")
	return id, len(id) == 20
}

// PodInterface is the reconciler's object for one pod: VPP's interface to
// the pod, configured, with a host route to each pod address. Desired
// objects carry the pod; dumped ones what VPP shows.
type PodInterface struct {
	Pod       Pod               // desired only
	Link      string            // tun, tap or veth
	SwIfIndex vpplink.SwIfIndex // dumped only
	// Routed are the pod's addresses VPP routes to the interface (sorted):
	// desired, all of them; dumped, what the FIB has.
	Routed []netip.Addr
}

// DesiredInterface is what VPP should have for pod (pure).
func DesiredInterface(pod Pod, link string) PodInterface {
	routed := make([]netip.Addr, 0, len(pod.Addresses))
	for _, a := range pod.Addresses {
		routed = append(routed, a.Addr())
	}
	slices.SortFunc(routed, netip.Addr.Compare)
	return PodInterface{Pod: pod, Link: link, Routed: slices.Compact(routed)}
}

// VPPSource is the VPP connection and vpp-manager's view of it
// (vppconn.Holder).
type VPPSource interface {
	Get() (*vpplink.VPP, error)
	VPPStatus() vppstatus.Status
}

// PodKind is the reconciler kind of pod interfaces. An interface is the
// agent's when its tag says so; after an agent restart the dump finds the
// pods' interfaces and keeps them.
type PodKind struct {
	vpp VPPSource
	gso bool
	log *logrus.Entry
}

var _ reconcile.Kind[string, PodInterface] = (*PodKind)(nil)

// NewPodKind returns the kind; gso enables GSO on taps and tuns.
func NewPodKind(v VPPSource, gso bool, log *logrus.Entry) *PodKind {
	return &PodKind{vpp: v, gso: gso, log: log}
}

// Name implements reconcile.Kind.
func (k *PodKind) Name() string { return "pods" }

// Phase implements reconcile.Kind: interfaces come first, so services
// and policies can attach to them in the same sync.
func (k *PodKind) Phase() reconcile.Phase { return reconcile.PhaseInterfaces }

func (k *PodKind) get() (*vpplink.VPP, vppstatus.Status, error) {
	v, err := k.vpp.Get()
	if err != nil {
		return nil, vppstatus.Status{}, fmt.Errorf("%w: %v", reconcile.ErrUnavailable, err)
	}
	return v, k.vpp.VPPStatus(), nil
}

// Dump returns the tagged pod interfaces with their kind and host routes.
func (k *PodKind) Dump(ctx context.Context) (map[string]PodInterface, error) {
	v, _, err := k.get()
	if err != nil {
		return nil, err
	}
	ifs, err := v.Interfaces(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]PodInterface{}
	byIndex := map[vpplink.SwIfIndex]string{}
	for _, i := range ifs {
		if id, ok := podIDOfTag(i.Tag); ok {
			out[id] = PodInterface{SwIfIndex: i.SwIfIndex}
			byIndex[i.SwIfIndex] = id
		}
	}
	if len(out) == 0 {
		return out, nil
	}
	taps, err := v.Taps(ctx)
	if err != nil {
		return nil, err
	}
	kinds := map[vpplink.SwIfIndex]string{}
	for _, t := range taps {
		kinds[t.SwIfIndex] = map[bool]string{true: "tun", false: "tap"}[t.Tun]
	}
	afp, err := v.AFPackets(ctx)
	if err != nil {
		return nil, err
	}
	for _, a := range afp {
		kinds[a.SwIfIndex] = "veth"
	}
	for _, is6 := range []bool{false, true} {
		routes, err := v.Routes(ctx, vpplink.Table{ID: 0, IPv6: is6})
		if err != nil {
			return nil, err
		}
		for _, r := range routes {
			if !r.Prefix.IsSingleIP() || len(r.Paths) != 1 {
				continue
			}
			if id, ok := byIndex[r.Paths[0].SwIfIndex]; ok {
				pi := out[id]
				pi.Routed = append(pi.Routed, r.Prefix.Addr())
				out[id] = pi
			}
		}
	}
	for id, pi := range out {
		pi.Link = kinds[pi.SwIfIndex]
		slices.SortFunc(pi.Routed, netip.Addr.Compare)
		out[id] = pi
	}
	return out, nil
}

// Equal implements reconcile.Kind: the same kind of link with exactly the
// pod's host routes. A healthy pod is never touched.
func (k *PodKind) Equal(desired, actual PodInterface) bool {
	return desired.Link == actual.Link && slices.Equal(desired.Routed, actual.Routed)
}

// Create wires the pod: its link, VPP's side of it (unnumbered to the
// uplink, rx mode, neighbours of an L2 link), the pod namespace's
// addresses and routes, and VPP's host routes to the pod. On error it
// leaves nothing behind.
func (k *PodKind) Create(ctx context.Context, id string, want PodInterface) (PodInterface, error) {
	v, st, err := k.get()
	if err != nil {
		return PodInterface{}, err
	}
	pod := want.Pod
	link, err := LinkOfKind(want.Link, st.VPPNetns, k.gso)
	if err != nil {
		return PodInterface{}, err
	}
	if len(st.Uplinks) == 0 {
		return PodInterface{}, fmt.Errorf("%w: vpp-manager reports no uplink to borrow addresses from", reconcile.ErrUnavailable)
	}
	mtu := pod.MTU
	if mtu <= 0 {
		mtu = st.Uplinks[0].MTU
	}
	idx, gwMAC, err := link.Create(ctx, v, pod, mtu, podTag(pod))
	if err != nil {
		return PodInterface{}, err
	}
	got := PodInterface{Link: want.Link, SwIfIndex: idx}
	if err := k.configure(ctx, v, st, pod, idx, gwMAC, mtu); err != nil {
		return PodInterface{}, errors.Join(err, link.Delete(ctx, v, id, idx))
	}
	if err := ConfigurePodNetns(pod, gwMAC); err != nil {
		return PodInterface{}, errors.Join(err, link.Delete(ctx, v, id, idx))
	}
	routed, err := k.route(ctx, v, pod, idx, nil, gwMAC != nil)
	got.Routed = routed
	if err != nil {
		return PodInterface{}, errors.Join(err, k.Delete(ctx, id, got))
	}
	return got, nil
}

// configure sets VPP's side of a new pod interface up for IP.
func (k *PodKind) configure(ctx context.Context, v *vpplink.VPP, st vppstatus.Status, pod Pod, idx vpplink.SwIfIndex, gwMAC net.HardwareAddr, mtu int) error {
	if err := v.SetInterfaceMTU(ctx, idx, uint32(mtu)); err != nil {
		return fmt.Errorf("set VPP's MTU towards pod %s: %w", pod.Key, err)
	}
	// Unnumbered: the pod's gateway is VPP itself, with the uplink's
	// addresses, so replies and ICMP errors come from a routable source.
	if err := v.SetUnnumbered(ctx, idx, vpplink.SwIfIndex(st.Uplinks[0].SwIfIndex), true); err != nil {
		return fmt.Errorf("borrow the uplink's addresses for pod %s: %w", pod.Key, err)
	}
	if pod.HasIPv6() {
		if err := v.EnableIP6(ctx, idx, true); err != nil && !vpplink.IsRetval(err, vpplink.RetvalValueExist) {
			return fmt.Errorf("enable IPv6 towards pod %s: %w", pod.Key, err)
		}
	}
	if mode, ok := rxModes[pod.Spec.RxMode]; ok {
		if err := v.SetRxMode(ctx, idx, mode); err != nil {
			// Some drivers cannot (af_packet on older kernels): the pod
			// still works, polling.
			k.log.WithError(err).WithFields(logrus.Fields{"pod": pod.Key, "rxMode": pod.Spec.RxMode}).Warn("rx mode not applied")
		}
	}
	if gwMAC != nil { // an L2 link: VPP must not ARP for the pod
		for _, a := range pod.Addresses {
			n := vpplink.Neighbor{SwIfIndex: idx, IP: a.Addr(), MAC: ContainerMAC(pod.Key), NoFIB: true}
			if err := v.AddNeighbor(ctx, n); err != nil {
				return fmt.Errorf("neighbour %s of pod %s: %w", a.Addr(), pod.Key, err)
			}
		}
	}
	return nil
}

var rxModes = map[config.RxMode]vpplink.RxMode{
	config.RxModeInterrupt: vpplink.RxModeInterrupt,
	config.RxModeAdaptive:  vpplink.RxModeAdaptive,
	config.RxModePolling:   vpplink.RxModePolling,
}

// podRoute is VPP's host route to one pod address on idx: straight into a
// tun, via the pod's address (its static neighbour) on an L2 link.
func podRoute(a netip.Addr, idx vpplink.SwIfIndex, l2 bool) vpplink.Route {
	p := vpplink.RoutePath{SwIfIndex: idx}
	if l2 {
		p.Gateway = a
	}
	return vpplink.Route{Prefix: netip.PrefixFrom(a, a.BitLen()), Paths: []vpplink.RoutePath{p}}
}

// delPodRoute removes the pod's path only: were the address already
// another pod's (a late delete after an ADD timed out), that pod's route
// stays. A route already gone is fine.
func delPodRoute(ctx context.Context, v *vpplink.VPP, a netip.Addr, idx vpplink.SwIfIndex, l2 bool) error {
	r := podRoute(a, idx, l2)
	err := v.DelRoutePath(ctx, r.Table, r.Prefix, r.Paths[0])
	if err != nil && !vpplink.IsRetval(err, vpplink.RetvalNoSuchEntry) {
		return err
	}
	return nil
}

// route adds the pod's missing host routes (have: those VPP has) and
// returns what VPP then routes.
func (k *PodKind) route(ctx context.Context, v *vpplink.VPP, pod Pod, idx vpplink.SwIfIndex, have []netip.Addr, l2 bool) ([]netip.Addr, error) {
	routed := slices.Clone(have)
	for _, a := range DesiredInterface(pod, "").Routed {
		if slices.Contains(have, a) {
			continue
		}
		if err := v.AddRoute(ctx, podRoute(a, idx, l2)); err != nil {
			return routed, fmt.Errorf("route %s to pod %s: %w", a, pod.Key, err)
		}
		routed = append(routed, a)
	}
	slices.SortFunc(routed, netip.Addr.Compare)
	return routed, nil
}

// Update repairs a pod interface: a different link kind is re-created;
// otherwise only host routes are added or removed.
func (k *PodKind) Update(ctx context.Context, id string, want, have PodInterface) (PodInterface, error) {
	if want.Link != have.Link {
		if err := k.Delete(ctx, id, have); err != nil {
			return have, err
		}
		return k.Create(ctx, id, want)
	}
	v, _, err := k.get()
	if err != nil {
		return have, err
	}
	l2 := want.Link != "tun"
	for _, a := range have.Routed {
		if !slices.Contains(want.Routed, a) {
			if err := delPodRoute(ctx, v, a, have.SwIfIndex, l2); err != nil {
				return have, fmt.Errorf("remove route %s from pod %s: %w", a, want.Pod.Key, err)
			}
			have.Routed = slices.DeleteFunc(have.Routed, func(x netip.Addr) bool { return x == a })
		}
	}
	routed, err := k.route(ctx, v, want.Pod, have.SwIfIndex, have.Routed, l2)
	have.Routed = routed
	return have, err
}

// Delete unwires a pod: host routes, then the link (with it VPP's
// neighbours and the pod's interface; the pod namespace's addresses and
// routes go with its interface).
func (k *PodKind) Delete(ctx context.Context, id string, have PodInterface) error {
	v, st, err := k.get()
	if err != nil {
		return err
	}
	for _, a := range have.Routed {
		if err := delPodRoute(ctx, v, a, have.SwIfIndex, have.Link != "tun"); err != nil {
			return fmt.Errorf("remove route %s to pod %s: %w", a, id, err)
		}
	}
	link, err := LinkOfKind(have.Link, st.VPPNetns, k.gso)
	if err != nil {
		// Tagged as ours but of no kind we make: a tap/tun is the safe
		// guess for an interface VPP created.
		link = vhostLink{}
	}
	return link.Delete(ctx, v, id, have.SwIfIndex)
}

// VPPDataplane wires pods through the reconciler: AddPod declares the
// pod's interface and answers once VPP has it (or refused it).
type VPPDataplane struct {
	table   *reconcile.Table[string, PodInterface]
	vpp     VPPSource
	pools   PoolSource
	timeout time.Duration
}

// PoolSource returns the IP pools known now (for pod MTUs).
type PoolSource func() map[netip.Prefix]inputs.IPPool

// NewVPPDataplane registers the pod kind with r. timeout bounds how long
// an ADD or DEL waits for VPP (kubelet retries after a failure).
func NewVPPDataplane(r *reconcile.Reconciler, kind *PodKind, pools PoolSource, timeout time.Duration) *VPPDataplane {
	t := reconcile.NewTable[string, PodInterface](r, kind, func(id string) string { return id })
	return &VPPDataplane{table: t, vpp: kind.vpp, pools: pools, timeout: timeout}
}

// Resolve fixes what a pod's wiring depends on beyond the request, so it
// is recorded with the pod and survives restarts unchanged: the link
// kind (auto decided on this machine) and the MTU.
func (d *VPPDataplane) Resolve(pod Pod) Pod {
	st := d.vpp.VPPStatus()
	link := ChooseLink(pod.Spec, st.VPPNetns)
	switch link.Kind() {
	case "veth":
		pod.Spec.Interconnect = config.InterconnectVeth
	default:
		pod.Spec.Interconnect = config.InterconnectVhost
	}
	if len(st.Uplinks) > 0 {
		var pools map[netip.Prefix]inputs.IPPool
		if d.pools != nil {
			pools = d.pools()
		}
		pod.MTU = PodMTU(pod, st.Uplinks[0].MTU, pools)
	}
	return pod
}

func (d *VPPDataplane) desired(pod Pod) PodInterface {
	return DesiredInterface(pod, ChooseLink(pod.Spec, d.vpp.VPPStatus().VPPNetns).Kind())
}

// Restore declares the pods of the store (after a restart): those VPP
// still has are kept as they are.
func (d *VPPDataplane) Restore(pods []Pod) {
	all := make(map[string]PodInterface, len(pods))
	for _, p := range pods {
		all[PodID(p.Key)] = d.desired(p)
	}
	d.table.Replace(all)
}

// AddPod implements Dataplane.
func (d *VPPDataplane) AddPod(ctx context.Context, pod Pod) error {
	id := PodID(pod.Key)
	d.table.Set(id, d.desired(pod))
	wctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	if err := d.table.Await(wctx, id); err != nil {
		// Nothing half-done stays: the reconciler removes whatever it
		// managed to create once the pod is no longer wanted.
		d.table.Delete(id)
		return err
	}
	return nil
}

// DelPod implements Dataplane.
func (d *VPPDataplane) DelPod(ctx context.Context, pod Pod) error {
	id := PodID(pod.Key)
	d.table.Delete(id)
	wctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	return d.table.AwaitDeleted(wctx, id)
}

// SwIfIndex returns VPP's interface of a pod, as far as the reconciler
// knows.
func (d *VPPDataplane) SwIfIndex(k Key) (vpplink.SwIfIndex, bool) {
	a, ok := d.table.Actual(PodID(k))
	return a.SwIfIndex, ok
}
