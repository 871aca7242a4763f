package routing

// The multi-node harness: each node is a network namespace on a shared
// LAN (a bridge in its own namespace), with its VPP (fakevpp, or
// VPP_BINARY) and a routing manager running as a child process inside the
// namespace (so GoBGP's sockets live there), fed Calico's model from a
// JSON file the test rewrites to change the configuration live.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sync/errgroup"

	"github.com/calico-vpp/calico-vpp/calico-vpp-agent/inputs"
	"github.com/calico-vpp/calico-vpp/pkg/journal"
	"github.com/calico-vpp/calico-vpp/pkg/reconcile"
	"github.com/calico-vpp/calico-vpp/pkg/vpplink"
	"github.com/calico-vpp/calico-vpp/pkg/vppstatus"
	"github.com/calico-vpp/calico-vpp/test/testutil"
	"github.com/calico-vpp/calico-vpp/test/topo"
	"github.com/calico-vpp/calico-vpp/test/vpptest"
)

// Environment of a helper node process.
const (
	envHelperNode   = "CVPP_TEST_ROUTING_NODE"
	envHelperState  = "CVPP_TEST_ROUTING_STATE"
	envHelperStatus = "CVPP_TEST_ROUTING_VPP_STATUS"
	envHelperDir    = "CVPP_TEST_ROUTING_DIR"
)

func TestMain(m *testing.M) {
	if node := os.Getenv(envHelperNode); node != "" {
		os.Exit(runHelperNode(node))
	}
	os.Exit(m.Run())
}

// runHelperNode is a node's routing manager: what the agent runs, with
// Calico's model from a file and VPP from a status file.
func runHelperNode(node string) int {
	logger := logrus.New()
	logger.SetLevel(logrus.DebugLevel)
	log := logger.WithFields(logrus.Fields{"node": node, "component": "routing"})
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	st, err := vppstatus.Read(os.Getenv(envHelperStatus))
	if err != nil {
		log.WithError(err).Error("VPP status")
		return 1
	}
	v, err := vpplink.Connect(ctx, st.APISocket, log, vpplink.ConnectOptions{})
	if err != nil {
		log.WithError(err).Error("connect to VPP")
		return 1
	}
	defer v.Close()
	dir := os.Getenv(envHelperDir)
	tj, err := journal.Open(filepath.Join(dir, "tunnels.journal"))
	if err != nil {
		log.WithError(err).Error("journal")
		return 1
	}
	rj, err := journal.Open(filepath.Join(dir, "routes.journal"))
	if err != nil {
		log.WithError(err).Error("journal")
		return 1
	}
	calico := &fileCalico{path: os.Getenv(envHelperState), log: log}
	rec := reconcile.New(reconcile.Options{Log: log.WithField("component", "reconciler")})
	rec.AddInput(InputRouting)
	m := NewManager(rec, fixedSource{v: v, st: st}, calico, tj, rj, Options{
		Node: node, SyncTimeout: 5 * time.Minute, Log: log, // End-of-RIBs must make it synced
		OnSynced: func() { rec.InputSynced(InputRouting) },
	})
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return calico.run(gctx) })
	g.Go(func() error { return rec.Run(gctx) })
	g.Go(func() error { return m.Run(gctx) })
	if err := g.Wait(); err != nil {
		log.WithError(err).Error("failed")
		return 1
	}
	return 0
}

type fixedSource struct {
	v  *vpplink.VPP
	st vppstatus.Status
}

func (s fixedSource) Get() (*vpplink.VPP, error)  { return s.v, nil }
func (s fixedSource) VPPStatus() vppstatus.Status { return s.st }

// fileCalico reads Calico's model from a JSON file, again when it changes.
type fileCalico struct {
	path     string
	log      *logrus.Entry
	mu       sync.Mutex
	st       inputs.CalicoState
	raw      []byte
	synced   atomic.Bool
	watchers []chan struct{}
}

func (c *fileCalico) Watch() <-chan struct{} {
	ch := make(chan struct{}, 1)
	c.mu.Lock()
	c.watchers = append(c.watchers, ch)
	c.mu.Unlock()
	return ch
}

func (c *fileCalico) State() inputs.CalicoState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.st
}

func (c *fileCalico) Synced() bool { return c.synced.Load() }

