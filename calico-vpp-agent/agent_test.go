package agent_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sync/errgroup"

	agent "github.com/calico-vpp/calico-vpp/calico-vpp-agent"
	"github.com/calico-vpp/calico-vpp/calico-vpp-agent/vppconn"
	"github.com/calico-vpp/calico-vpp/calico-vpp-agent/vppkinds"
	"github.com/calico-vpp/calico-vpp/pkg/config"
	"github.com/calico-vpp/calico-vpp/pkg/journal"
	"github.com/calico-vpp/calico-vpp/pkg/reconcile"
	"github.com/calico-vpp/calico-vpp/pkg/vpplink"
	"github.com/calico-vpp/calico-vpp/pkg/vppstatus"
	"github.com/calico-vpp/calico-vpp/test/cluster"
	"github.com/calico-vpp/calico-vpp/test/vpptest"
)

// freeAddr returns a loopback address with a port free right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// writeStatus plays vpp-manager.
func writeStatus(t *testing.T, dir string, st vppstatus.Status) {
	t.Helper()
	st.Updated = time.Now()
	b, _ := json.Marshal(st)
	tmp := filepath.Join(dir, "status.tmp")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, vppstatus.StatusFile)); err != nil {
		t.Fatal(err)
	}
}

func probe(addr, path string) (int, string) {
	resp, err := http.Get("http://" + addr + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func waitProbe(t *testing.T, addr, path string, want int) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var code int
	var body string
	for time.Now().Before(deadline) {
		if code, body = probe(addr, path); code == want {
			return body
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s answered %d %q, want %d", path, code, body, want)
	return ""
}

// routesComponent is a test manager: it wants a few routes.
type routesComponent struct {
	table  *reconcile.Table[vppkinds.RouteKey, vpplink.Route]
	rec    *reconcile.Reconciler
	want   map[vppkinds.RouteKey]vpplink.Route
	synced atomic.Bool
}

func (c *routesComponent) Name() string { return "test-routes" }
func (c *routesComponent) Synced() bool { return c.synced.Load() }
func (c *routesComponent) Status() any  { return map[string]int{"routes": len(c.want)} }
func (c *routesComponent) Run(ctx context.Context) error {
	c.table.Replace(c.want)
	c.synced.Store(true)
	c.rec.InputSynced(c.Name())
	<-ctx.Done()
	return nil
}

func quietLog(t *testing.T) *logrus.Entry { return vpptest.Logger(t) }

func hasRoutes(v *vpplink.VPP, want map[vppkinds.RouteKey]vpplink.Route) bool {
	routes, err := v.Routes(context.Background(), vpplink.Table{})
	if err != nil {
		return false
	}
	found := 0
	for _, r := range routes {
		if _, ok := want[vppkinds.RouteKey{Table: r.Table, Prefix: r.Prefix}]; ok {
			found++
		}
	}
	return found == len(want)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 30s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestAgentConvergesAndSurvivesVPPRestart(t *testing.T) {
	dir := t.TempDir()
	cfg, _, err := config.Load([]string{"NODENAME=node-a", "CALICOVPP_RUN_DIR=" + dir, "CALICOVPP_STATE_DIR=" + dir, "CALICOVPP_GRACEFUL_SHUTDOWN_TIMEOUT=10s"})
	if err != nil {
		t.Fatal(err)
	}
	log := quietLog(t)
	var rec *reconcile.Reconciler
	conn := vppconn.New(vppconn.Options{StatusFile: filepath.Join(dir, vppstatus.StatusFile), Log: log,
		OnConnect: func(*vpplink.VPP, vppstatus.Status) { rec.Resync() }})
	rec = reconcile.New(reconcile.Options{Log: log, MinInterval: 10 * time.Millisecond})
	j, err := journal.Open(filepath.Join(dir, "routes.json"))
	if err != nil {
		t.Fatal(err)
	}
	table := reconcile.NewTable[vppkinds.RouteKey, vpplink.Route](rec, vppkinds.NewRoutes(conn, j), vppkinds.RouteKey.String)
	want := map[vppkinds.RouteKey]vpplink.Route{}
	for i := range 20 {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 19, byte(i), 0}), 24)
		want[vppkinds.RouteKey{Prefix: p}] = vpplink.Route{Prefix: p, Paths: []vpplink.RoutePath{{Type: vpplink.PathDrop}}}
	}
	comp := &routesComponent{table: table, rec: rec, want: want}
	rec.AddInput(comp.Name())
	addr := freeAddr(t)
	a := agent.New(cfg, log, conn, rec, nil, agent.Options{HealthAddr: addr}, comp)

	ctx, cancel := context.WithCancel(context.Background())
	var g errgroup.Group
	runErr := make(chan error, 1)
	g.Go(func() error { runErr <- a.Run(ctx); return nil })
	t.Cleanup(func() { cancel(); _ = g.Wait() })

	waitProbe(t, addr, "/liveness", http.StatusOK)
	if body := waitProbe(t, addr, "/readiness", http.StatusServiceUnavailable); !strings.Contains(body, "vpp:") {
		t.Errorf("not-ready reason = %q, want it to name VPP", body)
	}
	first := vpptest.Start(t, vpptest.Options{})
	writeStatus(t, dir, vppstatus.Status{State: vppstatus.StateRunning, VPPPID: first.PID(), APISocket: first.APISocket})
	waitProbe(t, addr, "/readiness", http.StatusOK)
	waitFor(t, "routes in the first VPP", func() bool { return hasRoutes(first.VPP, want) })
	_, body := probe(addr, "/status")
	if !strings.Contains(body, `"vppConnected": true`) || !strings.Contains(body, "198.19.3.0/24") {
		t.Errorf("/status = %s", body)
	}

	// VPP restarts (a new process, a new socket): the agent notices, is not
	// ready meanwhile, reconnects and re-creates everything.
	first.Stop(t)
	waitProbe(t, addr, "/readiness", http.StatusServiceUnavailable)
	second := vpptest.Start(t, vpptest.Options{})
	writeStatus(t, dir, vppstatus.Status{State: vppstatus.StateRunning, VPPPID: second.PID(), APISocket: second.APISocket})
	waitProbe(t, addr, "/readiness", http.StatusOK)
	waitFor(t, "routes in the restarted VPP", func() bool { return hasRoutes(second.VPP, want) })

	cancel()
	select {
	case err := <-runErr:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("agent did not stop")
	}
}

// Liveness fails only when vpp-manager says VPP runs yet the agent cannot
// reach it for longer than StuckAfter; while VPP is (re)starting the agent
// waits and stays live.
func TestLivenessFailsWhileVPPUnreachable(t *testing.T) {
	dir := t.TempDir()
	cfg, _, err := config.Load([]string{"NODENAME=node-a", "CALICOVPP_RUN_DIR=" + dir, "CALICOVPP_STATE_DIR=" + dir})
	if err != nil {
		t.Fatal(err)
	}
	log := quietLog(t)
	conn := vppconn.New(vppconn.Options{StatusFile: filepath.Join(dir, vppstatus.StatusFile), Log: log, Poll: 20 * time.Millisecond})
	rec := reconcile.New(reconcile.Options{Log: log})
	addr := freeAddr(t)
	a := agent.New(cfg, log, conn, rec, nil, agent.Options{HealthAddr: addr, StuckAfter: 300 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	var g errgroup.Group
	g.Go(func() error { return a.Run(ctx) })
	t.Cleanup(func() { cancel(); _ = g.Wait() })

	writeStatus(t, dir, vppstatus.Status{State: vppstatus.StateStarting})
	waitProbe(t, addr, "/liveness", http.StatusOK)
	time.Sleep(500 * time.Millisecond) // longer than StuckAfter: waiting for a starting VPP is fine
	if code, body := probe(addr, "/liveness"); code != http.StatusOK {
		t.Fatalf("/liveness while VPP starts = %d %q, want 200", code, body)
	}

	// "running", but nothing listens on the socket.
	writeStatus(t, dir, vppstatus.Status{State: vppstatus.StateRunning, VPPPID: 1, APISocket: filepath.Join(dir, "absent.sock")})
	if body := waitProbe(t, addr, "/liveness", http.StatusServiceUnavailable); !strings.Contains(body, "unreachable for") {
		t.Errorf("/liveness body = %q, want the reason", body)
	}

	// VPP comes up on that socket: the agent connects and is live again.
	v := vpptest.Start(t, vpptest.Options{})
	writeStatus(t, dir, vppstatus.Status{State: vppstatus.StateRunning, VPPPID: v.PID(), APISocket: v.APISocket})
	waitProbe(t, addr, "/liveness", http.StatusOK)
	if !conn.Connected() {
		t.Error("live again but not connected")
	}
}

// The agent binary against fakevpp and a real kube-apiserver with
// Calico's CRDs: not ready until VPP runs and every input synced, ready
// then, and a prompt exit on SIGTERM.
func TestAgentProcessReadinessAndShutdown(t *testing.T) {
	if testing.Short() {
		t.Skip("starts etcd and kube-apiserver")
	}
	cp := cluster.StartControlPlane(t)
	cp.InstallCalico(t)
	bin := filepath.Join(t.TempDir(), "calico-vpp-agent")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/calico-vpp/calico-vpp/cmd/calico-vpp-agent").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	dir := t.TempDir()
	addr := freeAddr(t)
	cmd := exec.Command(bin, "--health-listen", addr, "--kubeconfig", cp.Kubeconfig)
	cmd.Env = append(os.Environ(), "NODENAME=node-a", "CALICOVPP_RUN_DIR="+dir, "CALICOVPP_STATE_DIR="+dir, "CALICOVPP_GRACEFUL_SHUTDOWN_TIMEOUT=5s")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	var g errgroup.Group
	g.Go(func() error { exited <- cmd.Wait(); return nil })
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = g.Wait()
		if t.Failed() {
			t.Logf("agent output:\n%s", out.String())
		}
	})

	waitProbe(t, addr, "/liveness", http.StatusOK)
	waitProbe(t, addr, "/readiness", http.StatusServiceUnavailable)
	inst := vpptest.Start(t, vpptest.Options{})
	writeStatus(t, dir, vppstatus.Status{State: vppstatus.StateRunning, VPPPID: inst.PID(), APISocket: inst.APISocket})
	body := waitProbe(t, addr, "/readiness", http.StatusOK)
	if _, status := probe(addr, "/status"); !strings.Contains(status, `"kubernetes"`) || !strings.Contains(status, `"calico"`) {
		t.Errorf("/status lacks the inputs: %s (readiness %q)", status, body)
	}

	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		exited <- err
		if err != nil {
			t.Errorf("exit after SIGTERM: %v", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("graceful stop took %s, longer than the 5s timeout", d)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("agent did not stop on SIGTERM")
	}
}

// callCounter counts the reconciler's VPP calls.
type callCounter struct{ calls atomic.Int64 }

func (c *callCounter) SyncDone(time.Duration, error) {}
func (c *callCounter) Calls(_, _ string, n int)      { c.calls.Add(int64(n)) }
func (c *callCounter) Objects(string, int, int, int) {}

// startAgent runs an in-process agent with the route component over dir.
func startAgent(t *testing.T, dir string, want map[vppkinds.RouteKey]vpplink.Route, m reconcile.Metrics) (addr string, stop func()) {
	t.Helper()
	cfg, _, err := config.Load([]string{"NODENAME=node-a", "CALICOVPP_RUN_DIR=" + dir, "CALICOVPP_STATE_DIR=" + dir})
	if err != nil {
		t.Fatal(err)
	}
	log := quietLog(t)
	var rec *reconcile.Reconciler
	conn := vppconn.New(vppconn.Options{StatusFile: filepath.Join(dir, vppstatus.StatusFile), Log: log,
		OnConnect: func(*vpplink.VPP, vppstatus.Status) { rec.Resync() }})
	rec = reconcile.New(reconcile.Options{Log: log, MinInterval: 10 * time.Millisecond, Metrics: m})
	j, err := journal.Open(filepath.Join(dir, "routes.json"))
	if err != nil {
		t.Fatal(err)
	}
	table := reconcile.NewTable[vppkinds.RouteKey, vpplink.Route](rec, vppkinds.NewRoutes(conn, j), vppkinds.RouteKey.String)
	comp := &routesComponent{table: table, rec: rec, want: want}
	rec.AddInput(comp.Name())
	addr = freeAddr(t)
	a := agent.New(cfg, log, conn, rec, nil, agent.Options{HealthAddr: addr}, comp)
	ctx, cancel := context.WithCancel(context.Background())
	var g errgroup.Group
	g.Go(func() error { return a.Run(ctx) })
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			cancel()
			if err := g.Wait(); err != nil {
				t.Errorf("agent: %v", err)
			}
		}
	}
	t.Cleanup(stop)
	return addr, stop
}

