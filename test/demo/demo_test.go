// Package demo is the README's main job (make demo): a two-node Calico/VPP
// cluster on this machine, all in network namespaces it creates and
// removes. A real control plane (etcd, kube-apiserver,
// kube-controller-manager); two nodes whose uplink vpp-manager hands to
// VPP (a real one from VPP_BINARY or PATH, else fakevpp) with the agent
// beside it; pods through Calico's CNI plugin and calico-ipam; then what a
// user wants to see, through kubectl and calivppctl. It is a test so that
// the harness's teardown always runs: make demo runs the compiled test
// with -demo.wait (up until Ctrl-C); make test runs it straight through.
package demo

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/calico-vpp/calico-vpp/test/cluster"
	"github.com/calico-vpp/calico-vpp/test/node"
	"github.com/calico-vpp/calico-vpp/test/vpptest"
)

var wait = flag.Bool("demo.wait", false, "stay up after printing, until Ctrl-C (SIGINT or SIGTERM), then tear down")

const sampleApps = `apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {tier: web}
  ports: [{port: 80, protocol: TCP}]
`

func step(format string, args ...any) { fmt.Printf("\n== "+format+"\n", args...) }

// show prints a command's output, indented.
func show(title, out string, err error) {
	step("%s", title)
	if err != nil {
		out += "(" + err.Error() + ")\n"
	}
	fmt.Print("   " + strings.ReplaceAll(strings.TrimRight(out, "\n"), "\n", "\n   ") + "\n")
}

// whichVPP makes a vpp on PATH the VPP under test when VPP_BINARY is not
// set, and says which VPP runs.
func whichVPP(t *testing.T) string {
	if os.Getenv(vpptest.EnvVPPBinary) == "" {
		if p, err := exec.LookPath("vpp"); err == nil {
			t.Setenv(vpptest.EnvVPPBinary, p)
		}
	}
	if p := os.Getenv(vpptest.EnvVPPBinary); p != "" {
		return "a real VPP (" + p + "): pods' traffic is forwarded"
	}
	return "fakevpp, our VPP 25.10 stand-in (no VPP on PATH or in VPP_BINARY): VPP is programmed as a real one would be and the nodes' own traffic crosses it; pods' packets are not forwarded"
}

func TestDemo(t *testing.T) {
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(signals)
	stopIfAsked := func() {
		select {
		case s := <-signals:
			step("%s: tearing down", s)
			t.SkipNow() // cleanups still run
		default:
		}
	}

	step("VPP: %s", whichVPP(t))
	step("control plane: etcd, kube-apiserver, kube-controller-manager on 127.0.0.1; Calico's CRDs")
	bin, cp := node.Cluster(t, "../..", node.TwoNodeObjects+"---\n"+sampleApps)
	stopIfAsked()

	step("two nodes on a LAN behind an upstream router (%s): vpp-manager hands eth0 to VPP, the agent starts", node.RouterAddr)
	nodes, _ := node.StartTwo(t, bin, cp)
	for _, n := range nodes {
		n.AwaitReady(t)
	}
	stopIfAsked()

	step("pods through Calico's CNI plugin and calico-ipam (gRPC dataplane: our agent)")
	var pods []*node.Pod
	for _, p := range []struct{ name, node string }{{"web-1", "node-a"}, {"web-2", "node-a"}, {"web-3", "node-b"}} {
		pod := nodes[p.node].RunPod(t, p.name, node.CalicoPlugin)
		if out, err := cp.Kubectl("label", "pod", p.name, "tier=web"); err != nil {
			t.Fatalf("label %s: %v\n%s", p.name, err, out)
		}
		pods = append(pods, pod)
	}
	awaitBlockRoutes(t, cp, nodes)
	stopIfAsked()

	for _, c := range [][]string{
		{"get", "nodes", "-o", "wide"},
		{"get", "pods", "-o", "wide"},
		{"get", "ippools.crd.projectcalico.org", "-o", "custom-columns=POOL:.metadata.name,CIDR:.spec.cidr,IPIP:.spec.ipipMode,VXLAN:.spec.vxlanMode"},
		{"get", "blockaffinities.crd.projectcalico.org", "-o", "custom-columns=NODE:.spec.node,BLOCK:.spec.cidr,STATE:.spec.state"},
		{"get", "endpointslices", "-l", "kubernetes.io/service-name=web"},
	} {
		out, err := cp.Kubectl(c...)
		show("kubectl "+strings.Join(c, " "), out, err)
	}
	for _, name := range []string{"node-a", "node-b"} {
		n := nodes[name]
		st, err := readStatus(n)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		sessions, established := bgpSessions(st)
		show(name+": BGP sessions (the agent's status)", sessions, nil)
		if established == 0 {
			t.Errorf("%s has no established BGP session", name)
		}
		podTable, wired := podInterfaces(st)
		show(name+": pods and their VPP interfaces (the agent's status)", podTable, nil)
		if want := map[string]int{"node-a": 2, "node-b": 1}[name]; wired != want {
			t.Errorf("%s: %d pods wired to VPP, want %d", name, wired, want)
		}
		for _, c := range []string{"show interface", "show ip fib", "show ipip tunnel", "show cnat translation"} {
			out, err := n.Calivppctl(append([]string{"vppctl"}, strings.Fields(c)...)...)
			show(name+": calivppctl vppctl "+c, out, err)
			if err != nil {
				t.Errorf("calivppctl vppctl %s on %s: %v", c, name, err)
			}
		}
		out, err := n.Exec("ip", "-br", "addr")
		show(name+": the host's interfaces (eth0 is VPP's now; vpptap0 carries its address)", out, err)
	}
	if vpptest.RealVPP() {
		out, err := pods[0].Netns.Output("ping", "-c", "3", "-W", "2", pods[2].IPs[0])
		show(fmt.Sprintf("ping from %s (node-a) to %s (node-b)", pods[0].Name, pods[2].Name), out, err)
		if err != nil {
			t.Errorf("pod-to-pod ping across nodes: %v", err)
		}
	}

	if *wait {
		step("the cluster is up (kubectl --kubeconfig %s ...). Ctrl-C tears it down.", cp.Kubeconfig)
		s := <-signals
		step("%s received", s)
	}
	step("tearing down: agents, vpp-manager (each uplink restored), control plane, namespaces")
}

