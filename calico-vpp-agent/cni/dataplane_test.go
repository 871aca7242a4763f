package cni

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/projectcalico/calico/cni-plugin/pkg/dataplane/grpc/proto"
	"golang.org/x/sync/errgroup"

	"github.com/calico-vpp/calico-vpp/pkg/config"
	"github.com/calico-vpp/calico-vpp/pkg/reconcile"
	"github.com/calico-vpp/calico-vpp/pkg/vpplink"
	"github.com/calico-vpp/calico-vpp/test/topo"
	"github.com/calico-vpp/calico-vpp/test/vpptest"
)

// callCounter counts the reconciler's calls per kind and operation.
type callCounter struct {
	mu    sync.Mutex
	calls map[string]int
}

func (c *callCounter) SyncDone(time.Duration, error) {}
func (c *callCounter) Calls(kind, op string, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls[kind+" "+op] += n
}
func (c *callCounter) Objects(string, int, int, int) {}
func (c *callCounter) get(k string) int              { c.mu.Lock(); defer c.mu.Unlock(); return c.calls[k] }

// testAgent is the CNI part of an agent: reconciler, dataplane, server,
// store, running until stop.
type testAgent struct {
	rec    *reconcile.Reconciler
	dp     *VPPDataplane
	srv    *Server
	store  *Store
	calls  *callCounter
	cancel context.CancelFunc
	group  errgroup.Group
}

func startAgent(t testing.TB, src *vpptest.Source, storePath string) *testAgent {
	t.Helper()
	store, err := OpenStore(storePath)
	if err != nil {
		t.Fatal(err)
	}
	a := &testAgent{store: store, calls: &callCounter{calls: map[string]int{}}}
	log := vpptest.Logger(t)
	a.rec = reconcile.New(reconcile.Options{Log: log, RetryBase: 50 * time.Millisecond, Metrics: a.calls})
	a.rec.AddInput(InputPods)
	a.dp = NewVPPDataplane(a.rec, NewPodKind(src, true, log), nil, 30*time.Second)
	cfg, _, err := config.Load([]string{"NODENAME=node-a"})
	if err != nil {
		t.Fatal(err)
	}
	a.srv = NewServer(&cfg.Interfaces, store, a.dp, log)
	ctx, cancel := context.WithCancel(context.Background())
	a.cancel = cancel
	a.group.Go(func() error { return a.rec.Run(ctx) })
	a.dp.Restore(store.List())
	a.rec.InputSynced(InputPods)
	a.rec.Resync()
	t.Cleanup(a.stop)
	a.awaitConverged(t)
	return a
}

func (a *testAgent) stop() {
	a.cancel()
	_ = a.group.Wait()
}

