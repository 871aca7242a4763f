package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"
)

// exportShows are the VPP show outputs a bug report needs.
var exportShows = []string{
	"show version", "show interface", "show interface addr", "show hardware-interfaces",
	"show ip fib", "show ip6 fib", "show cnat translation", "show acl-plugin acl",
	"show tap", "show ipip tunnel", "show vxlan tunnel", "show errors", "show runtime",
}

func exportCommand() *command {
	var output string
	return &command{
		name: "export", usage: "[--output file.tar.gz]",
		help: "Write one archive with what a bug report needs: VPP's show outputs, the agent's status, logs, the node's Linux addresses and routes, and the configuration.",
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&output, "output", "", "archive path (default calico-vpp-export-<node>-<time>.tar.gz)")
		},
		run: func(ctx context.Context, g *globals, _ *flag.FlagSet) error {
			n, err := nodeFor(ctx, g)
			if err != nil {
				return err
			}
			defer n.Close()
			if output == "" {
				name := g.node
				if name == "" {
					name, _ = os.Hostname()
				}
				output = fmt.Sprintf("calico-vpp-export-%s-%s.tar.gz", name, time.Now().UTC().Format("20060102T150405Z"))
			}
			return writeExport(ctx, n, output)
		},
	}
}

// writeExport collects everything into a tar.gz; a part that fails is
// recorded as <part>.error instead, so the archive is always complete.
func writeExport(ctx context.Context, n node, output string) error {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	add := func(name string, data []byte, err error) error {
		if err != nil {
			name, data = name+".error", []byte(err.Error()+"\n")
		}
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), ModTime: time.Now()}); err != nil {
			return err
		}
		_, err = tw.Write(data)
		return err
	}
	for _, show := range exportShows {
		out, err := n.CLI(ctx, show)
		if err := add("vpp/"+strings.ReplaceAll(show, " ", "-")+".txt", []byte(out), err); err != nil {
			return err
		}
	}
	status, err := n.Status(ctx)
	if err := add("agent/status.json", status, err); err != nil {
		return err
	}
	for _, component := range []string{"vpp", "agent"} {
		var log bytes.Buffer
		err := n.Logs(ctx, component, false, &log)
		if err := add("logs/"+component+".log", log.Bytes(), err); err != nil {
			return err
		}
	}
	for name, argv := range map[string][]string{
		"linux/ip-addr.txt": {"ip", "addr"}, "linux/ip-route.txt": {"ip", "route"},
		"linux/ip6-route.txt": {"ip", "-6", "route"}, "linux/ip-link.txt": {"ip", "-d", "link"},
	} {
		out, err := n.Run(ctx, argv...)
		if err := add(name, []byte(out), err); err != nil {
			return err
		}
	}
	env, err := n.Run(ctx, "env")
	var config []string
	for _, line := range strings.Split(env, "\n") {
		if strings.HasPrefix(line, "CALICOVPP_") || strings.HasPrefix(line, "NODENAME=") || strings.HasPrefix(line, "SERVICE_PREFIX=") {
			config = append(config, line)
		}
	}
	if err := add("config/environment", []byte(strings.Join(config, "\n")+"\n"), err); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := gz.Close(); err != nil {
		return err
	}
	if err := os.WriteFile(output, buf.Bytes(), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "wrote %s\n", output)
	return nil
}
