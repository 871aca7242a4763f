package vpplink_test

// Contract tests that need a VPP process in a network namespace and look at
// Linux: taps created in a pod-like namespace, AF_PACKET on a veth,
// startup.conf handling. They run against fakevpp's binary, or VPP_BINARY.

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/calico-vpp/calico-vpp/pkg/vpplink"
	"github.com/calico-vpp/calico-vpp/test/topo"
	"github.com/calico-vpp/calico-vpp/test/vpptest"
)

// vhostNet reports whether a VPP started by the harness can create taps:
// fakevpp pretends the kernel has vhost-net unless told otherwise; a real
// VPP depends on the machine.
func vhostNet(noVhostNetOpt bool) bool {
	if vpptest.RealVPP() {
		_, err := os.Stat("/dev/vhost-net")
		return err == nil
	}
	return !noVhostNetOpt
}

func TestTapInNamespace(t *testing.T) {
	for _, noVhost := range []bool{false, true} {
		name := "vhost-net"
		if noVhost {
			name = "no-vhost-net"
		}
		t.Run(name, func(t *testing.T) {
			inst := vpptest.Start(t, vpptest.Options{NoVhostNet: noVhost})
			pod := topo.NewNetns(t, "pod")
			ctx := testCtx(t)
			mac := net.HardwareAddr{0x02, 0xca, 0xfe, 0, 0, 1}
			idx, err := inst.VPP.CreateTap(ctx, vpplink.Tap{
				HostNamespace: pod.Name, HostIfName: "eth0", HostMAC: mac, HostMTU: 1400,
				HostIP4: pfx("198.18.20.2/32"), HostIP6: pfx("2001:db8:20::2/128"), Tag: "calico-vpp:pod-a",
			})
			if !vhostNet(noVhost) {
				// Without /dev/vhost-net, VPP fails with SYSCALL_ERROR_1.
				mustRetval(t, err, vpplink.RetvalSyscallError1)
				if out, _ := pod.Output("ip", "link", "show", "eth0"); !strings.Contains(out, "does not exist") {
					t.Errorf("eth0 exists after a failed create: %s", out)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			link := pod.Run(t, "ip", "-d", "link", "show", "eth0")
			for _, want := range []string{"02:ca:fe:00:00:01", "mtu 1400", "UP", "tun type tap"} {
				if !strings.Contains(link, want) {
					t.Errorf("eth0 lacks %q:\n%s", want, link)
				}
			}
			addrs := pod.Run(t, "ip", "addr", "show", "eth0")
			for _, want := range []string{"198.18.20.2/32", "2001:db8:20::2/128"} {
				if !strings.Contains(addrs, want) {
					t.Errorf("eth0 lacks address %s:\n%s", want, addrs)
				}
			}
			taps, err := inst.VPP.Taps(ctx)
			if err != nil || len(taps) != 1 || taps[0].SwIfIndex != idx || taps[0].HostIfName != "eth0" || taps[0].HostNamespace != pod.Name || taps[0].DevName != "tap0" {
				t.Fatalf("taps = %+v, %v", taps, err)
			}
			i, err := inst.VPP.Interface(ctx, idx)
			if err != nil || i.Name != "tap0" || i.DevType != "virtio" || !i.LinkUp || i.AdminUp || i.Tag != "calico-vpp:pod-a" {
				t.Errorf("interface = %+v, %v", i, err)
			}
			// A second tap with the same host name in the same namespace fails.
			if _, err := inst.VPP.CreateTap(ctx, vpplink.Tap{HostNamespace: pod.Name, HostIfName: "eth0"}); err == nil {
				t.Error("second eth0 in the same namespace was accepted")
			}
			// A tun gets the next free id, shared with taps: tun1.
			tunIdx, err := inst.VPP.CreateTap(ctx, vpplink.Tap{Tun: true, HostNamespace: pod.Name, HostIfName: "eth1"})
			if err != nil {
				t.Fatal(err)
			}
			if tun, _ := inst.VPP.Interface(ctx, tunIdx); tun.Name != "tun1" || tun.MAC != nil {
				t.Errorf("tun = %+v, want tun1 without MAC", tun)
			}
			if err := inst.VPP.DeleteTap(ctx, idx); err != nil {
				t.Fatal(err)
			}
			mustRetval(t, inst.VPP.DeleteTap(ctx, idx), vpplink.RetvalInvalidSwIfIndex)
			if out, _ := pod.Output("ip", "link", "show", "eth0"); !strings.Contains(out, "does not exist") {
				t.Errorf("eth0 still exists after tap delete: %s", out)
			}
			// When VPP dies, its devices go with it.
			if err := inst.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			if _, done := inst.Wait(10 * time.Second); !done {
				t.Fatal("VPP did not die")
			}
			deadline := time.Now().Add(5 * time.Second)
			for {
				out, _ := pod.Output("ip", "link", "show", "eth1")
				if strings.Contains(out, "does not exist") {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("eth1 survived VPP: %s", out)
				}
				time.Sleep(50 * time.Millisecond)
			}
		})
	}
}

func TestAFPacketOnVeth(t *testing.T) {
	vppNS := topo.NewNetns(t, "vpp")
	peer := topo.NewNetns(t, "peer")
	host, _ := topo.Veth(t, vppNS, peer)
	inst := vpptest.Start(t, vpptest.Options{Netns: vppNS})
	ctx := testCtx(t)

	_, err := inst.VPP.CreateAFPacket(ctx, vpplink.AFPacket{HostIfName: "nosuchif0"})
	mustRetval(t, err, vpplink.RetvalInvalidInterface)

	idx, err := inst.VPP.CreateAFPacket(ctx, vpplink.AFPacket{HostIfName: host, MAC: net.HardwareAddr{2, 0, 0, 0, 0, 7}})
	if err != nil {
		t.Fatal(err)
	}
	i, err := inst.VPP.Interface(ctx, idx)
	if err != nil || i.Name != "host-"+host || i.DevType != "af-packet" || i.MAC.String() != "02:00:00:00:00:07" {
		t.Errorf("interface = %+v, %v", i, err)
	}
	_, err = inst.VPP.CreateAFPacket(ctx, vpplink.AFPacket{HostIfName: host})
	mustRetval(t, err, vpplink.RetvalIfAlreadyExists)
	list, err := inst.VPP.AFPackets(ctx)
	if err != nil || len(list) != 1 || list[0].HostIfName != host {
		t.Errorf("af_packet dump = %+v, %v", list, err)
	}
	if err := inst.VPP.DeleteAFPacket(ctx, host); err != nil {
		t.Fatal(err)
	}
	mustRetval(t, inst.VPP.DeleteAFPacket(ctx, host), vpplink.RetvalSyscallError1)
}

func TestStartupConfigRefused(t *testing.T) {
	topo.RequirePrivileged(t)
	cases := []struct {
		name, extra string
		fakeOnly    bool // VPP's tokenizer does not check braces
	}{
		{"unknown section", "frobnicate { on }", false},
		{"unbalanced braces", "cpu { workers 0", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.fakeOnly && vpptest.RealVPP() {
				t.Skip("a real VPP accepts this; only fakevpp's parser is checked here")
			}
			ns := topo.NewNetns(t, "bad")
			dir, err := os.MkdirTemp("", "cvbad")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = os.RemoveAll(dir) })
			conf := dir + "/startup.conf"
			// Isolated like the harness's: a real VPP that did start would not
			// collide with anything, and the timeout below stops it.
			text := "unix { nodaemon runtime-dir " + dir + " }\napi-segment { prefix " + filepath.Base(dir) + " }\n" +
				"statseg { socket-name " + dir + "/stats.sock }\nsocksvr { socket-name " + dir + "/api.sock }\n" +
				"buffers { page-size 4k }\nmemory { main-heap-page-size 4k }\nplugins { plugin dpdk_plugin.so { disable } }\n" + c.extra + "\n"
			if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			outB, err := exec.CommandContext(cctx, "ip", "netns", "exec", ns.Name, vpptest.Binary(t), "-c", conf).CombinedOutput()
			out := string(outB)
			if cctx.Err() != nil {
				t.Fatalf("VPP kept running with a bad config:\n%s", out)
			}
			if err == nil {
				t.Fatalf("VPP accepted %q:\n%s", c.extra, out)
			}
			if code := vpptest.ExitCode(err); code <= 0 {
				t.Errorf("exit code %d for a bad config, want a failure status\n%s", code, out)
			}
			if !vpptest.RealVPP() && !strings.Contains(out, "startup config") {
				t.Errorf("fakevpp did not report the configuration error:\n%s", out)
			}
		})
	}
}

func TestDPDKDevicesFromStartupConfig(t *testing.T) {
	if vpptest.RealVPP() {
		t.Skip("needs a PCI device bound for DPDK; the harness disables the dpdk plugin for real VPPs")
	}
	inst := vpptest.Start(t, vpptest.Options{ExtraConfig: "dpdk { dev 0000:00:04.0 { name eth0 } }"})
	i, found, err := inst.VPP.InterfaceByName(testCtx(t), "eth0")
	if err != nil || !found || i.DevType != "dpdk" || i.MAC == nil {
		t.Fatalf("eth0 = %+v found=%v err=%v", i, found, err)
	}
}
