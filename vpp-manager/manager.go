// Package vppmanager is vpp-manager: it takes the uplinks over from Linux,
// starts VPP, keeps the host connected through vpptap0, forwards signals
// to VPP and, when VPP exits for any reason, gives the uplinks back to
// Linux exactly as they were. It is kept simple on purpose: a bug here
// leaves a node without connectivity.
package vppmanager

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sync/errgroup"

	"github.com/calico-vpp/calico-vpp/pkg/config"
	"github.com/calico-vpp/calico-vpp/pkg/vpplink"
	"github.com/calico-vpp/calico-vpp/vpp-manager/hostif"
	"github.com/calico-vpp/calico-vpp/vpp-manager/linuxstate"
	"github.com/calico-vpp/calico-vpp/vpp-manager/nsutil"
	"github.com/calico-vpp/calico-vpp/vpp-manager/startupconf"
	"github.com/calico-vpp/calico-vpp/vpp-manager/uplink"
)

// Deps are the manager's links to the machine, injectable for tests.
type Deps struct {
	FS              uplink.FS
	StatVhostNet    func(string) error
	KernelRelease   func() (string, error)
	NodeAnnotations map[string]string
	// Signals delivers the signals vpp-manager receives; each is forwarded
	// to VPP. SIGTERM and SIGINT stop it (SIGKILL after the grace period).
	Signals <-chan os.Signal
	// ConnectTimeout bounds the wait for VPP's API socket.
	ConnectTimeout time.Duration
}

// Manager runs VPP for one node.
type Manager struct {
	cfg  *config.Config
	log  *logrus.Entry
	deps Deps
}

// New builds a manager.
func New(cfg *config.Config, log *logrus.Entry, deps Deps) *Manager {
	if deps.FS == nil {
		deps.FS = uplink.RootFS{}
	}
	if deps.StatVhostNet == nil {
		deps.StatVhostNet = hostif.StatVhostNet
	}
	if deps.KernelRelease == nil {
		deps.KernelRelease = uplink.KernelRelease
	}
	if deps.ConnectTimeout == 0 {
		deps.ConnectTimeout = 2 * time.Minute
	}
	return &Manager{cfg: cfg, log: log, deps: deps}
}

// ErrVPPFailed is returned when VPP exited without being asked to.
var ErrVPPFailed = errors.New("VPP exited unexpectedly")

// attached is an uplink VPP owns.
type attached struct {
	state  *linuxstate.Uplink
	spec   config.UplinkSpec
	driver uplink.Driver
	idx    vpplink.SwIfIndex
}

// session holds what one run set up, for the teardown.
type session struct {
	host         *netlink.Handle
	hostNS       netns.NsHandle
	vppNS        netns.NsHandle
	env          *uplink.Env
	uplinks      []*attached
	prepared     []*attached // Linux side changed, maybe not attached yet
	hostIfs      []string    // host interfaces created (removed at teardown)
	hostIf       HostInterfaceStatus
	hostIfStatus []HostInterfaceStatus
	cmd          *exec.Cmd
	exited       chan error
	waiter       errgroup.Group
	vpp          *vpplink.VPP
	stopAsked    bool
}

