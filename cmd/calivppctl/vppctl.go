package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
)

func vppctlCommand() *command {
	return &command{
		name: "vppctl", usage: "[<cli command...>]",
		help: "Run a VPP CLI command and print VPP's answer.\nWithout a command, an interactive prompt (vpp#) reads commands until EOF or 'quit'.",
		run: func(ctx context.Context, g *globals, fs *flag.FlagSet) error {
			n, err := nodeFor(ctx, g)
			if err != nil {
				return err
			}
			defer n.Close()
			if fs.NArg() > 0 {
				out, err := n.CLI(ctx, strings.Join(fs.Args(), " "))
				fmt.Print(out)
				return err
			}
			in := bufio.NewScanner(os.Stdin)
			for fmt.Print("vpp# "); in.Scan(); fmt.Print("vpp# ") {
				line := strings.TrimSpace(in.Text())
				if line == "quit" || line == "exit" {
					return nil
				}
				if line == "" {
					continue
				}
				out, err := n.CLI(ctx, line)
				fmt.Print(out)
				if err != nil && out == "" {
					fmt.Fprintln(os.Stderr, err)
				}
			}
			fmt.Println()
			return in.Err()
		},
	}
}

func clearCommand() *command {
	return &command{
		name: "clear", usage: "",
		help: "Clear VPP's interface counters, errors, runtime statistics and traces.",
		run: func(ctx context.Context, g *globals, _ *flag.FlagSet) error {
			n, err := nodeFor(ctx, g)
			if err != nil {
				return err
			}
			defer n.Close()
			for _, c := range []string{"clear interfaces", "clear errors", "clear runtime", "clear trace"} {
				if _, err := n.CLI(ctx, c); err != nil {
					return fmt.Errorf("%s: %w", c, err)
				}
			}
			fmt.Println("cleared interfaces, errors, runtime and traces")
			return nil
		},
	}
}

func statusCommand() *command {
	return &command{
		name: "status", usage: "",
		help: "Print the agent's status (its /status endpoint).",
		run: func(ctx context.Context, g *globals, _ *flag.FlagSet) error {
			n, err := nodeFor(ctx, g)
			if err != nil {
				return err
			}
			defer n.Close()
			b, err := n.Status(ctx)
			os.Stdout.Write(b)
			return err
		},
	}
}