// An agent restart with VPP untouched makes no VPP call but its dumps; a
// route removed from the desired state is deleted, a foreign one never.
func TestAgentRestartTouchesNothing(t *testing.T) {
	dir := t.TempDir()
	inst := vpptest.Start(t, vpptest.Options{})
	writeStatus(t, dir, vppstatus.Status{State: vppstatus.StateRunning, VPPPID: inst.PID(), APISocket: inst.APISocket})
	foreign := vpplink.Route{Prefix: netip.MustParsePrefix("203.0.113.0/24"), Paths: []vpplink.RoutePath{{Type: vpplink.PathDrop}}}
	if err := inst.VPP.AddRoute(context.Background(), foreign); err != nil {
		t.Fatal(err)
	}
	want := map[vppkinds.RouteKey]vpplink.Route{}
	for i := range 5 {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 19, byte(i), 0}), 24)
		want[vppkinds.RouteKey{Prefix: p}] = vpplink.Route{Prefix: p, Paths: []vpplink.RoutePath{{Type: vpplink.PathDrop}}}
	}
	addr, stop := startAgent(t, dir, want, nil)
	waitProbe(t, addr, "/readiness", http.StatusOK)
	waitFor(t, "routes", func() bool { return hasRoutes(inst.VPP, want) })
	stop()

	counter := &callCounter{}
	addr, stop = startAgent(t, dir, want, counter)
	waitProbe(t, addr, "/readiness", http.StatusOK)
	time.Sleep(200 * time.Millisecond) // let a sync or two pass
	if n := counter.calls.Load(); n != 0 {
		t.Errorf("restarted agent made %d VPP calls, want 0", n)
	}
	stop()

	// The desired state shrinks across a restart: the journal proves the
	// route is ours, so it goes; the foreign one stays.
	gone := vppkinds.RouteKey{Prefix: netip.MustParsePrefix("198.19.4.0/24")}
	delete(want, gone)
	addr, _ = startAgent(t, dir, want, nil)
	waitProbe(t, addr, "/readiness", http.StatusOK)
	waitFor(t, "stale route deleted", func() bool { return !hasRoutes(inst.VPP, map[vppkinds.RouteKey]vpplink.Route{gone: {}}) })
	if !hasRoutes(inst.VPP, map[vppkinds.RouteKey]vpplink.Route{{Prefix: foreign.Prefix}: foreign}) {
		t.Error("the foreign route was deleted")
	}
}