// Run takes the uplinks over, runs VPP until it exits, and restores Linux.
// It returns nil when VPP stopped because vpp-manager was asked to stop,
// ErrVPPFailed (wrapped) when VPP crashed, or the error that prevented the
// takeover (Linux then restored).
func (m *Manager) Run(ctx context.Context) (err error) {
	s := &session{exited: make(chan error, 1)}
	if s.hostNS, err = netns.Get(); err != nil {
		return fmt.Errorf("get host netns: %w", err)
	}
	defer s.hostNS.Close()
	if s.host, err = netlink.NewHandle(); err != nil {
		return fmt.Errorf("netlink: %w", err)
	}
	defer s.host.Close()

	m.status(Status{State: StateStarting})
	if err := m.recover(ctx, s); err != nil {
		err = fmt.Errorf("restore Linux after a previous run: %w", err)
		m.status(Status{State: StateErrored, Error: err.Error()})
		return err
	}
	runHook(ctx, m.log, "BEFORE_IF_READ", m.cfg.Hooks.BeforeIfRead, nil)

	states, err := m.capture(s.host)
	if err != nil {
		m.status(Status{State: StateErrored, Error: err.Error()})
		return err
	}
	if err := linuxstate.Save(m.cfg.UplinkSavePath(), states); err != nil {
		// Nothing was touched: refuse to go on without a way back.
		m.status(Status{State: StateErrored, Error: err.Error()})
		return err
	}
	defer func() {
		// Teardown runs even when ctx has ended: it is what restores Linux.
		ctx := context.WithoutCancel(ctx)
		if tdErr := m.teardown(ctx, s, states); tdErr != nil {
			err = errors.Join(err, tdErr)
		}
		final := Status{State: StateStopped}
		if err != nil {
			final = Status{State: StateErrored, Error: err.Error()}
			runHook(ctx, m.log, "VPP_ERRORED", m.cfg.Hooks.VPPErrored, nil)
		} else {
			runHook(ctx, m.log, "VPP_DONE_OK", m.cfg.Hooks.VPPDoneOK, nil)
		}
		m.status(final)
	}()

	if s.vppNS, _, err = nsutil.EnsureNamed(m.cfg.Paths.VPPNetns); err != nil {
		return err
	}
	s.env = &uplink.Env{Host: s.host, HostNS: s.hostNS, VPPNS: s.vppNS, VPPNetns: m.cfg.Paths.VPPNetns, FS: m.deps.FS,
		PCI: uplink.PCI{FS: m.deps.FS}, KernelRelease: m.deps.KernelRelease, VF: uplink.NetlinkVF{Handle: s.host}, Log: m.log}

	// Drivers that VPP must know at start (DPDK) are prepared now; the
	// others once VPP runs, so a failing one can fall back to the next.
	specs := m.cfg.Interfaces.UplinkInterfaces
	candidates := make([][]uplink.Driver, len(states))
	for i := range states {
		if candidates[i], err = uplink.Candidates(s.env, &states[i], specs[i].VppDriver); err != nil {
			return err
		}
		if len(candidates[i]) == 0 {
			return fmt.Errorf("uplink %s: no usable driver", states[i].Name)
		}
		if d := candidates[i][0]; d.InStartupConf() {
			a := &attached{state: &states[i], spec: specs[i], driver: d}
			// Registered first: a half-done preparation is released too.
			s.prepared = append(s.prepared, a)
			if err := d.PrepareLinux(s.env, a.state, a.spec); err != nil {
				return fmt.Errorf("prepare uplink %s for %s: %w", a.state.Name, d.Name(), err)
			}
		}
	}
	if err := m.writeStartupConf(states, candidates); err != nil {
		return err
	}
	runHook(ctx, m.log, "BEFORE_VPP_RUN", m.cfg.Hooks.BeforeVPPRun, nil)
	if err := m.takeover(ctx, s, states, candidates); err != nil {
		if s.stopAsked {
			m.log.WithError(err).Info("asked to stop during start-up: giving Linux its uplink back")
			return nil
		}
		return err
	}
	m.status(m.runningStatus(s))
	runHook(ctx, m.log, "VPP_RUNNING", m.cfg.Hooks.VPPRunning, []string{"VPP_PID=" + strconv.Itoa(s.cmd.Process.Pid)})
	m.log.WithField("pid", s.cmd.Process.Pid).Info("VPP running, uplink taken over")
	return m.supervise(ctx, s)
}

// takeover starts VPP and gives it the uplinks. A SIGTERM or SIGINT that
// arrives meanwhile cancels it (the deferred teardown then restores Linux
// well within the kubelet's grace period).
func (m *Manager) takeover(ctx context.Context, s *session, states []linuxstate.Uplink, candidates [][]uplink.Driver) error {
	tctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	var watcher errgroup.Group
	watcher.Go(func() error {
		for {
			select {
			case <-done:
				return nil
			case sig := <-m.deps.Signals:
				if sig == syscall.SIGTERM || sig == syscall.SIGINT {
					m.log.WithField("signal", sig).Info("stop requested during start-up")
					s.stopAsked = true
					cancel()
					return nil
				}
				m.log.WithField("signal", sig).Info("signal ignored: VPP is not running yet")
			}
		}
	})
	err := m.takeoverSteps(tctx, s, states, candidates)
	close(done)
	_ = watcher.Wait()
	return err
}

func (m *Manager) takeoverSteps(ctx context.Context, s *session, states []linuxstate.Uplink, candidates [][]uplink.Driver) error {
	if err := m.startVPP(ctx, s); err != nil {
		return err
	}
	specs := m.cfg.Interfaces.UplinkInterfaces
	for i := range states {
		if err := m.attachUplink(ctx, s, &states[i], specs[i], candidates[i]); err != nil {
			return err
		}
	}
	return m.connectHost(ctx, s)
}