func (c *fileCalico) run(ctx context.Context) error {
	for {
		if raw, err := os.ReadFile(c.path); err == nil && !bytes.Equal(raw, c.raw) {
			var st inputs.CalicoState
			if err := json.Unmarshal(raw, &st); err != nil {
				c.log.WithError(err).Error("bad state file")
			} else {
				c.mu.Lock()
				c.st, c.raw = st, raw
				watchers := slices.Clone(c.watchers)
				c.mu.Unlock()
				c.synced.Store(true)
				for _, w := range watchers {
					select {
					case w <- struct{}{}:
					default:
					}
				}
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// testNode is a node: namespace, VPP, and its routing manager process.
type testNode struct {
	name   string
	ns     *topo.Netns
	vpp    *vpptest.Instance
	dir    string
	state  string // the Calico model file (shared by all nodes)
	mu     sync.Mutex
	cmd    *exec.Cmd
	waited chan struct{}
	log    *testutil.SyncBuffer
	owner  *testing.T // the test the node lives as long as
}

func newTestNode(t *testing.T, l *topo.LAN, name, v4, v6, stateFile string) *testNode {
	n := &testNode{name: name, ns: topo.NewNetns(t, "node"), dir: t.TempDir(), state: stateFile, log: &testutil.SyncBuffer{}, owner: t}
	var addrs []string
	for _, a := range []string{v4, v6} {
		if a != "" {
			addrs = append(addrs, a)
		}
	}
	l.Plug(t, n.ns, "eth0", addrs...)
	n.vpp = vpptest.Start(t, vpptest.Options{Netns: n.ns, NoVhostNet: true})
	src := &vpptest.Source{}
	src.Attach(t, n.vpp)
	st := src.VPPStatus()
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(n.dir, "status.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		n.stop(t, syscall.SIGKILL)
		if dir := os.Getenv("CVPP_TEST_LOGS"); dir != "" {
			_ = os.WriteFile(filepath.Join(dir, name+".log"), []byte(n.log.String()), 0o644)
		}
		if t.Failed() {
			t.Logf("routing manager of %s:\n%s", name, tail(n.log.String(), 80))
		}
	})
	return n
}

func tail(s string, lines int) string {
	l := strings.Split(s, "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}

// start runs the node's routing manager (until stop, or the end of the
// test that made the node).
func (n *testNode) start(t *testing.T) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", "netns", "exec", n.ns.Name, self)
	cmd.Env = append(os.Environ(), envHelperNode+"="+n.name, envHelperState+"="+n.state,
		envHelperStatus+"="+filepath.Join(n.dir, "status.json"), envHelperDir+"="+n.dir)
	cmd.Stdout, cmd.Stderr = n.log, n.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waited := make(chan struct{})
	n.mu.Lock()
	n.cmd, n.waited = cmd, waited
	n.mu.Unlock()
	var g errgroup.Group
	g.Go(func() error { _ = cmd.Wait(); close(waited); return nil })
	n.owner.Cleanup(func() { n.stop(n.owner, syscall.SIGKILL); _ = g.Wait() })
}

// stop signals the routing manager and waits for it.
func (n *testNode) stop(t *testing.T, sig syscall.Signal) {
	n.mu.Lock()
	cmd, waited := n.cmd, n.waited
	n.cmd = nil
	n.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-waited:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-waited
		t.Errorf("routing manager of %s did not stop on %s", n.name, sig)
	}
}

// writeState replaces the Calico model all nodes read.
func writeState(t *testing.T, path string, st inputs.CalicoState) {
	t.Helper()
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// fib is vpptest.Paths.
func fib(ctx context.Context, v *vpplink.VPP, prefixes ...string) (map[string][]string, error) {
	return vpptest.Paths(ctx, v, prefixes...)
}

// awaitFIB waits until VPP's routes for the prefixes of want are exactly
// want (an empty list: no route).
func awaitFIB(t *testing.T, n *testNode, want map[string][]string) {
	t.Helper()
	var prefixes []string
	for p := range want {
		prefixes = append(prefixes, p)
	}
	ctx := context.Background()
	deadline := time.Now().Add(60 * time.Second)
	var got map[string][]string
	var err error
	for time.Now().Before(deadline) {
		got, err = fib(ctx, n.vpp.VPP, prefixes...)
		if err == nil && fibMatches(got, want) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: VPP routes %v (err %v), want %v", n.name, got, err, want)
}

func fibMatches(got, want map[string][]string) bool {
	for p, w := range want {
		if !slices.Equal(got[p], w) {
			return false
		}
	}
	return true
}

// tunnelsOf lists the node's VPP tunnels, as "ipip->dst" / "vxlan->dst".
func tunnelsOf(t *testing.T, n *testNode) []string {
	t.Helper()
	ctx := context.Background()
	var out []string
	ipip, err := n.vpp.VPP.IPIPTunnels(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, tu := range ipip {
		out = append(out, fmt.Sprintf("ipip->%s", tu.Dst))
	}
	vx, err := n.vpp.VPP.VXLANTunnels(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, tu := range vx {
		out = append(out, fmt.Sprintf("vxlan->%s", tu.Dst))
	}
	sort.Strings(out)
	return out
}

// awaitTunnels waits until the node's tunnels are exactly want.
func awaitTunnels(t *testing.T, n *testNode, want ...string) {
	t.Helper()
	sort.Strings(want)
	deadline := time.Now().Add(30 * time.Second)
	var got []string
	for time.Now().Before(deadline) {
		if got = tunnelsOf(t, n); slices.Equal(got, want) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: tunnels %v, want %v", n.name, got, want)
}

// sessions lists the node's established BGP connections (local and
// remote address:port).
func sessions(t *testing.T, n *testNode) []string {
	t.Helper()
	out, _ := n.ns.Output("ss", "-Htn", "state", "established", "( sport = :179 or dport = :179 )")
	var conns []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if f := strings.Fields(line); len(f) >= 4 {
			conns = append(conns, f[2]+" "+f[3])
		}
	}
	sort.Strings(conns)
	return conns
}

func overlap(a, b []string) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}

// awaitSessions waits until the node has count established BGP
// connections.
func awaitSessions(t *testing.T, n *testNode, count int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var got []string
	for time.Now().Before(deadline) {
		if got = sessions(t, n); len(got) >= count {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: BGP sessions %v, want %d", n.name, got, count)
}
