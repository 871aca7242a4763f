// Command calico-vpp-cni is the CNI plugin that wires pods into VPP
// through the calico-vpp agent (network configuration type "calico-vpp-cni").
package main

import (
	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/version"

	cniplugin "github.com/calico-vpp/calico-vpp/cni-plugin"
	pkgversion "github.com/calico-vpp/calico-vpp/pkg/version"
)

func main() {
	skel.PluginMainFuncs(cniplugin.Funcs(), version.All, "calico-vpp CNI plugin "+pkgversion.Version)
}
