// Command vpp-manager runs VPP for a Calico/VPP node: it takes the uplink
// over from Linux, starts VPP, keeps the host connected through vpptap0,
// forwards signals to VPP and restores Linux when VPP exits.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/calico-vpp/calico-vpp/pkg/config"
	"github.com/calico-vpp/calico-vpp/pkg/logging"
	"github.com/calico-vpp/calico-vpp/pkg/version"
	vppmanager "github.com/calico-vpp/calico-vpp/vpp-manager"
)

func main() {
	os.Exit(run())
}

func run() int {
	flags := flag.NewFlagSet("vpp-manager", flag.ContinueOnError)
	vppBinary := flags.String("vpp-binary", "", "VPP binary to run (overrides "+config.EnvVPPBinary+")")
	startupConf := flags.String("startup-conf", "", "where to write startup.conf (overrides "+config.EnvVPPStartupConf+")")
	apiSocket := flags.String("api-socket", "", "VPP API socket (overrides "+config.EnvVPPAPISocket+")")
	vppNetns := flags.String("vpp-netns", "", "network namespace VPP runs in (overrides "+config.EnvVPPNetns+")")
	runDir := flags.String("run-dir", "", "status, PID and saved-state directory (overrides "+config.EnvRunDir+")")
	showVersion := flags.Bool("version", false, "print the version and exit")
	flags.Usage = func() {
		out := flags.Output()
		fmt.Fprintf(out, "Usage: vpp-manager [flags]\n\n"+
			"Takes the configured uplink over from Linux, runs VPP with it, gives the host\n"+
			"its connectivity through %s and restores Linux when VPP exits.\n"+
			"Exits 0 after a requested stop (SIGTERM/SIGINT), 1 when VPP failed.\n\nFlags:\n", "vpptap0")
		flags.PrintDefaults()
		fmt.Fprintf(out, "\nEnvironment (ConfigMap calico-vpp-config):\n")
		for _, v := range config.Variables() {
			def := v.Default
			if len(def) > 40 {
				def = def[:37] + "..."
			}
			fmt.Fprintf(out, "  %s\n      %s", v.Name, v.Description)
			if def != "" {
				fmt.Fprintf(out, " (default %s)", def)
			}
			fmt.Fprintln(out)
		}
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
		fmt.Fprintf(os.Stderr, "vpp-manager: invalid configuration:\n%v\n", err)
		return 1
	}
	for _, override := range []struct {
		flag string
		dst  *string
	}{{*vppBinary, &cfg.Paths.VPPBinary}, {*startupConf, &cfg.Paths.VPPStartupConf}, {*apiSocket, &cfg.Paths.VPPAPISocket},
		{*vppNetns, &cfg.Paths.VPPNetns}, {*runDir, &cfg.Paths.RunDir}} {
		if override.flag != "" {
			*override.dst = override.flag
		}
	}
	logger := logging.New(os.Stderr, cfg.LogLevel, cfg.LogFormat)
	log := logging.Component(logger, "vpp-manager")
	for _, w := range warnings {
		log.Warn(string(w))
	}
	log.WithField("version", version.Version).Info("starting")

	signals := make(chan os.Signal, 8)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGQUIT)
	m := vppmanager.New(cfg, log, vppmanager.Deps{Signals: signals})
	if err := m.Run(context.Background()); err != nil {
		log.WithError(err).Error("vpp-manager failed")
		return 1
	}
	log.Info("stopped")
	return 0
}
