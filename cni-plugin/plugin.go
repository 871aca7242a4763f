// Package cniplugin is the calico-vpp CNI plugin: it delegates address
// management to the configured IPAM plugin and asks the agent, over
// Calico's gRPC dataplane protocol, to wire the pod into VPP.
//
// Network configuration keys (besides the CNI standard ones):
//
//	"socket": the agent's CNI server, default unix:///var/run/calico/cni-server.sock
//	"mtu":    the pod MTU; 0 or absent lets the agent derive it
//	"ipam":   the delegated IPAM plugin's configuration (host-local, calico-ipam, ...)
package cniplugin

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/containernetworking/cni/pkg/invoke"
	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/cni/pkg/version"
	"github.com/projectcalico/calico/cni-plugin/pkg/dataplane/grpc/proto"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// errPluginNotAvailable is CNI 1.1's STATUS code for "cannot service ADD".
const errPluginNotAvailable uint = 50

// PluginType is the plugin's name: the netconf "type" and the binary.
const PluginType = "calico-vpp-cni"

// DefaultSocket is the agent's CNI server.
const DefaultSocket = "unix:///var/run/calico/cni-server.sock"

// requestTimeout bounds one call to the agent: kubelet retries a failed
// ADD, so a stuck agent must not hold the pod forever.
const requestTimeout = 30 * time.Second

// NetConf is the plugin's network configuration.
type NetConf struct {
	types.NetConf
	Socket string `json:"socket,omitempty"`
	MTU    int    `json:"mtu,omitempty"`
}

func parseConf(stdin []byte) (*NetConf, error) {
	conf := &NetConf{}
	if err := json.Unmarshal(stdin, conf); err != nil {
		return nil, fmt.Errorf("network configuration: %w", err)
	}
	if conf.Socket == "" {
		conf.Socket = DefaultSocket
	}
	if !strings.HasPrefix(conf.Socket, "unix://") {
		return nil, fmt.Errorf("network configuration: socket %q: want unix:///path", conf.Socket)
	}
	if conf.MTU < 0 {
		return nil, fmt.Errorf("network configuration: mtu %d: want a positive MTU, or 0 for the agent's choice", conf.MTU)
	}
	if conf.IPAM.Type == "" {
		return nil, errors.New("network configuration: ipam.type is required (e.g. host-local, calico-ipam)")
	}
	return conf, nil
}

// Funcs are the plugin's commands, for skel.PluginMainFuncs.
func Funcs() skel.CNIFuncs {
	return skel.CNIFuncs{Add: cmdAdd, Del: cmdDel, Check: cmdCheck, Status: cmdStatus, GC: cmdGC}
}

// HostInterfaceName names the pod's host side the way Calico does for its
// WorkloadEndpoints: "cali" and a hash, 15 characters.
func HostInterfaceName(containerID, ifName string) string {
	sum := sha256.Sum256([]byte(containerID + "." + ifName))
	return "cali" + hex.EncodeToString(sum[:])[:11]
}

// k8sArgs are the pod identity kubelet passes in CNI_ARGS.
type k8sArgs struct {
	types.CommonArgs
	K8S_POD_NAMESPACE types.UnmarshallableString //nolint:revive // CNI_ARGS names
	K8S_POD_NAME      types.UnmarshallableString //nolint:revive
}

func dial(conf *NetConf) (proto.CniDataplaneClient, func(), error) {
	conn, err := grpc.NewClient("passthrough:///"+conf.Socket, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", strings.TrimPrefix(conf.Socket, "unix://"))
		}))
	if err != nil {
		return nil, nil, fmt.Errorf("agent at %s: %w", conf.Socket, err)
	}
	return proto.NewCniDataplaneClient(conn), func() { conn.Close() }, nil
}

