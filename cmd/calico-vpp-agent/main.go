// Command calico-vpp-agent programs VPP for Calico on one node: routes,
// pod interfaces, services and policies. It runs in the agent container of
// the calico-vpp-node pod, beside vpp-manager.
package main

import (
	"context"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/projectcalico/calico/libcalico-go/lib/apiconfig"
	"github.com/projectcalico/calico/libcalico-go/lib/backend"
	bapi "github.com/projectcalico/calico/libcalico-go/lib/backend/api"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/sirupsen/logrus"

	agent "github.com/calico-vpp/calico-vpp/calico-vpp-agent"
	"github.com/calico-vpp/calico-vpp/calico-vpp-agent/cni"
	"github.com/calico-vpp/calico-vpp/calico-vpp-agent/inputs"
	"github.com/calico-vpp/calico-vpp/calico-vpp-agent/metrics"
	"github.com/calico-vpp/calico-vpp/calico-vpp-agent/routing"
	"github.com/calico-vpp/calico-vpp/calico-vpp-agent/services"
	"github.com/calico-vpp/calico-vpp/calico-vpp-agent/vppconn"
	felixproxy "github.com/calico-vpp/calico-vpp/felix-proxy"
	"github.com/calico-vpp/calico-vpp/pkg/config"
	"github.com/calico-vpp/calico-vpp/pkg/journal"
	"github.com/calico-vpp/calico-vpp/pkg/logging"
	"github.com/calico-vpp/calico-vpp/pkg/reconcile"
	"github.com/calico-vpp/calico-vpp/pkg/version"
	"github.com/calico-vpp/calico-vpp/pkg/vpplink"
	"github.com/calico-vpp/calico-vpp/pkg/vppstatus"
)

// podRequestTimeout bounds how long a CNI ADD or DEL waits for VPP; the
// kubelet retries a failed one.
const podRequestTimeout = time.Minute

func main() { os.Exit(run()) }

