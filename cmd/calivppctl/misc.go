package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
)

func logCommand() *command {
	var component string
	var follow bool
	return &command{
		name: "log", usage: "[--component vpp|agent|felix] [--follow]",
		help: "Print a component's log on the node.",
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&component, "component", "agent", "vpp|agent|felix")
			fs.BoolVar(&follow, "follow", false, "keep printing new lines")
		},
		run: func(ctx context.Context, g *globals, _ *flag.FlagSet) error {
			n, err := nodeFor(ctx, g)
			if err != nil {
				return err
			}
			defer n.Close()
			return n.Logs(ctx, component, follow, os.Stdout)
		},
	}
}

func shCommand() *command {
	var component string
	return &command{
		name: "sh", usage: "[--component vpp|agent]",
		help:  "Open a shell in a container of the node's calico-vpp-node pod.",
		flags: func(fs *flag.FlagSet) { fs.StringVar(&component, "component", "vpp", "vpp|agent") },
		run: func(ctx context.Context, g *globals, _ *flag.FlagSet) error {
			n, err := nodeFor(ctx, g)
			if err != nil {
				return err
			}
			defer n.Close()
			return n.Shell(ctx, component)
		},
	}
}

// catCommand prints a file VPP wrote; the cluster path uses it to copy
// captures back through the exec API.
func catCommand() *command {
	return &command{
		name: "cat", usage: "<path>",
		help: "Print a file from VPP's filesystem (a capture in /tmp).",
		run: func(ctx context.Context, g *globals, fs *flag.FlagSet) error {
			if fs.NArg() != 1 || !strings.HasPrefix(fs.Arg(0), "/tmp/") {
				return fmt.Errorf("want one path under /tmp")
			}
			n, err := nodeFor(ctx, g)
			if err != nil {
				return err
			}
			defer n.Close()
			b, err := n.ReadVPPFile(ctx, fs.Arg(0))
			if err != nil {
				return err
			}
			_, err = os.Stdout.Write(b)
			return err
		},
	}
}

func completionCommand() *command {
	return &command{
		name: "completion", usage: "bash",
		help: "Print a bash completion script: source <(calivppctl completion bash).",
		run: func(_ context.Context, _ *globals, fs *flag.FlagSet) error {
			if fs.NArg() != 1 || fs.Arg(0) != "bash" {
				return fmt.Errorf("only bash is supported")
			}
			var names []string
			for _, c := range commands() {
				names = append(names, c.name)
			}
			fmt.Printf(`_calivppctl() {
  local cur=${COMP_WORDS[COMP_CWORD]}
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W "%s" -- "$cur"))
  else
    COMPREPLY=($(compgen -W "--node --kubeconfig --count --timeout --interface --srcip --dstip --srcport --dstport --protocol --output --component --follow --help" -- "$cur"))
  fi
}
complete -F _calivppctl calivppctl
`, strings.Join(names, " "))
			return nil
		},
	}
}
