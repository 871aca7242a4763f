// Command demo is the single-node scenario that exists today: it starts
// VPP (a real one from VPP_BINARY or PATH, else fakevpp) in a network
// namespace of its own, wires a "pod" namespace to it with a tun created
// by VPP, routes the pod's address, prints what VPP and Linux then show,
// and tears everything down. Run it as root: make demo.
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
	"golang.org/x/sync/errgroup"

	"github.com/calico-vpp/calico-vpp/pkg/vpplink"
)

func main() {
	fakevpp := flag.String("fakevpp", "bin/fakevpp", "fakevpp binary, used when no real VPP is found")
	wait := flag.Bool("wait", false, "stay up until Ctrl-C before tearing down")
	flag.Parse()
	if err := run(*fakevpp, *wait); err != nil {
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

func run(fakevpp string, wait bool) (err error) {
	if os.Geteuid() != 0 {
		return errors.New("run as root: the demo creates network namespaces")
	}
	binary, kind := os.Getenv("VPP_BINARY"), "real VPP"
	if binary == "" {
		if p, lookErr := exec.LookPath("vpp"); lookErr == nil {
			binary = p
		} else {
			binary, kind = fakevpp, "fakevpp (no VPP found: set VPP_BINARY to use a real one)"
		}
	}
	binary, _ = filepath.Abs(binary)
	fmt.Printf("== using %s: %s\n", kind, binary)

	suffix := fmt.Sprintf("%d", os.Getpid())
	vppNS, podNS := "cvdemo-vpp-"+suffix, "cvdemo-pod-"+suffix
	dir, err := os.MkdirTemp("", "cvdemo")
	if err != nil {
		return err
	}
	var cmd *exec.Cmd
	defer func() {
		if cmd != nil && cmd.Process != nil {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			var waiter errgroup.Group
			done := make(chan struct{})
			waiter.Go(func() error { err := cmd.Wait(); close(done); return err })
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				_ = cmd.Process.Kill()
			}
			_ = waiter.Wait()
		}
		for _, ns := range []string{podNS, vppNS} {
			_, _ = sh("ip", "netns", "del", ns)
		}
		_ = os.RemoveAll(dir)
		fmt.Println("== torn down: namespaces, VPP and files removed")
	}()
	for _, ns := range []string{vppNS, podNS} {
		if _, err := sh("ip", "netns", "add", ns); err != nil {
			return err
		}
	}
	conf := fmt.Sprintf(`unix { nodaemon runtime-dir %[1]s cli-listen %[1]s/cli.sock }
api-segment { prefix %[2]s }
statseg { socket-name %[1]s/stats.sock }
socksvr { socket-name %[1]s/api.sock }
buffers { page-size 4k buffers-per-numa 16384 }
memory { main-heap-page-size 4k }
plugins { plugin dpdk_plugin.so { disable } }
`, dir, filepath.Base(dir))
	if err := os.WriteFile(dir+"/startup.conf", []byte(conf), 0o644); err != nil {
		return err
	}
	cmd = exec.Command("ip", "netns", "exec", vppNS, binary, "-c", dir+"/startup.conf")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	log := logrus.New()
	log.SetLevel(logrus.WarnLevel)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	v, err := vpplink.Connect(ctx, dir+"/api.sock", log.WithField("component", "demo"), vpplink.ConnectOptions{})
	if err != nil {
		return err
	}
	defer v.Close()
	ver, err := v.Version(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("== connected to %s %s\n", ver.Program, ver.Version)

	podIP := netip.MustParsePrefix("198.18.100.2/32")
	tun, err := v.CreateTap(ctx, vpplink.Tap{Tun: true, HostNamespace: podNS, HostIfName: "eth0", HostIP4: podIP, HostMTU: 1450, Tag: "demo:pod"})
	if err != nil {
		return fmt.Errorf("create the pod's tun (a real VPP needs /dev/vhost-net): %w", err)
	}
	if err := v.SetInterfaceUp(ctx, tun, true); err != nil {
		return err
	}
	if err := v.AddRoute(ctx, vpplink.Route{Prefix: podIP, Paths: []vpplink.RoutePath{{SwIfIndex: tun}}}); err != nil {
		return err
	}
	for _, c := range []string{"show interface", "show tap", "show ip fib"} {
		out, err := v.CLI(ctx, c)
		if err != nil {
			return err
		}
		fmt.Printf("== vppctl %s\n%s\n", c, out)
	}
	out, err := sh("ip", "netns", "exec", podNS, "ip", "addr", "show", "eth0")
	if err != nil {
		return err
	}
	fmt.Printf("== the pod's side (ip addr in %s)\n%s\n", podNS, out)
	if wait {
		fmt.Println("== running; Ctrl-C to tear down")
		sig, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
		defer stop()
		<-sig.Done()
	}
	return nil
}