// capture reads every configured uplink, the main one first.
func (m *Manager) capture(h *netlink.Handle) ([]linuxstate.Uplink, error) {
	specs := m.cfg.Interfaces.UplinkInterfaces
	if len(specs) == 0 {
		return nil, fmt.Errorf("%s: no uplink configured (set uplinkInterfaces[0].interfaceName)", config.EnvInterfaces)
	}
	out := make([]linuxstate.Uplink, 0, len(specs))
	for i, spec := range specs {
		u, err := linuxstate.Capture(h, linuxstate.RootSysFS{Root: sysRoot(m.deps.FS)}, spec.InterfaceName)
		if err != nil {
			return nil, fmt.Errorf("%s.uplinkInterfaces[%d].interfaceName: %w", config.EnvInterfaces, i, err)
		}
		out = append(out, *u)
	}
	return out, nil
}

func sysRoot(fs uplink.FS) string {
	if r, ok := fs.(uplink.RootFS); ok && r.Root != "" {
		return filepath.Join(r.Root, "sys")
	}
	return "/sys"
}

func (m *Manager) writeStartupConf(states []linuxstate.Uplink, candidates [][]uplink.Driver) error {
	p := startupconf.Params{Annotations: m.deps.NodeAnnotations, RunDir: m.cfg.Paths.RunDir,
		APISocket: m.cfg.Paths.VPPAPISocket, StartupExec: m.cfg.Paths.StartupExec()}
	hp, err := uplink.Hugepages(m.deps.FS)
	p.Hugepages = err == nil && hp > 0
	for i, u := range states {
		spec := m.cfg.Interfaces.UplinkInterfaces[i]
		p.Uplinks = append(p.Uplinks, startupconf.Uplink{Name: u.Name, Driver: candidates[i][0].Name(), PCI: u.PCI,
			NumRxQueues: spec.NumRxQueues, NumTxQueues: spec.NumTxQueues, RxQueueSize: spec.RxQueueSize, TxQueueSize: spec.TxQueueSize})
	}
	conf, err := startupconf.Render(m.cfg.ConfigTemplate, p)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(m.cfg.Paths.VPPStartupConf, []byte(conf)); err != nil {
		return fmt.Errorf("write %s: %w", m.cfg.Paths.VPPStartupConf, err)
	}
	exec := m.cfg.ConfigExecTemplate
	if exec != "" && !strings.HasSuffix(exec, "\n") {
		exec += "\n"
	}
	if err := writeFileAtomic(m.cfg.Paths.StartupExec(), []byte(exec)); err != nil {
		return fmt.Errorf("write %s: %w", m.cfg.Paths.StartupExec(), err)
	}
	return nil
}

// startVPP starts VPP in its namespace (it dies with vpp-manager) and
// connects to its API.
func (m *Manager) startVPP(ctx context.Context, s *session) error {
	if sleep := m.cfg.Initial.VppStartupSleepSeconds; sleep > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(sleep) * time.Second):
		}
	}
	_ = os.Remove(m.cfg.Paths.VPPAPISocket)
	s.cmd = exec.Command(m.cfg.Paths.VPPBinary, "-c", m.cfg.Paths.VPPStartupConf)
	s.cmd.Stdout, s.cmd.Stderr = os.Stdout, os.Stderr
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := nsutil.Start(s.vppNS, s.cmd); err != nil {
		s.cmd = nil
		return fmt.Errorf("start VPP (%s): %w", m.cfg.Paths.VPPBinary, err)
	}
	s.waiter.Go(func() error { s.exited <- s.cmd.Wait(); return nil })
	if err := writeFileAtomic(filepath.Join(m.cfg.Paths.RunDir, PIDFile), []byte(strconv.Itoa(s.cmd.Process.Pid)+"\n")); err != nil {
		return fmt.Errorf("write VPP pid file: %w", err)
	}
	cctx, cancel := context.WithTimeout(ctx, m.deps.ConnectTimeout)
	defer cancel()
	var watch errgroup.Group
	connected := make(chan struct{})
	watch.Go(func() error {
		select {
		case err := <-s.exited:
			s.exited <- err
			cancel()
		case <-connected:
		}
		return nil
	})
	v, err := vpplink.Connect(cctx, m.cfg.Paths.VPPAPISocket, m.log.WithField("component", "vpplink"), vpplink.ConnectOptions{})
	close(connected)
	_ = watch.Wait()
	if err != nil {
		select {
		case exitErr := <-s.exited:
			s.exited <- exitErr
			return fmt.Errorf("VPP exited before its API came up (%v): check %s and VPP's output", exitErr, m.cfg.Paths.VPPStartupConf)
		default:
		}
		return fmt.Errorf("connect to VPP: %w", err)
	}
	s.vpp = v
	return nil
}

