package vppmanager_test

// End-to-end tests of the vpp-manager binary. A test "node" is a network
// namespace whose uplink is a veth to a second namespace, the upstream
// router. vpp-manager runs in the node namespace with fakevpp (or
// VPP_BINARY) as its VPP; the tests check the takeover in Linux and in
// VPP's dumps, and that Linux is restored exactly afterwards.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sync/errgroup"

	"github.com/calico-vpp/calico-vpp/pkg/config"
	"github.com/calico-vpp/calico-vpp/pkg/vpplink"
	"github.com/calico-vpp/calico-vpp/test/testutil"
	"github.com/calico-vpp/calico-vpp/test/topo"
	"github.com/calico-vpp/calico-vpp/test/vpptest"
	vppmanager "github.com/calico-vpp/calico-vpp/vpp-manager"
	"github.com/calico-vpp/calico-vpp/vpp-manager/linuxstate"
	"github.com/calico-vpp/calico-vpp/vpp-manager/nsutil"
)

type node struct {
	t        *testing.T
	ns       *topo.Netns
	router   *topo.Netns
	uplink   string
	dir      string
	vppNetns string
	handle   *netlink.Handle
	nsHandle netns.NsHandle
	before   *linuxstate.Uplink
}

func buildManager(t *testing.T) string {
	t.Helper()
	if b := os.Getenv("VPP_MANAGER_BINARY"); b != "" {
		return b
	}
	out := filepath.Join(t.TempDir(), "vpp-manager")
	cmd := exec.Command("go", "build", "-o", out, "github.com/calico-vpp/calico-vpp/cmd/vpp-manager")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build vpp-manager: %v\n%s", err, b)
	}
	return out
}

// newNode builds the topology; ipv4/ipv6 select the uplink's families.
func newNode(t *testing.T, ipv4, ipv6 bool, extra ...[]string) *node {
	t.Helper()
	n := &node{t: t, ns: topo.NewNetns(t, "node"), router: topo.NewNetns(t, "rtr")}
	n.uplink, _ = topo.Veth(t, n.ns, n.router)
	_, peer := n.uplink, ""
	for _, l := range strings.Fields(n.router.Run(t, "ip", "-o", "link", "show", "type", "veth")) {
		if strings.HasPrefix(l, "vb") {
			peer = strings.TrimSuffix(strings.Split(l, "@")[0], ":")
		}
	}
	if ipv4 {
		n.router.Run(t, "ip", "addr", "add", "198.18.0.1/24", "dev", peer)
		n.ns.Run(t, "ip", "addr", "add", "198.18.0.2/24", "dev", n.uplink)
		n.ns.Run(t, "ip", "route", "add", "default", "via", "198.18.0.1")
	}
	if ipv6 {
		n.router.Run(t, "ip", "addr", "add", "2001:db8::1/64", "dev", peer, "nodad")
		n.ns.Run(t, "ip", "addr", "add", "2001:db8::2/64", "dev", n.uplink, "nodad")
		n.ns.Run(t, "ip", "-6", "route", "add", "default", "via", "2001:db8::1")
	}
	for _, cmd := range extra {
		args := make([]string, len(cmd))
		for i, a := range cmd {
			args[i] = strings.ReplaceAll(a, "UPLINK", n.uplink)
		}
		n.ns.Run(t, args...)
	}
	var err error
	if n.nsHandle, err = netns.GetFromName(n.ns.Name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.nsHandle.Close() })
	if n.handle, err = netlink.NewHandleAt(n.nsHandle); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.handle.Close)
	if n.before, err = linuxstate.Capture(n.handle, nil, n.uplink); err != nil {
		t.Fatal(err)
	}
	n.dir, err = os.MkdirTemp("", "cvmgr")
	if err != nil {
		t.Fatal(err)
	}
	n.vppNetns = topo.UniqueName("cvtvppns")
	t.Cleanup(func() {
		_ = exec.Command("ip", "netns", "del", n.vppNetns).Run()
		_ = os.RemoveAll(n.dir)
	})
	return n
}

