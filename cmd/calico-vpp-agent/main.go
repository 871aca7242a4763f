// Command calico-vpp-agent programs VPP for Calico on one node: routes,
// pod interfaces, services and policies. It runs in the agent container of
// the calico-vpp-node pod, beside vpp-manager.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	agent "github.com/calico-vpp/calico-vpp/calico-vpp-agent"
	"github.com/calico-vpp/calico-vpp/calico-vpp-agent/metrics"
	"github.com/calico-vpp/calico-vpp/calico-vpp-agent/vppconn"
	"github.com/calico-vpp/calico-vpp/pkg/config"
	"github.com/calico-vpp/calico-vpp/pkg/logging"
	"github.com/calico-vpp/calico-vpp/pkg/reconcile"
	"github.com/calico-vpp/calico-vpp/pkg/version"
	"github.com/calico-vpp/calico-vpp/pkg/vpplink"
	"github.com/calico-vpp/calico-vpp/pkg/vppstatus"
)

func main() { os.Exit(run()) }

func run() int {
	flags := flag.NewFlagSet("calico-vpp-agent", flag.ContinueOnError)
	healthAddr := flags.String("health-listen", "", "health endpoints address (default :<healthCheckPort>)")
	runDir := flags.String("run-dir", "", "vpp-manager's run directory (overrides "+config.EnvRunDir+")")
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

	a := agent.New(cfg, log, conn, rec, m, agent.Options{HealthAddr: *healthAddr})
	if err := a.Run(ctx); err != nil {
		log.WithError(err).Error("agent failed")
		return 1
	}
	log.Info("stopped")
	return 0
}
