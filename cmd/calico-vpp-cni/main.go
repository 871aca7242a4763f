// Command calico-vpp-cni is the CNI plugin that wires pods into VPP
// through the calico-vpp agent (network configuration type "calico-vpp-cni").
// Run as `calico-vpp-cni install [flags]` (outside a CNI call) it installs
// itself and its network configuration on the node.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/version"

	cniplugin "github.com/calico-vpp/calico-vpp/cni-plugin"
	pkgversion "github.com/calico-vpp/calico-vpp/pkg/version"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "install" && os.Getenv("CNI_COMMAND") == "" {
		os.Exit(install(os.Args[2:]))
	}
	skel.PluginMainFuncs(cniplugin.Funcs(), version.All, "calico-vpp CNI plugin "+pkgversion.Version)
}

func install(args []string) int {
	fs := flag.NewFlagSet("calico-vpp-cni install", flag.ContinueOnError)
	var o cniplugin.InstallOptions
	var ipam string
	fs.StringVar(&o.BinDir, "bin-dir", "/host/opt/cni/bin", "the node's CNI binary directory, mounted")
	fs.StringVar(&o.ConfDir, "conf-dir", "/host/etc/cni/net.d", "the node's CNI configuration directory, mounted")
	fs.StringVar(&o.ConfName, "conf-name", "10-calico-vpp.conflist", "the configuration file")
	fs.StringVar(&o.Network, "network", "k8s-pod-network", "the network's name")
	fs.StringVar(&o.Socket, "socket", cniplugin.DefaultSocket, "the agent's CNI server")
	fs.IntVar(&o.MTU, "mtu", 0, "pod MTU (0: the uplink's less the pools' encapsulation)")
	fs.StringVar(&ipam, "ipam", `{"type": "calico-ipam"}`, "the IPAM plugin's configuration (JSON)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: calico-vpp-cni install [flags]\n\nInstalls this plugin and its network configuration on the node (an init\ncontainer of calico-vpp-node runs it).\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	o.IPAM = json.RawMessage(ipam)
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintf(os.Stderr, "calico-vpp-cni install: %v\n", err)
		return 1
	}
	if err := cniplugin.Install(self, o); err != nil {
		fmt.Fprintf(os.Stderr, "calico-vpp-cni install: %v\n", err)
		return 1
	}
	fmt.Printf("installed %s into %s and %s into %s\n", cniplugin.PluginType, o.BinDir, o.ConfName, o.ConfDir)
	return 0
}