// attachUplink gives the uplink to VPP with the first driver that works.
func (m *Manager) attachUplink(ctx context.Context, s *session, u *linuxstate.Uplink, spec config.UplinkSpec, candidates []uplink.Driver) error {
	var errs []error
	for _, d := range candidates {
		a := &attached{state: u, spec: spec, driver: d}
		log := m.log.WithFields(logrus.Fields{"uplink": u.Name, "driver": d.Name()})
		// giveBack releases a failed driver's preparation before the next
		// is tried; it stays registered (for teardown) until that worked.
		giveBack := func() error {
			if err := d.Release(s.env, u); err != nil {
				return fmt.Errorf("give uplink %s back after %s failed: %w", u.Name, d.Name(), err)
			}
			s.prepared = s.prepared[:len(s.prepared)-1]
			return nil
		}
		if !d.InStartupConf() {
			s.prepared = append(s.prepared, a)
			if err := d.PrepareLinux(s.env, u, spec); err != nil {
				errs = append(errs, fmt.Errorf("%s: prepare: %w", d.Name(), err))
				log.WithError(err).Warn("driver failed, trying the next")
				if err := giveBack(); err != nil {
					return err
				}
				continue
			}
		}
		idx, err := d.Attach(ctx, s.env, s.vpp, u, spec)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", d.Name(), err))
			log.WithError(err).Warn("driver failed, trying the next")
			if !d.InStartupConf() {
				if err := giveBack(); err != nil {
					return err
				}
			}
			continue
		}
		a.idx = idx
		if err := m.configureUplink(ctx, s.vpp, a); err != nil {
			return err
		}
		s.uplinks = append(s.uplinks, a)
		log.WithField("swIfIndex", idx).Info("uplink attached to VPP")
		return nil
	}
	return fmt.Errorf("uplink %s: no driver could attach it: %w", u.Name, errors.Join(errs...))
}

// configureUplink gives VPP's uplink the Linux addresses, MTU and routes.
func (m *Manager) configureUplink(ctx context.Context, v *vpplink.VPP, a *attached) error {
	u, idx := a.state, a.idx
	mtu := u.MTU
	if a.spec.Mtu != 0 {
		mtu = a.spec.Mtu
	}
	if err := v.SetInterfaceMTU(ctx, idx, uint32(mtu)); err != nil {
		return err
	}
	if a.spec.RxMode != config.RxModeDefault {
		mode, err := vpplink.ParseRxMode(string(a.spec.RxMode))
		if err != nil {
			return err
		}
		if err := v.SetRxMode(ctx, idx, mode); err != nil {
			return err
		}
	}
	if err := v.SetInterfaceTag(ctx, idx, "calico-vpp:uplink:"+u.Name); err != nil {
		return err
	}
	for _, addr := range u.Addresses {
		if err := v.AddInterfaceAddress(ctx, idx, addr.Prefix); err != nil {
			return err
		}
	}
	if err := v.SetInterfaceUp(ctx, idx, true); err != nil {
		return err
	}
	var routes []vpplink.Route
	for _, r := range u.Routes {
		if r.Table != 0 {
			continue
		}
		if route, ok := uplinkRoute(r, idx); ok {
			routes = append(routes, route)
		}
	}
	if a.spec.IsMain {
		for _, gw := range m.cfg.Initial.DefaultGateways {
			def := netip.MustParsePrefix("0.0.0.0/0")
			if gw.Is6() {
				def = netip.MustParsePrefix("::/0")
			}
			routes = append(routes, vpplink.Route{Prefix: def, Paths: []vpplink.RoutePath{{Gateway: gw, SwIfIndex: idx}}})
		}
	}
	return v.AddRoutes(ctx, routes)
}

