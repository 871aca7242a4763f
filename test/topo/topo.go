// Package topo builds test topologies in network namespaces the test
// creates: never the root namespace. Every namespace and link gets the
// test run's unique prefix and is removed when the test ends, failed or
// not. Only addresses from the documentation and benchmarking ranges are
// used (198.18.0.0/15, 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24,
// 2001:db8::/32).
package topo

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/calico-vpp/calico-vpp/test/testutil"
)

// RequirePrivileged is the single gate for tests that need root and
// iproute2 (network namespaces, veth, tap devices): they skip, with the
// reason, elsewhere.
func RequirePrivileged(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces (run as root, as CI does)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs iproute2's ip command (make deps installs it)")
	}
}

// UniqueName returns prefix plus a random suffix, at most 15 characters
// (usable as an interface name).
func UniqueName(prefix string) string {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	name := prefix + hex.EncodeToString(b)
	if len(name) > 15 {
		name = name[len(name)-15:]
	}
	return name
}

// Netns is a network namespace created for one test.
type Netns struct {
	Name string
}

// NewNetns creates a namespace named "cvt<role><random>" with its loopback
// up, and deletes it at cleanup.
func NewNetns(t testing.TB, role string) *Netns {
	t.Helper()
	RequirePrivileged(t)
	ns := &Netns{Name: UniqueName("cvt" + role)}
	Run(t, "ip", "netns", "add", ns.Name)
	t.Cleanup(func() {
		if _, err := os.Stat(ns.Path()); err != nil {
			return // deleted by the test
		}
		if out, err := exec.Command("ip", "netns", "del", ns.Name).CombinedOutput(); err != nil {
			t.Logf("delete netns %s: %v: %s", ns.Name, err, out)
		}
	})
	ns.Run(t, "ip", "link", "set", "lo", "up")
	return ns
}

// Delete removes the namespace now (a pod that vanished).
func (n *Netns) Delete(t testing.TB) {
	t.Helper()
	Run(t, "ip", "netns", "del", n.Name)
}

// Path is the namespace's file, for setns and VPP's host_namespace.
func (n *Netns) Path() string { return "/var/run/netns/" + n.Name }

// Run runs a command inside the namespace and fails the test on error.
func (n *Netns) Run(t testing.TB, args ...string) string {
	t.Helper()
	return Run(t, append([]string{"ip", "netns", "exec", n.Name}, args...)...)
}

// Output runs a command inside the namespace and returns its output and
// error without failing the test.
func (n *Netns) Output(args ...string) (string, error) {
	out, err := exec.Command("ip", append([]string{"netns", "exec", n.Name}, args...)...).CombinedOutput()
	return string(out), err
}

// Run runs a command and fails the test on error.
func Run(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Veth creates a veth pair with one end in each namespace (names are
// unique per run) and returns the two names.
func Veth(t testing.TB, a, b *Netns) (string, string) {
	t.Helper()
	nameA, nameB := UniqueName("va"), UniqueName("vb")
	a.Run(t, "ip", "link", "add", nameA, "type", "veth", "peer", "name", nameB, "netns", b.Name)
	a.Run(t, "ip", "link", "set", nameA, "up")
	b.Run(t, "ip", "link", "set", nameB, "up")
	return nameA, nameB
}

// String describes the namespace in test output.
func (n *Netns) String() string { return fmt.Sprintf("netns %s", n.Name) }

// LAN is a bridge in a namespace of its own that test namespaces plug
// into: a shared segment (nodes, peers, a control plane).
type LAN struct{ Netns *Netns }

// NewLAN creates the segment (removed at the test's end).
func NewLAN(t testing.TB) *LAN {
	t.Helper()
	ns := NewNetns(t, "lan")
	ns.Run(t, "ip", "link", "add", "br0", "type", "bridge")
	ns.Run(t, "ip", "link", "set", "br0", "up")
	return &LAN{Netns: ns}
}

// Plug connects ns to the LAN as ifName, up, with the given addresses
// (IPv6 ones without duplicate detection).
func (l *LAN) Plug(t testing.TB, ns *Netns, ifName string, addrs ...string) {
	t.Helper()
	bridgeEnd, nodeEnd := Veth(t, l.Netns, ns)
	l.Netns.Run(t, "ip", "link", "set", bridgeEnd, "master", "br0")
	ns.Run(t, "ip", "link", "set", nodeEnd, "name", ifName)
	ns.Run(t, "ip", "link", "set", ifName, "up")
	for _, a := range addrs {
		args := []string{"ip", "addr", "add", a, "dev", ifName}
		if strings.Contains(a, ":") {
			args = append(args, "nodad")
		}
		ns.Run(t, args...)
	}
}

// Daemon runs a command inside ns until the test ends (SIGTERM, then
// SIGKILL, by PID) and returns its output, which a failed test logs.
func (n *Netns) Daemon(t testing.TB, name string, args ...string) *testutil.SyncBuffer {
	t.Helper()
	log := &testutil.SyncBuffer{}
	cmd := exec.Command("ip", append([]string{"netns", "exec", n.Name}, args...)...)
	cmd.Stdout, cmd.Stderr = log, log
	testutil.Detach(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }() // ends with the process, stopped below
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", name, log.String())
		}
	})
	return log
}