func (n *node) env(driver, interconnect, extraTemplate string) []string {
	ifaces := fmt.Sprintf(`{"uplinkInterfaces":[{"interfaceName":%q,"vppDriver":%q}],"vppHostTapSpec":{"interconnect":%q}}`, n.uplink, driver, interconnect)
	return append(append(os.Environ(),
		"NODENAME=test-node",
		"CALICOVPP_INTERFACES="+ifaces,
		"CALICOVPP_CONFIG_TEMPLATE="+vpptest.ManagedTemplate(filepath.Base(n.dir))+extraTemplate,
		"CALICOVPP_VPP_STARTUP_CONF="+n.dir+"/startup.conf",
		"CALICOVPP_VPP_API_SOCKET="+n.dir+"/api.sock",
		"CALICOVPP_VPP_NETNS="+n.vppNetns,
		"CALICOVPP_RUN_DIR="+n.dir,
		"CALICOVPP_GRACEFUL_SHUTDOWN_TIMEOUT=5s",
		"CALICOVPP_TAP0_ADDR=198.18.255.1/32", // test ranges only
		"CALICOVPP_LOG_LEVEL=debug",
	), vpptest.ManagedEnv(n.t)...)
}

type managerProc struct {
	started time.Time
	cmd     *exec.Cmd
	out     *testutil.SyncBuffer
	exited  chan error
	group   errgroup.Group
}

// start runs vpp-manager in the node namespace (not through ip netns exec,
// whose private mount namespace would hide VPP's named namespace).
func (n *node) start(binary string, env []string) *managerProc {
	n.t.Helper()
	p := &managerProc{started: time.Now(), cmd: exec.Command(binary), out: &testutil.SyncBuffer{}, exited: make(chan error, 1)}
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := nsutil.Start(n.nsHandle, p.cmd); err != nil {
		n.t.Fatal(err)
	}
	p.group.Go(func() error { p.exited <- p.cmd.Wait(); return nil })
	n.t.Cleanup(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(15 * time.Second):
			_ = p.cmd.Process.Kill()
		}
		_ = p.group.Wait()
		if n.t.Failed() {
			n.t.Logf("vpp-manager output:\n%s", p.out.String())
		}
	})
	return p
}

func (p *managerProc) wait(t *testing.T, timeout time.Duration) error {
	t.Helper()
	select {
	case err := <-p.exited:
		p.exited <- err
		return err
	case <-time.After(timeout):
		t.Fatalf("vpp-manager did not exit within %s\n%s", timeout, p.out.String())
		return nil
	}
}

// waitStatus waits until the status file, as written by this process
// (updated after it started), says want.
func (n *node) waitStatus(p *managerProc, want vppmanager.State) vppmanager.Status {
	n.t.Helper()
	return n.waitStatusOf(p.started, p.exited, p.out.String, want)
}

func (n *node) waitStatusOf(started time.Time, exited chan error, output func() string, want vppmanager.State) vppmanager.Status {
	n.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		st, err := vppmanager.ReadStatus(filepath.Join(n.dir, vppmanager.StatusFile))
		if err == nil && st.State == want && st.Updated.After(started) {
			return st
		}
		select {
		case err := <-exited:
			exited <- err
			n.t.Fatalf("vpp-manager exited (%v) before reaching %s\n%s", err, want, output())
		case <-time.After(50 * time.Millisecond):
		}
	}
	n.t.Fatalf("vpp-manager did not reach %s\n%s", want, output())
	return vppmanager.Status{}
}

// checkTakeover asserts the node's Linux and VPP state while VPP runs.
func (n *node) checkTakeover(st vppmanager.Status, wantMode string) {
	n.checkTakeoverWith(st, wantMode, "af_packet")
}