// awaitBlockRoutes waits until each node's VPP routes every IPAM block of
// the other node, through the tunnel to it.
func awaitBlockRoutes(t *testing.T, cp *cluster.ControlPlane, nodes map[string]*node.Node) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		missing := ""
		out, err := cp.Kubectl("get", "blockaffinities.crd.projectcalico.org", "-o", `jsonpath={range .items[*]}{.spec.node} {.spec.cidr}{"\n"}{end}`)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			owner, block, ok := strings.Cut(line, " ")
			if !ok {
				missing += "no IPAM block yet; "
				continue
			}
			for name, n := range nodes {
				if name == owner {
					continue
				}
				paths, err := vpptest.Paths(t.Context(), n.VPP(t), block)
				if err != nil {
					t.Fatal(err)
				}
				addr, _, _ := strings.Cut(node.NodeAddrs[owner], "/")
				if got := strings.Join(paths[block], ","); got != "ipip->"+addr {
					missing += fmt.Sprintf("%s routes %s (%s's) via %q; ", name, block, owner, got)
				}
			}
		}
		if missing == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("routes not converged: %s", missing)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// agentStatus is the part of the agent's /status the demo shows.
type agentStatus struct {
	Components struct {
		Routing struct {
			Status struct {
				Peers []struct {
					Peer        string `json:"peer"`
					AS          uint32 `json:"as"`
					Source      string `json:"source"`
					Established bool   `json:"established"`
					EndOfRIB    bool   `json:"endOfRib"`
				} `json:"peers"`
			} `json:"status"`
		} `json:"routing"`
		CNI struct {
			Status struct {
				Pods []struct {
					Pod       string   `json:"pod"`
					Addresses []string `json:"addresses"`
					Link      string   `json:"link"`
					SwIfIndex *uint32  `json:"swIfIndex"`
				} `json:"pods"`
			} `json:"status"`
		} `json:"cni"`
	} `json:"components"`
}

func readStatus(n *node.Node) (agentStatus, error) {
	var st agentStatus
	_, body := n.Probe("/status")
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		return st, fmt.Errorf("agent status %q: %w", body, err)
	}
	return st, nil
}

// bgpSessions renders the routing component's peers, and counts the
// established ones.
func bgpSessions(st agentStatus) (string, int) {
	peers := st.Components.Routing.Status.Peers
	sort.Slice(peers, func(i, j int) bool { return peers[i].Peer < peers[j].Peer })
	lines := []string{fmt.Sprintf("%-22s %-7s %-6s %-12s %s", "PEER", "AS", "SOURCE", "STATE", "END-OF-RIB")}
	established := 0
	for _, p := range peers {
		state := "connecting"
		if p.Established {
			state = "established"
			established++
		}
		lines = append(lines, fmt.Sprintf("%-22s %-7d %-6s %-12s %v", p.Peer, p.AS, p.Source, state, p.EndOfRIB))
	}
	return strings.Join(lines, "\n"), established
}

// podInterfaces renders the CNI component's pods with their VPP
// interfaces, and counts those VPP holds.
func podInterfaces(st agentStatus) (string, int) {
	pods := st.Components.CNI.Status.Pods
	sort.Slice(pods, func(i, j int) bool { return pods[i].Pod < pods[j].Pod })
	lines := []string{fmt.Sprintf("%-16s %-22s %-6s %s", "POD", "ADDRESSES", "LINK", "VPP SW_IF_INDEX")}
	wired := 0
	for _, p := range pods {
		idx := "-"
		if p.SwIfIndex != nil {
			idx = fmt.Sprint(*p.SwIfIndex)
			wired++
		}
		lines = append(lines, fmt.Sprintf("%-16s %-22s %-6s %s", p.Pod, strings.Join(p.Addresses, ","), p.Link, idx))
	}
	return strings.Join(lines, "\n"), wired
}