// uplinkRoute is the VPP route for a Linux route through the uplink idx:
// an ECMP route keeps its next hops on the uplink, with their weights
// (those on other Linux links stay Linux's).
func uplinkRoute(r linuxstate.Route, idx vpplink.SwIfIndex) (vpplink.Route, bool) {
	if len(r.MultiPath) == 0 {
		return vpplink.Route{Prefix: r.Dst, Paths: []vpplink.RoutePath{{Gateway: r.Gw, SwIfIndex: idx}}}, true
	}
	route := vpplink.Route{Prefix: r.Dst}
	for _, nh := range r.MultiPath {
		if nh.Dev == "" {
			route.Paths = append(route.Paths, vpplink.RoutePath{Gateway: nh.Gw, SwIfIndex: idx, Weight: uint8(min(max(nh.Weight, 1), 255))})
		}
	}
	return route, len(route.Paths) > 0
}

// uplinkGateways are the gateways r reaches through the uplink.
func uplinkGateways(r linuxstate.Route) []netip.Addr {
	if len(r.MultiPath) == 0 {
		return []netip.Addr{r.Gw}
	}
	var gws []netip.Addr
	for _, nh := range r.MultiPath {
		if nh.Dev == "" && nh.Gw.IsValid() {
			gws = append(gws, nh.Gw)
		}
	}
	return gws
}

// hostIfName names the host interface of uplink i: the configured name
// (vpptap0) for the main uplink, the same with the index for the others
// (vpptap1, ...).
func (m *Manager) hostIfName(i int) string {
	if i == 0 {
		return m.cfg.HostTapName
	}
	base := strings.TrimRight(m.cfg.HostTapName, "0123456789")
	name := base + strconv.Itoa(i)
	if len(name) > 15 {
		name = name[len(name)-15:]
	}
	return name
}

// connectHost gives each uplink its host interface (vpptap0 for the
// main one) with the uplink's MAC, MTU, addresses and routes, and the VPP
// side that carries the host's traffic: punting of host-bound traffic from
// the uplink, proxy ARP/ND so the host's gateways resolve to VPP, and
// CALICOVPP_TAP0_ADDR on the main one.
func (m *Manager) connectHost(ctx context.Context, s *session) error {
	spec := m.cfg.Interfaces.VppHostTapSpec
	mode, why := hostif.ChooseMode(spec.Interconnect, m.deps.StatVhostNet)
	m.log.WithFields(logrus.Fields{"mode": mode, "interface": m.cfg.HostTapName}).Infof("host interface: %s", why)
	proxyARP := false
	for i, a := range s.uplinks {
		name := m.hostIfName(i)
		params := hostif.Params{
			Mode: mode, Name: name, MAC: a.state.MAC, MTU: a.state.MTU, Spec: spec,
			// VPP opens our namespace through the descriptor we hold on it.
			HostNS: s.hostNS, Host: s.host, VPPNS: s.vppNS, HostPath: fmt.Sprintf("/proc/%d/fd/%d", os.Getpid(), int(s.hostNS)),
		}
		s.hostIfs = append(s.hostIfs, name)
		idx, err := hostif.Create(ctx, s.vpp, params)
		if err != nil && mode == config.InterconnectVhost && spec.Interconnect == config.InterconnectAuto && vpplink.IsRetval(err, vpplink.RetvalSyscallError1) {
			// VPP could not open /dev/vhost-net after all: fall back.
			m.log.WithError(err).Warn("VPP cannot create taps on this node: using a veth pair with AF_PACKET instead")
			mode, params.Mode = config.InterconnectVeth, config.InterconnectVeth
			idx, err = hostif.Create(ctx, s.vpp, params)
		}
		if err != nil {
			return fmt.Errorf("create host interface %s (%s): %w", name, mode, err)
		}
		st := HostInterfaceStatus{Name: name, Mode: string(mode), SwIfIndex: uint32(idx)}
		if i == 0 {
			s.hostIf = st
		}
		s.hostIfStatus = append(s.hostIfStatus, st)
		if err := linuxstate.Apply(s.host, name, a.state); err != nil {
			return fmt.Errorf("move the addresses and routes of %s to %s: %w", a.state.Name, name, err)
		}
		if i == 0 && m.cfg.Tap0Addr.IsValid() {
			if err := s.vpp.AddInterfaceAddress(ctx, idx, m.cfg.Tap0Addr); err != nil {
				return err
			}
		}
		if err := m.connectHostVPPSide(ctx, s.vpp, a, idx, &proxyARP); err != nil {
			return err
		}
	}
	return nil
}