func run() int {
	flags := flag.NewFlagSet("calico-vpp-agent", flag.ContinueOnError)
	healthAddr := flags.String("health-listen", "", "health endpoints address (default :<healthCheckPort>)")
	runDir := flags.String("run-dir", "", "vpp-manager's run directory (overrides "+config.EnvRunDir+")")
	kubeconfig := flags.String("kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig of the Kubernetes API (default: in-cluster)")
	felixPlugins := flags.String("felix-plugins-dir", felixproxy.DefaultPluginsDir, "where felix-proxy is installed for Felix (\"\": not installed)")
	showVersion := flags.Bool("version", false, "print the version and exit")
	flags.Usage = func() {
		fmt.Fprintf(flags.Output(), "Usage: calico-vpp-agent [flags]\n\nPrograms VPP for Calico on this node. It waits for vpp-manager to report\nVPP running, and re-applies everything after a VPP restart.\n\nFlags:\n")
		flags.PrintDefaults()
		fmt.Fprintf(flags.Output(), "\nThe configuration comes from the environment: see vpp-manager --help.\n")
	}
	if err := flags.Parse(os.Args[1:]); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if *showVersion {
		fmt.Println(version.Version)
		return 0
	}
	cfg, warnings, err := config.Load(os.Environ())
	if err != nil {
		fmt.Fprintf(os.Stderr, "calico-vpp-agent: invalid configuration:\n%v\n", err)
		return 1
	}
	if *runDir != "" {
		cfg.Paths.RunDir = *runDir
	}
	logger := logging.New(os.Stderr, cfg.LogLevel, cfg.LogFormat)
	log := logging.Component(logger, "agent")
	for _, w := range warnings {
		log.Warn(string(w))
	}
	log.WithField("version", version.Version).Info("starting")

	if *felixPlugins != "" {
		installFelixProxy(*felixPlugins, log)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	// The object graph: one VPP connection holder, one reconciler (told
	// to resync whenever VPP comes back), the managers.
	var rec *reconcile.Reconciler
	conn := vppconn.New(vppconn.Options{
		StatusFile: filepath.Join(cfg.Paths.RunDir, vppstatus.StatusFile),
		APISocket:  cfg.Paths.VPPAPISocket,
		Log:        logging.Component(logger, "vppconn"),
		OnConnect:  func(*vpplink.VPP, vppstatus.Status) { rec.Resync() },
	})
	var m *metrics.Metrics
	if cfg.FeatureGates.PrometheusEnabled {
		m = metrics.New(ctx, func(c context.Context) ([]vpplink.InterfaceCounters, error) {
			v, err := conn.Get()
			if err != nil {
				return nil, err
			}
			return v.InterfaceCounters(c)
		}, nil, logging.Component(logger, "metrics"))
	}
	recOpts := reconcile.Options{Log: logging.Component(logger, "reconciler")}
	if m != nil {
		recOpts.Metrics = m
	}
	rec = reconcile.New(recOpts)

	k8s, calicoClient, err := clients(*kubeconfig)
	if err != nil {
		log.WithError(err).Error("cannot reach the Kubernetes API")
		return 1
	}
	for _, in := range []string{inputs.InputServices, inputs.InputEndpointSlices, inputs.InputNodes, inputs.InputCalico, cni.InputPods, routing.InputRouting, services.InputServices} {
		rec.AddInput(in)
	}
	kin := inputs.NewKubernetes(k8s, 0, rec.InputSynced, logging.Component(logger, "kubernetes"))
	cin := inputs.NewCalico(calicoClient, cfg.NodeName, cfg.UsePodCIDR, func() { rec.InputSynced(inputs.InputCalico) }, logging.Component(logger, "calico"))

	pods, err := cni.OpenStore(filepath.Join(cfg.Paths.StateDir, cni.StoreFile))
	if err != nil {
		log.WithError(err).Error("cannot open the pod records")
		return 1
	}
	cniLog := logging.Component(logger, "cni")
	dp := cni.NewVPPDataplane(rec, cni.NewPodKind(conn, cfg.Debug.GSOEnabled, cniLog),
		func() map[netip.Prefix]inputs.IPPool { return cin.State().IPPools }, podRequestTimeout)
	cniManager := cni.NewManager(pods, cni.NewServer(&cfg.Interfaces, pods, dp, cniLog), dp, cfg.Paths.CNIServerSocket,
		func() { rec.InputSynced(cni.InputPods) }, cniLog)

	tunnelJournal, err := journal.Open(filepath.Join(cfg.Paths.StateDir, "routing-tunnels.journal"))
	if err != nil {
		log.WithError(err).Error("cannot open the tunnel journal")
		return 1
	}
	routeJournal, err := journal.Open(filepath.Join(cfg.Paths.StateDir, "routing-routes.journal"))
	if err != nil {
		log.WithError(err).Error("cannot open the route journal")
		return 1
	}
	routingOpts := routing.Options{
		Node:        cfg.NodeName,
		Secrets:     routing.CachedSecrets(secretGetter(k8s, podNamespace()), time.Minute),
		OnSynced:    func() { rec.InputSynced(routing.InputRouting) },
		BGPLogLevel: cfg.BGPLogLevel,
		Log:         logging.Component(logger, "routing"),
	}
	if cfg.UsePodCIDR {
		routingOpts.PodCIDRs = func() []netip.Prefix { return nodePodCIDRs(kin, cfg.NodeName) }
		changed, err := watchPodCIDRs(kin, cfg.NodeName)
		if err != nil {
			log.WithError(err).Error("watch the node's podCIDRs")
			return 1
		}
		routingOpts.PodCIDRsChanged = changed
	}
	routingManager := routing.NewManager(rec, conn, cin, tunnelJournal, routeJournal, routingOpts)

	translationJournal, err := journal.Open(filepath.Join(cfg.Paths.StateDir, "services-translations.journal"))
	if err != nil {
		log.WithError(err).Error("cannot open the translation journal")
		return 1
	}
	servicesManager, err := services.NewManager(rec, conn, kin.Services(), kin.EndpointSlices(), translationJournal, cfg.NodeName,
		func() { rec.InputSynced(services.InputServices) }, logging.Component(logger, "services"))
	if err != nil {
		log.WithError(err).Error("cannot start the services manager")
		return 1
	}

	a := agent.New(cfg, log, conn, rec, m, agent.Options{HealthAddr: *healthAddr}, kin, cin, cniManager, routingManager, servicesManager)
	if err := a.Run(ctx); err != nil {
		log.WithError(err).Error("agent failed")
		return 1
	}
	log.Info("stopped")
	return 0
}

// installFelixProxy puts the felix-proxy shipped beside the agent where
// Felix runs its dataplane driver from. Without it Felix cannot start, so
// a failure is loud, but the agent's own work goes on.
func installFelixProxy(dir string, log *logrus.Entry) {
	self, err := os.Executable()
	if err != nil {
		log.WithError(err).Error("felix-proxy not installed")
		return
	}
	dst, err := felixproxy.Install(filepath.Join(filepath.Dir(self), "felix-proxy"), dir)
	if err != nil {
		log.WithError(err).Error("felix-proxy not installed: Felix's external dataplane driver is missing")
		return
	}
	log.WithField("path", dst).Info("felix-proxy installed for Felix")
}

// nodePodCIDRs is the Kubernetes node's spec.podCIDRs (host-local IPAM).
func nodePodCIDRs(k *inputs.Kubernetes, node string) []netip.Prefix {
	obj, ok, err := k.Nodes().GetStore().GetByKey(node)
	if err != nil || !ok {
		return nil
	}
	n, ok := obj.(*corev1.Node)
	if !ok {
		return nil
	}
	var out []netip.Prefix
	for _, c := range n.Spec.PodCIDRs {
		if p, err := netip.ParsePrefix(c); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// watchPodCIDRs signals when the node's spec.podCIDRs change (the node
// IPAM controller may assign them after the agent started).
func watchPodCIDRs(k *inputs.Kubernetes, node string) (<-chan struct{}, error) {
	changed := make(chan struct{}, 1)
	podCIDRs := func(obj any) []string {
		if n, ok := obj.(*corev1.Node); ok && n.Name == node {
			return n.Spec.PodCIDRs
		}
		return nil
	}
	signal := func() {
		select {
		case changed <- struct{}{}:
		default: // one pending signal covers any number of changes
		}
	}
	_, err := k.Nodes().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			if len(podCIDRs(obj)) > 0 {
				signal()
			}
		},
		UpdateFunc: func(old, cur any) {
			if !slices.Equal(podCIDRs(old), podCIDRs(cur)) {
				signal()
			}
		},
	})
	return changed, err
}

