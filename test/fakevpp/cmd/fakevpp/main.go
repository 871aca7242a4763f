// Command fakevpp is a drop-in stand-in for the vpp binary in tests:
//
//	fakevpp -c /etc/vpp/startup.conf
//
// It reads the startup.conf VPP reads, serves VPP 25.10's binary API on the
// socksvr socket, runs the unix { exec } file's CLI commands, creates tap
// devices in Linux as VPP does, and stops on SIGTERM/SIGINT (exit 0). A bad
// configuration exits with status 1, as VPP does.
//
// Environment: FAKEVPP_NO_VHOST_NET=1 makes tap creation fail as on a
// kernel without /dev/vhost-net; FAKEVPP_LOG_LEVEL sets the log level.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/sirupsen/logrus"

	"github.com/calico-vpp/calico-vpp/test/fakevpp"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "fakevpp: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	confPath := flag.String("c", "", "startup.conf to read")
	flag.Parse()

	log := logrus.New()
	log.SetOutput(os.Stderr)
	if lvl, err := logrus.ParseLevel(os.Getenv("FAKEVPP_LOG_LEVEL")); err == nil {
		log.SetLevel(lvl)
	}
	entry := log.WithField("component", "fakevpp")

	var text string
	if *confPath != "" {
		b, err := os.ReadFile(*confPath)
		if err != nil {
			return fmt.Errorf("read config: %w", err)
		}
		text = string(b)
	} else {
		// vpp also takes its configuration on the command line.
		text = strings.Join(flag.Args(), " ")
	}
	cfg, err := fakevpp.ParseStartupConfig(text)
	if err != nil {
		return fmt.Errorf("startup config: %w", err)
	}

	engine, err := fakevpp.NewEngine(entry, fakevpp.LinuxHost{}, fakevpp.Options{
		NoVhostNet:  os.Getenv("FAKEVPP_NO_VHOST_NET") == "1",
		DPDKDevices: cfg.DPDK,
	})
	if err != nil {
		return err
	}
	defer engine.Close()

	if cfg.PIDFile != "" {
		if err := os.MkdirAll(filepath.Dir(cfg.PIDFile), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(cfg.PIDFile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
			return fmt.Errorf("write pidfile: %w", err)
		}
		defer os.Remove(cfg.PIDFile)
	}
	if cfg.Exec != "" {
		if err := runExec(engine, cfg.Exec, entry); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(filepath.Dir(cfg.APISocket), 0o755); err != nil {
		return fmt.Errorf("create API socket directory: %w", err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	entry.WithField("socket", cfg.APISocket).Info("fakevpp serving the VPP 25.10 binary API")
	err = fakevpp.NewServer(engine, cfg.APISocket, entry).Serve(ctx)
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	entry.Info("fakevpp stopped")
	return nil
}

// runExec runs the CLI commands of unix { exec }; like VPP, a failing
// command is reported and the rest still run.
func runExec(e *fakevpp.Engine, path string, log *logrus.Entry) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read exec file: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "comment") {
			continue
		}
		if out, ok := e.RunCLI(line); !ok {
			log.WithField("command", line).Warn(strings.TrimSpace(out))
		}
	}
	return nil
}