func (n *node) checkTakeoverWith(st vppmanager.Status, wantMode, wantDriver string) {
	t := n.t
	t.Helper()
	if _, err := n.handle.LinkByName(n.uplink); err == nil {
		t.Errorf("uplink %s still in the node namespace", n.uplink)
	}
	tap, err := linuxstate.Capture(n.handle, nil, "vpptap0")
	if err != nil {
		t.Fatalf("vpptap0: %v", err)
	}
	if tap.MAC != n.before.MAC || tap.MTU != n.before.MTU || !reflect.DeepEqual(tap.Addresses, n.before.Addresses) || !reflect.DeepEqual(tap.Routes, n.before.Routes) {
		t.Errorf("vpptap0 = %+v\nwant the uplink's MAC, MTU, addresses and routes: %+v", tap, n.before)
	}
	if st.HostInterface.Mode != wantMode || st.HostInterface.Name != "vpptap0" || len(st.Uplinks) == 0 || st.Uplinks[0].Driver != wantDriver {
		t.Errorf("status = %+v", st)
	}
	log := logrus.New()
	log.SetLevel(logrus.WarnLevel)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	v, err := vpplink.Connect(ctx, n.dir+"/api.sock", log.WithField("test", t.Name()), vpplink.ConnectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	up, err := v.Interface(ctx, vpplink.SwIfIndex(st.Uplinks[0].SwIfIndex))
	wantName := "host-" + n.uplink
	if wantDriver == "af_xdp" {
		wantName = n.uplink + "/0"
	}
	if err != nil || up.Name != wantName || !up.AdminUp || up.MAC.String() != n.before.MAC {
		t.Errorf("VPP uplink = %+v, %v", up, err)
	}
	for _, is6 := range []bool{false, true} {
		addrs, err := v.InterfaceAddresses(ctx, up.SwIfIndex, is6)
		if err != nil {
			t.Fatal(err)
		}
		var want []netip.Prefix
		for _, a := range n.before.Addresses {
			if a.Prefix.Addr().Is6() == is6 {
				want = append(want, a.Prefix)
			}
		}
		if !slices.Equal(addrs, want) {
			t.Errorf("VPP uplink addresses (v6=%v) = %v, want %v", is6, addrs, want)
		}
		routes, err := v.Routes(ctx, vpplink.Table{IPv6: is6})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range n.before.Routes {
			if r.Dst.Addr().Is6() != is6 {
				continue
			}
			// Every next hop on the uplink, with its weight (ECMP included).
			var want []string
			if len(r.MultiPath) == 0 {
				want = append(want, fmt.Sprintf("%s/%d/1", r.Gw, up.SwIfIndex))
			}
			for _, nh := range r.MultiPath {
				if nh.Dev == "" {
					want = append(want, fmt.Sprintf("%s/%d/%d", nh.Gw, up.SwIfIndex, max(nh.Weight, 1)))
				}
			}
			slices.Sort(want)
			var got []string
			for _, vr := range routes {
				if vr.Prefix == r.Dst {
					for _, p := range vr.Paths {
						got = append(got, fmt.Sprintf("%s/%d/%d", p.Gateway, p.SwIfIndex, max(p.Weight, 1)))
					}
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("VPP route %s paths (gw/sw_if_index/weight) = %v, want %v", r, got, want)
			}
		}
	}
	tapIf, err := v.Interface(ctx, vpplink.SwIfIndex(st.HostInterface.SwIfIndex))
	if err != nil || tapIf.Tag != "calico-vpp:host-tap" || !tapIf.AdminUp {
		t.Errorf("VPP host interface = %+v, %v", tapIf, err)
	}
}

// checkRestored asserts the node has exactly its original uplink again.
func (n *node) checkRestored() {
	t := n.t
	t.Helper()
	after, err := linuxstate.Capture(n.handle, nil, n.uplink)
	if err != nil {
		t.Fatalf("uplink not back: %v", err)
	}
	if !reflect.DeepEqual(after, n.before) {
		t.Errorf("uplink after restore:\n%+v\nwant\n%+v", after, n.before)
	}
	if _, err := n.handle.LinkByName("vpptap0"); err == nil {
		t.Error("vpptap0 left behind")
	}
	if _, err := os.Stat("/var/run/netns/" + n.vppNetns); err == nil {
		t.Error("VPP's network namespace left behind")
	}
}

func TestTakeoverAndRestore(t *testing.T) {
	bin := buildManager(t)
	cases := []struct {
		name         string
		v4, v6       bool
		driver       string // "" for auto
		wantDriver   string
		interconnect string
		wantMode     string
		extra        [][]string
	}{
		{"dual stack tap", true, true, "af_packet", "af_packet", "vhost", "vhost", nil},
		{"dual stack veth", true, true, "af_packet", "af_packet", "veth", "veth", nil},
		{"ipv4 only", true, false, "af_packet", "af_packet", "veth", "veth", nil},
		{"ipv6 only", false, true, "af_packet", "af_packet", "vhost", "vhost", nil},
		{"af_xdp", true, true, "af_xdp", "af_xdp", "veth", "veth", nil},
		// A veth is no PCI device: auto skips virtio and AVF and picks AF_XDP.
		{"auto driver", true, false, "", "af_xdp", "veth", "veth", nil},
		{"several addresses and routes", true, true, "af_packet", "af_packet", "veth", "veth", [][]string{
			{"ip", "addr", "add", "198.18.7.2/24", "dev", "UPLINK"},
			{"ip", "route", "add", "203.0.113.0/24", "via", "198.18.0.1", "metric", "50"},
			{"ip", "link", "set", "UPLINK", "mtu", "1400"},
		}},
		{"ecmp routes", true, true, "af_packet", "af_packet", "veth", "veth", [][]string{
			{"ip", "route", "add", "198.51.100.0/24", "nexthop", "via", "198.18.0.1", "weight", "3", "nexthop", "via", "198.18.0.3"},
			{"ip", "-6", "route", "add", "2001:db8:1::/64", "nexthop", "via", "2001:db8::1", "nexthop", "via", "2001:db8::3"},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.wantMode == "vhost" && vpptest.RealVPP() {
				if _, err := os.Stat("/dev/vhost-net"); err != nil {
					t.Skip("a real VPP cannot create taps without /dev/vhost-net")
				}
			}
			n := newNode(t, c.v4, c.v6, c.extra...)
			p := n.start(bin, n.env(c.driver, c.interconnect, ""))
			st := n.waitStatus(p, vppmanager.StateRunning)
			n.checkTakeoverWith(st, c.wantMode, c.wantDriver)
			if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			if err := p.wait(t, 30*time.Second); err != nil {
				t.Errorf("vpp-manager exit after SIGTERM: %v\n%s", err, p.out.String())
			}
			n.checkRestored()
			if st, _ := vppmanager.ReadStatus(filepath.Join(n.dir, vppmanager.StatusFile)); st.State != vppmanager.StateStopped {
				t.Errorf("final status = %+v", st)
			}
		})
	}
}

func TestVPPCrashRestoresLinux(t *testing.T) {
	bin := buildManager(t)
	n := newNode(t, true, true)
	p := n.start(bin, n.env("af_packet", "veth", ""))
	st := n.waitStatus(p, vppmanager.StateRunning)
	if err := syscall.Kill(st.VPPPID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err := p.wait(t, 30*time.Second)
	if code := vpptest.ExitCode(err); code != 1 {
		t.Errorf("exit code after VPP crash = %d, want 1\n%s", code, p.out.String())
	}
	n.checkRestored()
	if st, _ := vppmanager.ReadStatus(filepath.Join(n.dir, vppmanager.StatusFile)); st.State != vppmanager.StateErrored {
		t.Errorf("final status = %+v", st)
	}
}

func TestManagerKilledThenRestarted(t *testing.T) {
	bin := buildManager(t)
	n := newNode(t, true, true)
	p := n.start(bin, n.env("af_packet", "veth", ""))
	n.waitStatus(p, vppmanager.StateRunning)
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	p.wait(t, 10*time.Second)
	// VPP dies with its manager; the uplink is stranded in VPP's namespace.
	if _, err := n.handle.LinkByName(n.uplink); err == nil {
		t.Fatal("uplink unexpectedly back before the restart")
	}
	p2 := n.start(bin, n.env("af_packet", "veth", ""))
	st := n.waitStatus(p2, vppmanager.StateRunning)
	n.checkTakeover(st, "veth")
	if err := p2.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p2.wait(t, 30*time.Second); err != nil {
		t.Errorf("exit: %v", err)
	}
	n.checkRestored()
}

func TestBadInputLeavesLinuxUntouched(t *testing.T) {
	bin := buildManager(t)
	cases := []struct {
		name     string
		mutate   func(n *node, env []string) []string
		wantText string
	}{
		{"missing interface", func(n *node, env []string) []string {
			return append(env, `CALICOVPP_INTERFACES={"uplinkInterfaces":[{"interfaceName":"nosuch0"}]}`)
		}, `uplinkInterfaces[0].interfaceName: find uplink nosuch0`},
		{"unknown driver", func(n *node, env []string) []string {
			return append(env, `CALICOVPP_INTERFACES={"uplinkInterfaces":[{"interfaceName":"eth0","vppDriver":"afpacket"}]}`)
		}, `uplinkInterfaces[0].vppDriver: unknown driver "afpacket"`},
		{"template VPP refuses", func(n *node, env []string) []string {
			return n.env("af_packet", "veth", "frobnicate { on }\n")
		}, "VPP exited before its API came up"},
		{"unknown placeholder", func(n *node, env []string) []string {
			return n.env("af_packet", "veth", "cpu { main-core __CORE__ }\n")
		}, "__CORE__: unknown placeholder"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n := newNode(t, true, true)
			env := c.mutate(n, n.env("af_packet", "veth", ""))
			p := n.start(bin, env)
			err := p.wait(t, 60*time.Second)
			if code := vpptest.ExitCode(err); code != 1 {
				t.Errorf("exit code = %d, want 1", code)
			}
			if !strings.Contains(p.out.String(), c.wantText) {
				t.Errorf("output lacks %q:\n%s", c.wantText, p.out.String())
			}
			n.checkRestored()
		})
	}
}

func TestStatusFileIsJSON(t *testing.T) {
	// The agent reads this file: keep its field names stable.
	b, err := json.Marshal(vppmanager.Status{State: vppmanager.StateRunning, VPPPID: 7, HostInterface: vppmanager.HostInterfaceStatus{Name: "vpptap0", Mode: "veth", SwIfIndex: 2}})
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"state":"running"`, `"vppPid":7`, `"hostInterface":{"name":"vpptap0","mode":"veth","swIfIndex":2}`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("%s lacks %s", b, key)
		}
	}
}

func TestHooksRunInOrder(t *testing.T) {
	bin := buildManager(t)
	n := newNode(t, true, false)
	log := filepath.Join(n.dir, "hooks.log")
	env := n.env("af_packet", "veth", "")
	for _, h := range []string{"BEFORE_IF_READ", "BEFORE_VPP_RUN", "VPP_RUNNING", "VPP_DONE_OK", "VPP_ERRORED"} {
		env = append(env, "CALICOVPP_HOOK_"+h+`=echo "$CALICOVPP_HOOK" >> `+log)
	}
	p := n.start(bin, env)
	n.waitStatus(p, vppmanager.StateRunning)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.wait(t, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Fields(string(b)), []string{"BEFORE_IF_READ", "BEFORE_VPP_RUN", "VPP_RUNNING", "VPP_DONE_OK"}; !slices.Equal(got, want) {
		t.Errorf("hooks ran %v, want %v", got, want)
	}
}

// When /dev/vhost-net seems present but VPP still cannot create taps
// (fakevpp's FAKEVPP_NO_VHOST_NET, a real VPP without the device), auto
// mode falls back to veth + AF_PACKET. Run in-process to fake the device.
func TestAutoFallsBackToVeth(t *testing.T) {
	if vpptest.RealVPP() {
		t.Skip("needs fakevpp's switch to refuse taps")
	}
	n := newNode(t, true, true)
	t.Setenv("FAKEVPP_NO_VHOST_NET", "1")
	cfg, _, err := config.Load(n.env("af_packet", "auto", ""))
	if err != nil {
		t.Fatal(err)
	}
	out := &testutil.SyncBuffer{}
	logger := logrus.New()
	logger.SetOutput(out)
	signals := make(chan os.Signal, 1)
	m := vppmanager.New(cfg, logger.WithField("component", "vpp-manager"), vppmanager.Deps{
		Signals: signals, StatVhostNet: func(string) error { return nil },
	})
	started := time.Now()
	exited := make(chan error, 1)
	var g errgroup.Group
	g.Go(func() error {
		exited <- nsutil.Do(n.nsHandle, func() error { return m.Run(context.Background()) })
		return nil
	})
	defer func() { _ = g.Wait() }()
	st := n.waitStatusOf(started, exited, out.String, vppmanager.StateRunning)
	n.checkTakeover(st, "veth")
	if !strings.Contains(out.String(), "VPP cannot create taps on this node") {
		t.Errorf("no fallback logged:\n%s", out.String())
	}
	signals <- syscall.SIGTERM
	if err := <-exited; err != nil {
		t.Errorf("Run: %v", err)
	}
	n.checkRestored()
}

// The node still reaches its router through vpptap0 and VPP, over a tap
// and over the veth fallback (a real VPP routes the host's traffic; fakevpp
// bridges the host path frame for frame).
func TestHostReachesRouterThroughVPP(t *testing.T) {
	bin := buildManager(t)
	for _, interconnect := range []string{"vhost", "veth"} {
		t.Run(interconnect, func(t *testing.T) {
			if interconnect == "vhost" && !vpptest.CanCreateTaps() {
				t.Skip("a real VPP cannot create taps without /dev/vhost-net")
			}
			n := newNode(t, true, true)
			p := n.start(bin, n.env("af_packet", interconnect, ""))
			n.waitStatus(p, vppmanager.StateRunning)
			for _, target := range []string{"198.18.0.1", "2001:db8::1"} {
				if out, err := n.ns.Output("ping", "-c", "2", "-W", "5", target); err != nil {
					t.Errorf("ping %s over vpptap0: %v\n%s", target, err, out)
				}
			}
			// And the router reaches the node.
			if out, err := n.router.Output("ping", "-c", "2", "-W", "5", "198.18.0.2"); err != nil {
				t.Errorf("router pings the node: %v\n%s", err, out)
			}
			// TCP with a bulk transfer: offloaded checksums and segments
			// must survive the host path.
			for _, listen := range []string{"198.18.0.1:7000", "[2001:db8::1]:7000"} {
				if err := topo.TCPTransfer(n.router, n.ns, listen, 4<<20); err != nil {
					t.Errorf("TCP from the node to %s over vpptap0: %v", listen, err)
				}
			}
		})
	}
}

// A stop requested while vpp-manager is still taking over is honoured at
// once (not after the start-up finishes): Linux is restored, exit 0.
func TestStopDuringStartUp(t *testing.T) {
	bin := buildManager(t)
	n := newNode(t, true, true)
	env := append(n.env("af_packet", "veth", ""), `CALICOVPP_INITIAL_CONFIG={"vppStartupSleepSeconds":60}`)
	p := n.start(bin, env)
	n.waitStatus(p, vppmanager.StateStarting)
	// The uplink is saved before anything is touched; wait until the
	// manager is in its start-up sleep.
	time.Sleep(500 * time.Millisecond)
	start := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.wait(t, 20*time.Second); err != nil {
		t.Errorf("exit after SIGTERM during start-up: %v\n%s", err, p.out.String())
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("stopping took %s", d)
	}
	n.checkRestored()
}

// Every uplink gets its own host interface (vpptap0, vpptap1) carrying its
// Linux configuration, and every one is restored.
func TestTwoUplinks(t *testing.T) {
	bin := buildManager(t)
	n := newNode(t, true, false)
	second, peer := topo.Veth(t, n.ns, n.router)
	n.router.Run(t, "ip", "addr", "add", "198.51.100.1/24", "dev", peer)
	n.ns.Run(t, "ip", "addr", "add", "198.51.100.2/24", "dev", second)
	n.ns.Run(t, "ip", "route", "add", "203.0.113.0/24", "via", "198.51.100.1")
	secondBefore, err := linuxstate.Capture(n.handle, nil, second)
	if err != nil {
		t.Fatal(err)
	}
	env := append(n.env("af_packet", "veth", ""), fmt.Sprintf(
		`CALICOVPP_INTERFACES={"uplinkInterfaces":[{"interfaceName":%q,"vppDriver":"af_packet"},{"interfaceName":%q,"vppDriver":"af_packet"}],"vppHostTapSpec":{"interconnect":"veth"}}`,
		n.uplink, second))
	p := n.start(bin, env)
	st := n.waitStatus(p, vppmanager.StateRunning)
	if len(st.HostInterfaces) != 2 || st.HostInterfaces[1].Name != "vpptap1" || len(st.Uplinks) != 2 {
		t.Fatalf("status = %+v", st)
	}
	tap1, err := linuxstate.Capture(n.handle, nil, "vpptap1")
	if err != nil {
		t.Fatal(err)
	}
	if tap1.MAC != secondBefore.MAC || !reflect.DeepEqual(tap1.Addresses, secondBefore.Addresses) || !reflect.DeepEqual(tap1.Routes, secondBefore.Routes) {
		t.Errorf("vpptap1 = %+v\nwant the second uplink's configuration %+v", tap1, secondBefore)
	}
	n.checkTakeover(st, "veth")
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.wait(t, 30*time.Second); err != nil {
		t.Errorf("exit: %v", err)
	}
	n.checkRestored()
	after, err := linuxstate.Capture(n.handle, nil, second)
	if err != nil || !reflect.DeepEqual(after, secondBefore) {
		t.Errorf("second uplink after restore = %+v (%v)\nwant %+v", after, err, secondBefore)
	}
	if _, err := n.handle.LinkByName("vpptap1"); err == nil {
		t.Error("vpptap1 left behind")
	}
}