// connectHostVPPSide punts the uplink's host-bound traffic to its host
// interface and answers the host's ARP/ND for its gateways.
func (m *Manager) connectHostVPPSide(ctx context.Context, v *vpplink.VPP, a *attached, idx vpplink.SwIfIndex, proxyARPAdded *bool) error {
	u := a.state
	for _, is6 := range []bool{false, true} {
		var hostAddr netip.Addr
		for _, addr := range u.Addresses {
			if addr.Prefix.Addr().Is6() == is6 {
				hostAddr = addr.Prefix.Addr()
				break
			}
		}
		if !hostAddr.IsValid() {
			continue
		}
		if is6 {
			if err := v.EnableIP6(ctx, idx, true); err != nil && !vpplink.IsRetval(err, vpplink.RetvalValueExist) {
				return err
			}
		}
		if err := v.AddPuntRedirect(ctx, vpplink.PuntRedirect{RxSwIfIndex: a.idx, IPv6: is6,
			Paths: []vpplink.RoutePath{{Gateway: hostAddr, SwIfIndex: idx}}}); err != nil {
			return err
		}
	}
	if u.HasIPv4() {
		if !*proxyARPAdded {
			if err := v.AddProxyARP(ctx, 0, netip.MustParseAddr("0.0.0.0"), netip.MustParseAddr("255.255.255.255")); err != nil {
				return err
			}
			*proxyARPAdded = true
		}
		if err := v.EnableProxyARP(ctx, idx, true); err != nil {
			return err
		}
	}
	proxiedND := false
	for _, r := range u.Routes {
		for _, gw := range uplinkGateways(r) {
			if !gw.Is6() {
				continue
			}
			if err := v.AddProxyND(ctx, idx, gw); err != nil {
				return err
			}
			proxiedND = true
		}
	}
	if proxiedND {
		if err := v.EnableProxyND(ctx, idx, true); err != nil {
			return err
		}
	}
	return nil
}

func (m *Manager) runningStatus(s *session) Status {
	st := Status{State: StateRunning, VPPPID: s.cmd.Process.Pid, HostInterface: s.hostIf, HostInterfaces: s.hostIfStatus}
	for _, a := range s.uplinks {
		us := UplinkStatus{Name: a.state.Name, Driver: string(a.driver.Name()), SwIfIndex: uint32(a.idx), MTU: a.state.MTU}
		for _, addr := range a.state.Addresses {
			us.Addresses = append(us.Addresses, addr.Prefix.String())
		}
		st.Uplinks = append(st.Uplinks, us)
	}
	return st
}

// supervise forwards signals to VPP until it exits.
func (m *Manager) supervise(ctx context.Context, s *session) error {
	var kill <-chan time.Time
	stop := func(reason string) {
		if s.stopAsked {
			return
		}
		s.stopAsked = true
		m.log.WithField("reason", reason).Info("stopping VPP")
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		kill = time.After(m.cfg.GracefulShutdownTimeout)
	}
	done := ctx.Done()
	for {
		select {
		case err := <-s.exited:
			s.exited <- err
			if s.stopAsked {
				m.log.WithError(err).Info("VPP stopped")
				return nil
			}
			return fmt.Errorf("%w: %v", ErrVPPFailed, exitDescription(err))
		case sig := <-m.deps.Signals:
			switch sig {
			case syscall.SIGTERM, syscall.SIGINT:
				stop("signal " + sig.String())
			default:
				m.log.WithField("signal", sig).Info("forwarding signal to VPP")
				_ = s.cmd.Process.Signal(sig)
			}
		case <-done:
			done = nil
			stop("context ended")
		case <-kill:
			m.log.WithField("grace", m.cfg.GracefulShutdownTimeout).Warn("VPP did not stop in time, killing it")
			_ = s.cmd.Process.Kill()
			kill = nil
		}
	}
}