func cmdAdd(args *skel.CmdArgs) error {
	conf, err := parseConf(args.StdinData)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	ipamResult, err := invoke.DelegateAdd(ctx, conf.IPAM.Type, args.StdinData, nil)
	if err != nil {
		return fmt.Errorf("IPAM %s: %w", conf.IPAM.Type, err)
	}
	result, err := current.NewResultFromResult(ipamResult)
	if err != nil {
		return fmt.Errorf("IPAM %s result: %w", conf.IPAM.Type, err)
	}
	// From here on, a failure gives the addresses back.
	releaseIPAM := func(cause error) error {
		if derr := invoke.DelegateDel(context.WithoutCancel(ctx), conf.IPAM.Type, args.StdinData, nil); derr != nil {
			return errors.Join(cause, fmt.Errorf("release addresses: %w", derr))
		}
		return cause
	}
	if len(result.IPs) == 0 {
		return releaseIPAM(fmt.Errorf("IPAM %s returned no address", conf.IPAM.Type))
	}

	var kargs k8sArgs
	if err := types.LoadArgs(args.Args, &kargs); err != nil {
		return releaseIPAM(fmt.Errorf("CNI_ARGS: %w", err))
	}
	req := &proto.AddRequest{
		InterfaceName:            args.IfName,
		Netns:                    args.Netns,
		DesiredHostInterfaceName: HostInterfaceName(args.ContainerID, args.IfName),
		Settings:                 &proto.ContainerSettings{Mtu: int32(conf.MTU)},
		Workload: &proto.WorkloadIDs{
			Namespace: string(kargs.K8S_POD_NAMESPACE), Pod: string(kargs.K8S_POD_NAME),
			Endpoint: args.IfName, Orchestrator: "k8s",
		},
	}
	v4, v6 := false, false
	for _, ip := range result.IPs {
		is4 := ip.Address.IP.To4() != nil
		v4, v6 = v4 || is4, v6 || !is4
		addr := hostPrefix(ip.Address.IP)
		req.ContainerIps = append(req.ContainerIps, &proto.IPConfig{Address: addr.String()})
	}
	for _, r := range result.Routes {
		req.ContainerRoutes = append(req.ContainerRoutes, r.Dst.String())
	}
	if len(result.Routes) == 0 { // IPAM gave none: default routes for the families the pod has
		if v4 {
			req.ContainerRoutes = append(req.ContainerRoutes, "0.0.0.0/0")
		}
		if v6 {
			req.ContainerRoutes = append(req.ContainerRoutes, "::/0")
		}
	}

	client, closeConn, err := dial(conf)
	if err != nil {
		return releaseIPAM(err)
	}
	defer closeConn()
	reply, err := client.Add(ctx, req)
	if err != nil {
		return releaseIPAM(fmt.Errorf("agent at %s: %w", conf.Socket, err))
	}
	if !reply.GetSuccessful() {
		return releaseIPAM(fmt.Errorf("agent: %s", reply.GetErrorMessage()))
	}

	result.Interfaces = []*current.Interface{{Name: args.IfName, Mac: reply.GetContainerMac(), Sandbox: args.Netns}}
	zero := 0
	result.Routes = nil
	for _, ip := range result.IPs {
		ip.Interface = &zero
		ip.Address = hostPrefix(ip.Address.IP)
		ip.Gateway = nil
	}
	for _, dst := range req.ContainerRoutes {
		_, n, err := net.ParseCIDR(dst)
		if err != nil {
			continue // validated by the agent already
		}
		result.Routes = append(result.Routes, &types.Route{Dst: *n})
	}
	return types.PrintResult(result, conf.CNIVersion)
}

// hostPrefix is ip alone (/32, /128): a pod's interface is point to point
// to VPP, so its addresses have no on-link subnet.
func hostPrefix(ip net.IP) net.IPNet {
	if v4 := ip.To4(); v4 != nil {
		return net.IPNet{IP: v4, Mask: net.CIDRMask(32, 32)}
	}
	return net.IPNet{IP: ip, Mask: net.CIDRMask(128, 128)}
}

func cmdDel(args *skel.CmdArgs) error {
	conf, err := parseConf(args.StdinData)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	// A DEL without a netns (already gone) still frees the addresses.
	if args.Netns != "" {
		client, closeConn, err := dial(conf)
		if err != nil {
			return err
		}
		defer closeConn()
		reply, err := client.Del(ctx, &proto.DelRequest{InterfaceName: args.IfName, Netns: args.Netns})
		if err != nil {
			return fmt.Errorf("agent at %s: %w", conf.Socket, err)
		}
		if !reply.GetSuccessful() {
			return fmt.Errorf("agent: %s", reply.GetErrorMessage())
		}
	}
	if err := invoke.DelegateDel(ctx, conf.IPAM.Type, args.StdinData, nil); err != nil {
		return fmt.Errorf("IPAM %s: %w", conf.IPAM.Type, err)
	}
	return nil
}

func cmdCheck(args *skel.CmdArgs) error {
	conf, err := parseConf(args.StdinData)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	if err := invoke.DelegateCheck(ctx, conf.IPAM.Type, args.StdinData, nil); err != nil {
		return fmt.Errorf("IPAM %s: %w", conf.IPAM.Type, err)
	}
	if conf.RawPrevResult == nil {
		return errors.New("CHECK needs prevResult")
	}
	if err := version.ParsePrevResult(&conf.NetConf); err != nil {
		return fmt.Errorf("prevResult: %w", err)
	}
	prev, err := current.NewResultFromResult(conf.PrevResult)
	if err != nil {
		return fmt.Errorf("prevResult: %w", err)
	}
	return checkPodInterface(args.Netns, args.IfName, prev)
}

func cmdStatus(args *skel.CmdArgs) error {
	conf, err := parseConf(args.StdinData)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", strings.TrimPrefix(conf.Socket, "unix://"))
	if err != nil {
		return types.NewError(errPluginNotAvailable, "calico-vpp agent not reachable", err.Error())
	}
	c.Close()
	return invoke.DelegateStatus(ctx, conf.IPAM.Type, args.StdinData, nil)
}

func cmdGC(args *skel.CmdArgs) error {
	conf, err := parseConf(args.StdinData)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	// The agent's pods follow the runtime's ADD/DEL; the addresses of
	// attachments the runtime no longer knows are the IPAM plugin's to free.
	return invoke.DelegateGC(ctx, conf.IPAM.Type, args.StdinData, nil)
}
