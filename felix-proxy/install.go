package felixproxy

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// InstalledName is the file Felix runs: the operator's VPP mode points
// FELIX_DATAPLANEDRIVER at /usr/local/bin/felix-plugins/felix-api-proxy,
// the node's felix-plugins directory mounted there.
const InstalledName = "felix-api-proxy"

// DefaultPluginsDir is that directory on the node.
const DefaultPluginsDir = "/var/lib/calico/felix-plugins"

// Install copies the felix-proxy binary src into dir as InstalledName,
// atomically (a Felix starting meanwhile runs the old or the new one,
// never half of one), and returns the installed path.
func Install(src, dir string) (string, error) {
	in, err := os.Open(src)
	if err != nil {
		return "", fmt.Errorf("install felix-proxy: %w", err)
	}
	defer in.Close()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("install felix-proxy: %w", err)
	}
	tmp, err := os.CreateTemp(dir, "."+InstalledName+"-*")
	if err != nil {
		return "", fmt.Errorf("install felix-proxy: %w", err)
	}
	defer os.Remove(tmp.Name()) // after the rename, nothing is there
	if _, err := io.Copy(tmp, in); err != nil {
		tmp.Close()
		return "", fmt.Errorf("install felix-proxy into %s: %w", dir, err)
	}
	if err := tmp.Chmod(0o755); err != nil {
		tmp.Close()
		return "", fmt.Errorf("install felix-proxy into %s: %w", dir, err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("install felix-proxy into %s: %w", dir, err)
	}
	dst := filepath.Join(dir, InstalledName)
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return "", fmt.Errorf("install felix-proxy into %s: %w", dir, err)
	}
	return dst, nil
}