// podNamespace is the agent's namespace (downward API), where BGP
// password Secrets live.
func podNamespace() string {
	if ns := os.Getenv("POD_NAMESPACE"); ns != "" {
		return ns
	}
	return "calico-vpp-dataplane"
}

// secretGetter reads a key of a Secret in namespace.
func secretGetter(k8s kubernetes.Interface, namespace string) routing.SecretGetter {
	return func(name, key string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s, err := k8s.CoreV1().Secrets(namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return "", err
		}
		v, ok := s.Data[key]
		if !ok {
			return "", fmt.Errorf("secret %s/%s has no key %q", namespace, name, key)
		}
		return string(v), nil
	}
}

// clients builds the Kubernetes and Calico (Kubernetes datastore) clients
// from a kubeconfig, or from the in-cluster service account.
func clients(kubeconfig string) (kubernetes.Interface, bapi.Client, error) {
	var restCfg *rest.Config
	var err error
	if kubeconfig != "" {
		restCfg, err = clientcmd.BuildConfigFromFlags("", kubeconfig)
	} else {
		restCfg, err = rest.InClusterConfig()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("kubernetes client configuration (set --kubeconfig or KUBECONFIG outside a cluster): %w", err)
	}
	k8s, err := kubernetes.NewForConfig(restCfg)
	if err != nil {
		return nil, nil, err
	}
	calicoClient, err := backend.NewClient(apiconfig.CalicoAPIConfig{Spec: apiconfig.CalicoAPIConfigSpec{
		DatastoreType: apiconfig.Kubernetes, KubeConfig: apiconfig.KubeConfig{Kubeconfig: kubeconfig},
	}})
	if err != nil {
		return nil, nil, fmt.Errorf("calico datastore client: %w", err)
	}
	return k8s, calicoClient, nil
}
