package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/calico-vpp/calico-vpp/pkg/vpplink"
	"github.com/calico-vpp/calico-vpp/pkg/vppstatus"
)

// node is where the operations run: this node directly, or a remote one
// through its calico-vpp-node pod.
type node interface {
	// CLI runs a VPP CLI command.
	CLI(ctx context.Context, cmd string) (string, error)
	// Status is the agent's /status.
	Status(ctx context.Context) ([]byte, error)
	// Logs writes a component's log (vpp, agent, felix).
	Logs(ctx context.Context, component string, follow bool, w io.Writer) error
	// Shell opens an interactive shell in a component's container.
	Shell(ctx context.Context, component string) error
	// ReadVPPFile reads a file VPP wrote (a capture in its /tmp).
	ReadVPPFile(ctx context.Context, path string) ([]byte, error)
	// Run runs a command on the node (ip addr, ...).
	Run(ctx context.Context, argv ...string) (string, error)
	Close()
}

func nodeFor(ctx context.Context, g *globals) (node, error) {
	if g.node != "" {
		return newClusterNode(ctx, g)
	}
	return &localNode{g: g}, nil
}

// localNode works on this node.
type localNode struct {
	g   *globals
	vpp *vpplink.VPP
}

func (l *localNode) connect(ctx context.Context) (*vpplink.VPP, error) {
	if l.vpp != nil {
		return l.vpp, nil
	}
	if _, err := os.Stat(l.g.apiSocket); err != nil {
		return nil, fmt.Errorf("VPP not reachable at %s: %w", l.g.apiSocket, err)
	}
	quiet := logrus.New()
	quiet.SetOutput(io.Discard)
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	v, err := vpplink.Connect(cctx, l.g.apiSocket, quiet.WithField("component", "calivppctl"), vpplink.ConnectOptions{})
	if err != nil {
		return nil, fmt.Errorf("VPP not reachable at %s: %w", l.g.apiSocket, err)
	}
	l.vpp = v
	return v, nil
}

func (l *localNode) Close() {
	if l.vpp != nil {
		l.vpp.Close()
	}
}

func (l *localNode) CLI(ctx context.Context, cmd string) (string, error) {
	v, err := l.connect(ctx)
	if err != nil {
		return "", err
	}
	out, err := v.CLI(ctx, cmd)
	if err != nil && out != "" {
		return out, fmt.Errorf("%s", strings.TrimSpace(out))
	}
	return out, err
}

func (l *localNode) Status(ctx context.Context) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, l.g.statusURL, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("agent not reachable at %s: %w", l.g.statusURL, err)
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

// vppPID is VPP's PID as vpp-manager published it.
func (l *localNode) vppPID() int {
	st, err := vppstatus.Read(filepath.Join(l.g.runDir, vppstatus.StatusFile))
	if err != nil {
		return 0
	}
	return st.VPPPID
}

// containerOf maps a component to its container and pod name pattern.
func containerOf(component string) (pod, namespace, container string, err error) {
	switch component {
	case "vpp", "agent":
		return "calico-vpp-node", "calico-vpp-dataplane", component, nil
	case "felix":
		return "calico-node", "calico-system", "calico-node", nil
	}
	return "", "", "", fmt.Errorf("unknown component %q (want vpp|agent|felix)", component)
}

// Logs reads the kubelet's container log files on this node.
func (l *localNode) Logs(ctx context.Context, component string, follow bool, w io.Writer) error {
	pod, ns, container, err := containerOf(component)
	if err != nil {
		return err
	}
	pattern := filepath.Join(l.g.logDir, fmt.Sprintf("%s-*_%s_%s-*.log", pod, ns, container))
	files, _ := filepath.Glob(pattern)
	if len(files) == 0 {
		return fmt.Errorf("no %s log on this node (looked for %s)", component, pattern)
	}
	f, err := os.Open(files[len(files)-1])
	if err != nil {
		return err
	}
	defer f.Close()
	for {
		if _, err := io.Copy(w, f); err != nil {
			return err
		}
		if !follow {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// Shell enters VPP's namespaces (the vpp container) with nsenter.
func (l *localNode) Shell(ctx context.Context, component string) error {
	if component != "vpp" {
		return errors.New("locally only the vpp container is reachable (through VPP's PID); use --node for the agent")
	}
	pid := l.vppPID()
	if pid == 0 {
		return errors.New("VPP's PID is unknown: is vpp-manager running?")
	}
	cmd := exec.CommandContext(ctx, "nsenter", "-t", fmt.Sprint(pid), "-a", "/bin/sh")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	return cmd.Run()
}

// ReadVPPFile reads through VPP's root when its PID is known (VPP runs in
// its own container), else directly.
func (l *localNode) ReadVPPFile(_ context.Context, path string) ([]byte, error) {
	if pid := l.vppPID(); pid != 0 {
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/root%s", pid, path)); err == nil {
			return b, nil
		}
	}
	return os.ReadFile(path)
}

func (l *localNode) Run(ctx context.Context, argv ...string) (string, error) {
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}
