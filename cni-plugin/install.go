package cniplugin

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/calico-vpp/calico-vpp/pkg/atomicfile"
)

// InstallOptions say where the plugin and its network configuration go
// on the node (the kubelet's CNI directories, mounted into the pod).
type InstallOptions struct {
	BinDir, ConfDir string
	// ConfName is the configuration file (the runtime uses the first in
	// lexical order).
	ConfName string
	Network  string // the network's name
	Socket   string // the agent's CNI server
	MTU      int
	IPAM     json.RawMessage // the IPAM plugin's configuration
}

// Install copies the plugin binary self into BinDir and writes the
// network configuration list into ConfDir, each atomically (a kubelet
// never sees half of either).
func Install(self string, o InstallOptions) error {
	if !json.Valid(o.IPAM) {
		return fmt.Errorf("ipam: %q is not JSON", o.IPAM)
	}
	if o.MTU < 0 {
		return fmt.Errorf("mtu %d: want 0 (derived) or a positive MTU", o.MTU)
	}
	bin, err := os.ReadFile(self)
	if err != nil {
		return fmt.Errorf("read the plugin binary: %w", err)
	}
	for _, d := range []string{o.BinDir, o.ConfDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	if err := atomicfile.Write(filepath.Join(o.BinDir, PluginType), bin, 0o755); err != nil {
		return fmt.Errorf("install the plugin into %s: %w", o.BinDir, err)
	}
	conf, err := json.MarshalIndent(map[string]any{
		"cniVersion": "1.1.0",
		"name":       o.Network,
		"plugins": []any{map[string]any{
			"type": PluginType, "socket": o.Socket, "mtu": o.MTU, "ipam": o.IPAM,
		}},
	}, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(o.ConfDir, o.ConfName), append(conf, '\n'), 0o644); err != nil {
		return fmt.Errorf("write the network configuration into %s: %w", o.ConfDir, err)
	}
	return nil
}
