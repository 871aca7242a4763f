// Command calivppctl is the operator's debugging tool for a Calico/VPP
// node: VPP's CLI, packet traces and captures, logs, a shell, and one
// archive with everything a bug report needs. Without --node it works on
// the node it runs on (VPP's API socket, the agent's status endpoint);
// with --node it finds that node's calico-vpp-node pod and runs the same
// operations there through the Kubernetes exec API.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

// globals are the flags every subcommand takes.
type globals struct {
	node       string
	kubeconfig string
	namespace  string
	apiSocket  string
	statusURL  string
	runDir     string
	logDir     string
}

func (g *globals) register(fs *flag.FlagSet) {
	fs.StringVar(&g.node, "node", "", "the node to work on (default: this node, directly)")
	fs.StringVar(&g.kubeconfig, "kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig, with --node")
	fs.StringVar(&g.namespace, "namespace", "calico-vpp-dataplane", "namespace of the calico-vpp-node pods, with --node")
	fs.StringVar(&g.apiSocket, "api-socket", envOr("CALICOVPP_VPP_API_SOCKET", "/var/run/vpp/vpp-api.sock"), "VPP API socket, locally")
	fs.StringVar(&g.statusURL, "status-url", "http://localhost:9090/status", "the agent's status endpoint, locally")
	fs.StringVar(&g.runDir, "run-dir", envOr("CALICOVPP_RUN_DIR", "/var/run/vpp"), "vpp-manager's run directory, locally")
	fs.StringVar(&g.logDir, "log-dir", "/var/log/containers", "the kubelet's container log directory, locally")
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// command is one subcommand.
type command struct {
	name  string
	usage string
	help  string
	flags func(fs *flag.FlagSet)
	run   func(ctx context.Context, g *globals, fs *flag.FlagSet) error
}

func commands() []*command {
	return []*command{
		vppctlCommand(), traceCommand(), pcapCommand(), dispatchCommand(), logCommand(), shCommand(),
		exportCommand(), clearCommand(), statusCommand(), catCommand(), completionCommand(),
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmds := commands()
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout, cmds)
		return 0
	}
	var cmd *command
	for _, c := range cmds {
		if c.name == args[0] {
			cmd = c
		}
	}
	if cmd == nil {
		fmt.Fprintf(stderr, "calivppctl: unknown command %q\n\n", args[0])
		usage(stderr, cmds)
		return 2
	}
	g := &globals{}
	fs := flag.NewFlagSet("calivppctl "+cmd.name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	g.register(fs)
	if cmd.flags != nil {
		cmd.flags(fs)
	}
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: calivppctl %s %s\n\n%s\n\nFlags:\n", cmd.name, cmd.usage, cmd.help)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if err := cmd.run(ctx, g, fs); err != nil {
		fmt.Fprintf(stderr, "calivppctl %s: %v\n", cmd.name, err)
		return 1
	}
	return 0
}

func usage(w io.Writer, cmds []*command) {
	fmt.Fprintf(w, "Usage: calivppctl <command> [--node N] [flags]\n\nDebug a Calico/VPP node. Commands:\n")
	sort.Slice(cmds, func(i, j int) bool { return cmds[i].name < cmds[j].name })
	for _, c := range cmds {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, strings.SplitN(c.help, "\n", 2)[0])
	}
	fmt.Fprintf(w, "\n'calivppctl <command> --help' describes a command.\n")
}
