// Command demo shows what exists so far on one simulated node, all in
// network namespaces it creates and removes: a node whose uplink (a veth
// to an upstream "router" namespace) is taken over by vpp-manager running
// VPP (a real one from VPP_BINARY or PATH, else fakevpp); vpptap0 carrying
// the node's addresses; a pod wired to VPP by a tun VPP creates; what
// calivppctl then shows; and the uplink restored exactly when vpp-manager
// stops. Run it as root: make demo.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/vishvananda/netns"
	"golang.org/x/sync/errgroup"

	"github.com/calico-vpp/calico-vpp/pkg/vpplink"
	"github.com/calico-vpp/calico-vpp/pkg/vppstatus"
	"github.com/calico-vpp/calico-vpp/vpp-manager/nsutil"
)

func main() {
	bin := flag.String("bin", "bin", "directory with vpp-manager, calivppctl and fakevpp")
	wait := flag.Bool("wait", false, "stay up until Ctrl-C before tearing down")
	flag.Parse()
	if err := run(*bin, *wait); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func sh(args ...string) (string, error) {
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s: %w: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

func in(ns string, args ...string) (string, error) {
	return sh(append([]string{"ip", "netns", "exec", ns}, args...)...)
}

func step(format string, args ...any) { fmt.Printf("\n== "+format+"\n", args...) }

func run(binDir string, wait bool) error {
	if os.Geteuid() != 0 {
		return errors.New("run as root: the demo creates network namespaces")
	}
	binDir, _ = filepath.Abs(binDir)
	vpp, kind := os.Getenv("VPP_BINARY"), "a real VPP"
	if vpp == "" {
		if p, err := exec.LookPath("vpp"); err == nil {
			vpp = p
		} else {
			vpp, kind = filepath.Join(binDir, "fakevpp"), "fakevpp, the VPP 25.10 stand-in (set VPP_BINARY to use a real VPP)"
		}
	}
	step("VPP: %s (%s)", kind, vpp)

	id := fmt.Sprint(os.Getpid())
	node, router, pod, vppNS := "cvdemo-node-"+id, "cvdemo-rtr-"+id, "cvdemo-pod-"+id, "cvdemo-vpp-"+id
	dir, err := os.MkdirTemp("", "cvdemo")
	if err != nil {
		return err
	}
	var manager *exec.Cmd
	var waiter errgroup.Group
	exited := make(chan error, 1)
	defer func() {
		if manager != nil && manager.Process != nil {
			_ = manager.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(30 * time.Second):
				_ = manager.Process.Kill()
			}
			_ = waiter.Wait()
		}
		for _, ns := range []string{pod, node, router, vppNS} {
			_, _ = sh("ip", "netns", "del", ns)
		}
		_ = os.RemoveAll(dir)
		fmt.Println("\n== torn down: namespaces, processes and files removed")
	}()

	// The node and its upstream router.
	for _, ns := range []string{node, router, pod} {
		if _, err := sh("ip", "netns", "add", ns); err != nil {
			return err
		}
	}
	for _, c := range [][]string{
		{"ip", "link", "add", "eth0", "netns", node, "type", "veth", "peer", "name", "up0", "netns", router},
	} {
		if _, err := sh(c...); err != nil {
			return err
		}
	}
	for _, c := range []struct{ ns, cmd string }{
		{router, "ip link set up0 up"}, {router, "ip addr add 198.18.0.1/24 dev up0"},
		{node, "ip link set lo up"}, {node, "ip link set eth0 up"}, {node, "ip addr add 198.18.0.2/24 dev eth0"},
		{node, "ip route add default via 198.18.0.1"},
	} {
		if _, err := in(c.ns, strings.Fields(c.cmd)...); err != nil {
			return err
		}
	}
	out, _ := in(node, "ip", "-br", "addr")
	step("the node before: its uplink eth0 (ip -br addr)\n%s", out)

	// vpp-manager takes the uplink over.
	nodeNS, err := netns.GetFromName(node)
	if err != nil {
		return err
	}
	defer nodeNS.Close()
	manager = exec.Command(filepath.Join(binDir, "vpp-manager"))
	manager.Env = append(os.Environ(),
		"NODENAME=demo-node",
		`CALICOVPP_INTERFACES={"uplinkInterfaces":[{"interfaceName":"eth0","vppDriver":"af_packet"}]}`,
		"CALICOVPP_CONFIG_TEMPLATE=unix { nodaemon runtime-dir __RUN_DIR__ cli-listen __RUN_DIR__/cli.sock exec __STARTUP_EXEC__ }\n"+
			"api-segment { prefix "+filepath.Base(dir)+" }\nstatseg { socket-name __RUN_DIR__/stats.sock }\n"+
			"socksvr { socket-name __API_SOCKET__ }\nbuffers { page-size 4k buffers-per-numa 16384 }\nmemory { main-heap-page-size 4k }\n",
		"CALICOVPP_VPP_BINARY="+vpp,
		"CALICOVPP_VPP_STARTUP_CONF="+dir+"/startup.conf",
		"CALICOVPP_VPP_API_SOCKET="+dir+"/api.sock",
		"CALICOVPP_VPP_NETNS="+vppNS,
		"CALICOVPP_RUN_DIR="+dir,
		"CALICOVPP_TAP0_ADDR=198.18.255.1/32",
		"CALICOVPP_LOG_LEVEL=warn",
	)
	manager.Stdout, manager.Stderr = os.Stderr, os.Stderr
	if err := nsutil.Start(nodeNS, manager); err != nil {
		return err
	}
	waiter.Go(func() error { exited <- manager.Wait(); return nil })
	status, err := waitRunning(filepath.Join(dir, vppstatus.StatusFile), exited)
	if err != nil {
		return err
	}
	step("vpp-manager: VPP (pid %d) runs in netns %s; uplink %s is %s (sw_if_index %d); the host reaches VPP through %s (%s)",
		status.VPPPID, status.VPPNetns, status.Uplinks[0].Name, status.Uplinks[0].Driver, status.Uplinks[0].SwIfIndex,
		status.HostInterface.Name, status.HostInterface.Mode)
	awaitOperUp(node, "vpptap0")
	out, _ = in(node, "ip", "-br", "addr")
	step("the node now: eth0 is gone (in VPP's namespace), vpptap0 carries its address (ip -br addr)\n%s", out)
	out, _ = in(node, "ip", "route")
	fmt.Printf("ip route:\n%s", out)

	// A pod, wired to VPP by a tun that VPP creates in the pod's namespace.
	log := logrus.New()
	log.SetLevel(logrus.WarnLevel)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	v, err := vpplink.Connect(ctx, dir+"/api.sock", log.WithField("component", "demo"), vpplink.ConnectOptions{})
	if err != nil {
		return err
	}
	defer v.Close()
	podIP := netip.MustParsePrefix("198.18.100.2/32")
	tun, err := v.CreateTap(ctx, vpplink.Tap{Tun: true, HostNamespace: "/var/run/netns/" + pod, HostIfName: "eth0", HostIP4: podIP, HostMTU: 1450, Tag: "demo:pod"})
	if err != nil {
		return fmt.Errorf("create the pod's tun (a real VPP needs /dev/vhost-net): %w", err)
	}
	if err := v.SetInterfaceUp(ctx, tun, true); err != nil {
		return err
	}
	if err := v.AddRoute(ctx, vpplink.Route{Prefix: podIP, Paths: []vpplink.RoutePath{{SwIfIndex: tun}}}); err != nil {
		return err
	}
	out, _ = in(pod, "ip", "-br", "addr", "show", "eth0")
	step("a pod: VPP created its eth0 (a tun) in netns %s (ip -br addr)\n%s", pod, out)

	for _, c := range []string{"show interface", "show interface addr", "show ip fib"} {
		out, err := sh(filepath.Join(binDir, "calivppctl"), "vppctl", "--api-socket", dir+"/api.sock", c)
		if err != nil {
			return err
		}
		step("calivppctl vppctl %s\n%s", c, out)
	}

	if wait {
		step("running; Ctrl-C to stop")
		sig, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
		defer stop()
		<-sig.Done()
	}
	step("stopping vpp-manager (SIGTERM)")
	_ = manager.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		exited <- err
		if err != nil {
			return fmt.Errorf("vpp-manager: %w", err)
		}
	case <-time.After(30 * time.Second):
		return errors.New("vpp-manager did not stop")
	}
	awaitOperUp(node, "eth0")
	out, _ = in(node, "ip", "-br", "addr")
	step("the node after: eth0 is back with its address, vpptap0 is gone (ip -br addr)\n%s", out)
	out, _ = in(node, "ip", "route")
	fmt.Printf("ip route:\n%s", out)
	return nil
}

// awaitOperUp gives the kernel's link watcher (which updates operstate up
// to a second after carrier changes) time to report dev UP, so the listing
// shows the settled state rather than a transient DOWN.
func awaitOperUp(ns, dev string) {
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if out, err := in(ns, "ip", "-br", "link", "show", "dev", dev); err == nil && strings.Contains(out, " UP ") {
			return
		}
	}
}

func waitRunning(path string, exited chan error) (vppstatus.Status, error) {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if st, err := vppstatus.Read(path); err == nil && st.State == vppstatus.StateRunning {
			return st, nil
		}
		select {
		case err := <-exited:
			exited <- err
			return vppstatus.Status{}, fmt.Errorf("vpp-manager exited: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	return vppstatus.Status{}, errors.New("VPP did not come up within 60s")
}