func exitDescription(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// teardown stops VPP if it still runs and gives Linux its uplinks back.
// It is also the path of every failed start.
func (m *Manager) teardown(ctx context.Context, s *session, states []linuxstate.Uplink) error {
	if s.vpp != nil {
		s.vpp.Close()
	}
	if s.cmd != nil {
		select {
		case err := <-s.exited:
			s.exited <- err
		default:
			_ = s.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case err := <-s.exited:
				s.exited <- err
			case <-time.After(m.cfg.GracefulShutdownTimeout):
				_ = s.cmd.Process.Kill()
			}
		}
		_ = s.waiter.Wait()
	}
	_ = os.Remove(filepath.Join(m.cfg.Paths.RunDir, PIDFile))
	var errs []error
	for _, name := range s.hostIfs {
		if err := hostif.Remove(s.host, name); err != nil {
			errs = append(errs, err)
		}
	}
	if s.env != nil {
		for _, a := range s.prepared {
			if err := a.driver.Release(s.env, a.state); err != nil {
				errs = append(errs, fmt.Errorf("give uplink %s back from %s: %w", a.state.Name, a.driver.Name(), err))
			}
		}
	}
	for i := range states {
		if err := linuxstate.Restore(s.host, &states[i]); err != nil {
			errs = append(errs, err)
		}
	}
	if s.vppNS.IsOpen() {
		s.vppNS.Close()
	}
	if len(errs) == 0 {
		// Only once the uplink is surely out of it (else the next start
		// recovers it from there).
		if err := nsutil.DeleteNamed(m.cfg.Paths.VPPNetns); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 {
		if err := os.Remove(m.cfg.UplinkSavePath()); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
		m.log.Info("Linux uplink configuration restored")
	}
	return errors.Join(errs...)
}

// recover restores Linux from the saved state when a previous vpp-manager
// died without doing it (its VPP died with it: Pdeathsig).
func (m *Manager) recover(ctx context.Context, s *session) error {
	saved, found, err := linuxstate.Load(m.cfg.UplinkSavePath())
	if err != nil || !found {
		return err
	}
	m.log.Warn("found the saved uplink state of a previous run: restoring Linux first")
	if pid, err := readPID(filepath.Join(m.cfg.Paths.RunDir, PIDFile)); err == nil {
		if p, err := os.FindProcess(pid); err == nil && p.Signal(syscall.Signal(0)) == nil && isVPP(pid, m.cfg.Paths.VPPBinary) {
			m.log.WithField("pid", pid).Warn("VPP of the previous run still runs: killing it")
			_ = p.Kill()
			// It must be gone (vfio, hugepages released) before we touch the uplink.
			for deadline := time.Now().Add(10 * time.Second); p.Signal(syscall.Signal(0)) == nil && time.Now().Before(deadline); {
				time.Sleep(50 * time.Millisecond)
			}
		}
	}
	var errs []error
	for i := range saved {
		if err := hostif.Remove(s.host, m.hostIfName(i)); err != nil {
			errs = append(errs, err)
		}
	}
	// Give the uplink back whatever happened: from VPP's namespace if it
	// still exists, and to its kernel driver in any case.
	env := &uplink.Env{Host: s.host, HostNS: s.hostNS, VPPNS: netns.None(), FS: m.deps.FS, PCI: uplink.PCI{FS: m.deps.FS}, Log: m.log}
	if vppNS, err := netns.GetFromName(m.cfg.Paths.VPPNetns); err == nil {
		env.VPPNS = vppNS
		defer vppNS.Close()
	}
	for i := range saved {
		if err := uplink.ReleaseAny(env, &saved[i]); err != nil {
			errs = append(errs, err)
		}
	}
	for i := range saved {
		if err := linuxstate.Restore(s.host, &saved[i]); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		// Keep VPP's namespace (the uplink may still be in it) and the
		// saved state for the next attempt.
		return errors.Join(errs...)
	}
	if err := nsutil.DeleteNamed(m.cfg.Paths.VPPNetns); err != nil {
		return err
	}
	return os.Remove(m.cfg.UplinkSavePath())
}

func readPID(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// isVPP checks that pid runs the VPP binary (PIDs get reused).
func isVPP(pid int, binary string) bool {
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	return err == nil && filepath.Base(exe) == filepath.Base(binary)
}

// status publishes the state for the agent.
func (m *Manager) status(st Status) {
	st.VPPNetns = m.cfg.Paths.VPPNetns
	st.APISocket = m.cfg.Paths.VPPAPISocket
	st.Updated = time.Now().UTC()
	b, err := jsonMarshal(st)
	if err == nil {
		err = writeFileAtomic(filepath.Join(m.cfg.Paths.RunDir, StatusFile), b)
	}
	if err != nil {
		m.log.WithError(err).Warn("cannot write the status file")
	}
}