func (a *testAgent) awaitConverged(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !a.rec.Converged() {
		if time.Now().After(deadline) {
			t.Fatalf("reconciler not converged: %+v", a.rec.Status()["pods"])
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// podAdd is Calico's ADD for a dual-stack pod in ns.
func podAdd(netnsPath string, n int, isL3 *bool, interconnect config.Interconnect) *proto.AddRequest {
	req := &proto.AddRequest{
		InterfaceName: "eth0", Netns: netnsPath, DesiredHostInterfaceName: fmt.Sprintf("cali%011d", n),
		ContainerIps: []*proto.IPConfig{
			{Address: fmt.Sprintf("198.18.100.%d/32", n+2)},
			{Address: fmt.Sprintf("2001:db8:100::%x/128", n+2)},
		},
		ContainerRoutes: []string{"0.0.0.0/0", "::/0"},
		Workload:        &proto.WorkloadIDs{Namespace: "default", Pod: fmt.Sprintf("web-%d", n), Endpoint: "eth0", Orchestrator: "k8s", Node: "node-a", Annotations: map[string]string{}},
	}
	spec := map[string]any{}
	if isL3 != nil {
		spec["isl3"] = *isL3
	}
	if interconnect != "" {
		spec["interconnect"] = string(interconnect)
	}
	if len(spec) > 0 {
		req.Workload.Annotations[InterfacesSpecAnnotation] = mustJSON(map[string]any{"eth0": spec})
	}
	return req
}

// vppPod is what VPP shows of one pod: its tagged interface and the host
// routes through it.
type vppPod struct {
	idx    vpplink.SwIfIndex
	routed []string
}

func dumpPods(t testing.TB, v *vpplink.VPP) map[string]vppPod {
	t.Helper()
	ctx := context.Background()
	ifs, err := v.Interfaces(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]vppPod{}
	byIdx := map[vpplink.SwIfIndex]string{}
	for _, i := range ifs {
		if id, ok := podIDOfTag(i.Tag); ok {
			out[id] = vppPod{idx: i.SwIfIndex}
			byIdx[i.SwIfIndex] = id
		}
	}
	for _, is6 := range []bool{false, true} {
		routes, err := v.Routes(ctx, vpplink.Table{IPv6: is6})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range routes {
			for _, p := range r.Paths {
				if id, ok := byIdx[p.SwIfIndex]; ok && r.Prefix.IsSingleIP() {
					vp := out[id]
					vp.routed = append(vp.routed, r.Prefix.String())
					out[id] = vp
				}
			}
		}
	}
	for id, vp := range out {
		slices.Sort(vp.routed)
		out[id] = vp
	}
	return out
}

// linkIndex is the kernel's ifindex of the pod's eth0: a re-created
// interface gets a new one.
func linkIndex(t testing.TB, ns *topo.Netns) string {
	t.Helper()
	out := ns.Run(t, "ip", "-o", "link", "show", "dev", "eth0")
	idx, _, _ := strings.Cut(out, ":")
	return idx
}

func checkPodNetns(t testing.TB, ns *topo.Netns, n int) {
	t.Helper()
	addrs := ns.Run(t, "ip", "-br", "addr", "show", "dev", "eth0")
	for _, want := range []string{fmt.Sprintf("198.18.100.%d/32", n+2), fmt.Sprintf("2001:db8:100::%x/128", n+2)} {
		if !strings.Contains(addrs, want) {
			t.Errorf("pod %d eth0 addresses %q lack %s", n, addrs, want)
		}
	}
	if r := ns.Run(t, "ip", "route", "show", "default"); !strings.Contains(r, "via 169.254.1.1 dev eth0") || !strings.Contains(r, "onlink") {
		t.Errorf("pod %d IPv4 default route = %q", n, r)
	}
	if r := ns.Run(t, "ip", "-6", "route", "show", "default"); !strings.Contains(r, "via "+PodGatewayIPv6.String()+" dev eth0") {
		t.Errorf("pod %d IPv6 default route = %q", n, r)
	}
}

func requireVhostForRealVPP(t *testing.T, link string) {
	if link != "veth" && vpptest.RealVPP() {
		if _, err := os.Stat("/dev/vhost-net"); err != nil {
			t.Skip("a real VPP cannot create taps/tuns without /dev/vhost-net")
		}
	}
}

// ADD and DEL of a dual-stack pod through the CNI server, the reconciler
// and VPP, for each kind of pod link.
func TestPodWiredAndUnwired(t *testing.T) {
	topo.RequirePrivileged(t)
	l2 := false
	cases := []struct {
		name         string
		isL3         *bool
		interconnect config.Interconnect
		noVhostNet   bool
		link         string
	}{
		{"tun", nil, config.InterconnectVhost, false, "tun"},
		{"tap", &l2, config.InterconnectVhost, false, "tap"},
		{"veth (auto without vhost-net)", nil, "", true, "veth"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			requireVhostForRealVPP(t, c.link)
			inst := vpptest.Start(t, vpptest.Options{NoVhostNet: c.noVhostNet})
			src := &vpptest.Source{}
			src.Attach(t, inst)
			a := startAgent(t, src, filepath.Join(t.TempDir(), "pods.json"))
			ns := topo.NewNetns(t, "pod")
			ctx := context.Background()
			if c.noVhostNet && !vpptest.RealVPP() {
				// auto decides on the agent's machine: pin it when the
				// machine has vhost-net but fakevpp pretends not to.
				c.interconnect = config.InterconnectVeth
			}
			reply, err := a.srv.Add(ctx, podAdd(ns.Path(), 1, c.isL3, c.interconnect))
			if err != nil || !reply.Successful {
				t.Fatalf("ADD: %v %+v", err, reply)
			}
			if reply.HostInterfaceName != "cali00000000001" {
				t.Errorf("host interface name = %q", reply.HostInterfaceName)
			}
			rec := a.store.List()
			if len(rec) != 1 || rec[0].Spec.Interconnect == config.InterconnectAuto || rec[0].MTU != 1500 {
				t.Fatalf("recorded pod = %+v, want a resolved interconnect and MTU 1500", rec)
			}
			pods := dumpPods(t, inst.VPP)
			vp, ok := pods[PodID(rec[0].Key)]
			want := []string{"198.18.100.3/32", "2001:db8:100::3/128"}
			if !ok || !slices.Equal(vp.routed, want) {
				t.Fatalf("VPP pods = %+v, want the pod's interface routing %v", pods, want)
			}
			if got, _ := a.dp.SwIfIndex(rec[0].Key); got != vp.idx {
				t.Errorf("dataplane reports sw_if_index %d, VPP %d", got, vp.idx)
			}
			if kind := a.rec.Status()["pods"][PodID(rec[0].Key)]; kind.State != reconcile.StateApplied {
				t.Errorf("status = %+v", kind)
			}
			checkPodNetns(t, ns, 1)
			if c.link != "tun" {
				out := ns.Run(t, "ip", "link", "show", "dev", "eth0")
				if !strings.Contains(out, ContainerMAC(rec[0].Key).String()) {
					t.Errorf("pod eth0 %q does not have the reported MAC %s", out, ContainerMAC(rec[0].Key))
				}
				neigh, err := inst.VPP.Neighbors(ctx, vp.idx, false)
				if err != nil || len(neigh) != 1 || neigh[0].MAC.String() != ContainerMAC(rec[0].Key).String() {
					t.Errorf("VPP neighbours towards the pod = %v, %v", neigh, err)
				}
			}

			del := &proto.DelRequest{Netns: ns.Path(), InterfaceName: "eth0"}
			for range 2 { // DEL is idempotent
				if reply, err := a.srv.Del(ctx, del); err != nil || !reply.Successful {
					t.Fatalf("DEL: %v %+v", err, reply)
				}
			}
			if pods := dumpPods(t, inst.VPP); len(pods) != 0 {
				t.Errorf("VPP pods after DEL = %+v", pods)
			}
			if out, err := ns.Output("ip", "link", "show", "dev", "eth0"); err == nil {
				t.Errorf("pod eth0 left after DEL:\n%s", out)
			}
			if out := inst.Netns.Run(t, "ip", "-br", "link"); strings.Contains(out, "cvp") {
				t.Errorf("veth end left in VPP's netns:\n%s", out)
			}
			if len(a.store.List()) != 0 {
				t.Errorf("store after DEL = %+v", a.store.List())
			}
		})
	}
}

// Bad input fails the ADD with a clear error and leaves nothing: not in
// VPP, not in the store.
func TestPodAddFailureLeavesNothing(t *testing.T) {
	topo.RequirePrivileged(t)
	inst := vpptest.Start(t, vpptest.Options{NoVhostNet: true})
	src := &vpptest.Source{}
	src.Attach(t, inst)
	a := startAgent(t, src, filepath.Join(t.TempDir(), "pods.json"))
	ctx := context.Background()
	reply, err := a.srv.Add(ctx, podAdd("/var/run/netns/cvpp-no-such-pod", 1, nil, config.InterconnectVeth))
	if err != nil || reply.Successful || !strings.Contains(reply.ErrorMessage, "cvpp-no-such-pod") {
		t.Fatalf("ADD into a missing netns: %v %+v", err, reply)
	}
	a.awaitConverged(t)
	if pods := dumpPods(t, inst.VPP); len(pods) != 0 || len(a.store.List()) != 0 {
		t.Errorf("left behind: VPP %+v, store %+v", pods, a.store.List())
	}
	if out := inst.Netns.Run(t, "ip", "-br", "link"); strings.Contains(out, "cvp") {
		t.Errorf("veth end left in VPP's netns:\n%s", out)
	}
	// DEL of a pod whose netns vanished succeeds and cleans VPP.
	ns := topo.NewNetns(t, "pod")
	if reply, _ := a.srv.Add(ctx, podAdd(ns.Path(), 2, nil, config.InterconnectVeth)); !reply.Successful {
		t.Fatal(reply.ErrorMessage)
	}
	path := ns.Path()
	ns.Delete(t)
	if reply, _ := a.srv.Del(ctx, &proto.DelRequest{Netns: path, InterfaceName: "eth0"}); !reply.Successful {
		t.Fatalf("DEL after the netns vanished: %s", reply.ErrorMessage)
	}
	if pods := dumpPods(t, inst.VPP); len(pods) != 0 {
		t.Errorf("VPP pods after DEL = %+v", pods)
	}
}

// An agent restart keeps every pod as it is: no interface re-created, the
// same sw_if_index, the same kernel interface in the pod.
func TestAgentRestartKeepsPods(t *testing.T) {
	topo.RequirePrivileged(t)
	const n = 20
	inst := vpptest.Start(t, vpptest.Options{NoVhostNet: vpptest.RealVPP()})
	src := &vpptest.Source{}
	src.Attach(t, inst)
	storePath := filepath.Join(t.TempDir(), "pods.json")
	a := startAgent(t, src, storePath)
	ctx := context.Background()
	nss := make([]*topo.Netns, n)
	for i := range nss {
		nss[i] = topo.NewNetns(t, "pod")
	}
	var g errgroup.Group
	for i, ns := range nss {
		g.Go(func() error {
			reply, err := a.srv.Add(ctx, podAdd(ns.Path(), i, nil, ""))
			if err != nil || !reply.Successful {
				return fmt.Errorf("ADD %d: %v %s", i, err, reply.GetErrorMessage())
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	before := dumpPods(t, inst.VPP)
	links := make([]string, n)
	for i, ns := range nss {
		links[i] = linkIndex(t, ns)
	}
	if len(before) != n {
		t.Fatalf("VPP has %d pods, want %d", len(before), n)
	}
	a.stop()

	b := startAgent(t, src, storePath)
	if c := b.calls.get("pods create") + b.calls.get("pods update") + b.calls.get("pods delete"); c != 0 {
		t.Errorf("restarted agent made %d pod changes, want none (calls %v)", c, b.calls.calls)
	}
	after := dumpPods(t, inst.VPP)
	for id, vp := range before {
		if got := after[id]; got.idx != vp.idx || !slices.Equal(got.routed, vp.routed) {
			t.Errorf("pod %s: before %+v, after %+v", id, vp, got)
		}
	}
	for i, ns := range nss {
		if got := linkIndex(t, ns); got != links[i] {
			t.Errorf("pod %d eth0 re-created (ifindex %s -> %s)", i, links[i], got)
		}
	}
}

// A VPP restart loses the pods' interfaces; the agent re-creates them in
// the same namespaces with the same addresses.
func TestVPPRestartRecreatesPods(t *testing.T) {
	topo.RequirePrivileged(t)
	inst := vpptest.Start(t, vpptest.Options{NoVhostNet: vpptest.RealVPP()})
	src := &vpptest.Source{}
	src.Attach(t, inst)
	a := startAgent(t, src, filepath.Join(t.TempDir(), "pods.json"))
	ctx := context.Background()
	nss := []*topo.Netns{topo.NewNetns(t, "pod"), topo.NewNetns(t, "pod")}
	for i, ns := range nss {
		if reply, _ := a.srv.Add(ctx, podAdd(ns.Path(), i, nil, "")); !reply.Successful {
			t.Fatal(reply.ErrorMessage)
		}
	}
	inst.Stop(t)
	restarted := vpptest.Start(t, vpptest.Options{Netns: inst.Netns, NoVhostNet: vpptest.RealVPP()})
	src.Attach(t, restarted)
	a.rec.Resync()
	time.Sleep(10 * time.Millisecond) // let the resync start before waiting on it
	a.awaitConverged(t)
	pods := dumpPods(t, restarted.VPP)
	if len(pods) != len(nss) {
		t.Fatalf("VPP pods after its restart = %+v", pods)
	}
	for i, ns := range nss {
		checkPodNetns(t, ns, i)
		id := PodID(Key{Netns: ns.Path(), InterfaceName: "eth0"})
		want := []string{fmt.Sprintf("198.18.100.%d/32", i+2), fmt.Sprintf("2001:db8:100::%x/128", i+2)}
		if !slices.Equal(pods[id].routed, want) {
			t.Errorf("pod %d routes = %v, want %v", i, pods[id].routed, want)
		}
	}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// BenchmarkPodAddDel measures CNI ADD and DEL latency through the server,
// the reconciler and VPP (fakevpp, or VPP_BINARY): one pod at a time, and
// 50 pods at once. Each worker re-uses its namespace for a new pod each
// round. Reports p50/p99 in milliseconds.
func BenchmarkPodAddDel(b *testing.B) {
	for _, workers := range []int{1, 50} {
		b.Run(fmt.Sprintf("concurrent=%d", workers), func(b *testing.B) {
			inst := vpptest.Start(b, vpptest.Options{NoVhostNet: vpptest.RealVPP()})
			src := &vpptest.Source{}
			src.Attach(b, inst)
			a := startAgent(b, src, filepath.Join(b.TempDir(), "pods.json"))
			nss := make([]*topo.Netns, workers)
			for i := range nss {
				nss[i] = topo.NewNetns(b, "pod")
			}
			var mu sync.Mutex
			var adds, dels []time.Duration
			ctx := context.Background()
			b.ResetTimer()
			var g errgroup.Group
			for w, ns := range nss {
				g.Go(func() error {
					for i := w; i < b.N; i += workers {
						start := time.Now()
						reply, err := a.srv.Add(ctx, podAdd(ns.Path(), w, nil, ""))
						added := time.Since(start)
						if err != nil || !reply.Successful {
							return fmt.Errorf("ADD: %v %s", err, reply.GetErrorMessage())
						}
						start = time.Now()
						dreply, err := a.srv.Del(ctx, &proto.DelRequest{Netns: ns.Path(), InterfaceName: "eth0"})
						deleted := time.Since(start)
						if err != nil || !dreply.Successful {
							return fmt.Errorf("DEL: %v %s", err, dreply.GetErrorMessage())
						}
						mu.Lock()
						adds, dels = append(adds, added), append(dels, deleted)
						mu.Unlock()
					}
					return nil
				})
			}
			if err := g.Wait(); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			b.ReportMetric(percentileMs(adds, 50), "add-p50-ms")
			b.ReportMetric(percentileMs(adds, 99), "add-p99-ms")
			b.ReportMetric(percentileMs(dels, 50), "del-p50-ms")
			b.ReportMetric(percentileMs(dels, 99), "del-p99-ms")
		})
	}
}

func percentileMs(d []time.Duration, p int) float64 {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := min(len(s)-1, len(s)*p/100)
	return float64(s[i]) / float64(time.Millisecond)
}
