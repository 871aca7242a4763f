// Command felix-proxy is Felix's external dataplane driver for Calico/VPP:
// Felix runs it (FELIX_DATAPLANEDRIVER; the agent installs it into the
// felix-plugins directory) and it relays Felix's messages to the agent.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"

	felixproxy "github.com/calico-vpp/calico-vpp/felix-proxy"
	"github.com/calico-vpp/calico-vpp/pkg/version"
)

func main() { os.Exit(run()) }

func run() int {
	flags := flag.NewFlagSet("felix-proxy", flag.ContinueOnError)
	socket := flags.String("socket", envOr("CALICOVPP_FELIX_DATAPLANE_SOCKET", felixproxy.DefaultSocket), "the agent's policy socket")
	showVersion := flags.Bool("version", false, "print the version and exit")
	flags.Usage = func() {
		fmt.Fprintf(flags.Output(), "Usage: felix-proxy [flags]\n\nFelix's external dataplane driver: Felix starts it with its messages on\nfd 3 and reads the answers on fd 4; felix-proxy relays both to the\nCalico/VPP agent.\n\nFlags:\n")
		flags.PrintDefaults()
	}
	if err := flags.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *showVersion {
		fmt.Println(version.Version)
		return 0
	}
	logger := logrus.New() // Felix copies our stderr into its log
	log := logger.WithField("component", "felix-proxy")
	// Non-blocking, so that closing fd 3 interrupts a read when the agent
	// goes away (Felix hands the pipes over in blocking mode).
	for _, fd := range []int{3, 4} {
		if err := syscall.SetNonblock(fd, true); err != nil {
			log.Error("fd 3 and 4 are not open: felix-proxy is started by Felix (FELIX_DATAPLANEDRIVER)")
			return 2
		}
	}
	fromFelix, toFelix := os.NewFile(3, "from-felix"), os.NewFile(4, "to-felix")
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	agent, err := felixproxy.Dial(ctx, *socket, time.Second, log)
	if err != nil {
		log.WithError(err).Error("no agent")
		return 1
	}
	log.WithField("socket", *socket).Info("relaying Felix's dataplane messages to the agent")
	if err := felixproxy.Relay(ctx, fromFelix, toFelix, agent); err != nil {
		log.WithError(err).Error("relay ended; Felix restarts and re-sends its state")
		return 1
	}
	return 0
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
