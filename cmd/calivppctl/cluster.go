package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/remotecommand"
)

// clusterNode reaches a node through its calico-vpp-node pod: each
// operation runs calivppctl itself (locally) in the pod's agent container
// through the exec API, and logs come from the pods/log API.
type clusterNode struct {
	client *kubernetes.Clientset
	config *rest.Config
	pod    *corev1.Pod
}

func restConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig != "" {
		return clientcmd.BuildConfigFromFlags("", kubeconfig)
	}
	return rest.InClusterConfig()
}

func newClusterNode(ctx context.Context, g *globals) (*clusterNode, error) {
	cfg, err := restConfig(g.kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("kubernetes configuration (--kubeconfig): %w", err)
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	pod, err := findPod(ctx, client, g.namespace, g.node)
	if err != nil {
		return nil, err
	}
	return &clusterNode{client: client, config: cfg, pod: pod}, nil
}

// findPod returns the running calico-vpp-node pod of a node.
func findPod(ctx context.Context, client kubernetes.Interface, namespace, nodeName string) (*corev1.Pod, error) {
	if _, err := client.CoreV1().Nodes().Get(ctx, nodeName, metav1.GetOptions{}); err != nil {
		return nil, fmt.Errorf("no such node %q: %w", nodeName, err)
	}
	pods, err := client.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{
		LabelSelector: "k8s-app=calico-vpp-node", FieldSelector: "spec.nodeName=" + nodeName,
	})
	if err != nil {
		return nil, fmt.Errorf("list calico-vpp-node pods: %w", err)
	}
	for i := range pods.Items {
		if pods.Items[i].DeletionTimestamp == nil {
			return &pods.Items[i], nil
		}
	}
	return nil, fmt.Errorf("no calico-vpp-node pod on node %q (namespace %s)", nodeName, namespace)
}

func (c *clusterNode) Close() {}

// exec runs argv in a container of the pod.
func (c *clusterNode) exec(ctx context.Context, container string, argv []string, stdin io.Reader, stdout, stderr io.Writer, tty bool) error {
	req := c.client.CoreV1().RESTClient().Post().Resource("pods").Namespace(c.pod.Namespace).Name(c.pod.Name).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{Container: container, Command: argv, Stdin: stdin != nil, Stdout: true, Stderr: !tty, TTY: tty}, scheme.ParameterCodec)
	ws, err := remotecommand.NewWebSocketExecutor(c.config, "GET", req.URL().String())
	if err != nil {
		return err
	}
	spdy, err := remotecommand.NewSPDYExecutor(c.config, "POST", req.URL())
	if err != nil {
		return err
	}
	// SPDY only when the server refuses WebSockets (an older API server):
	// falling back after any error would run the command twice.
	executor, err := remotecommand.NewFallbackExecutor(ws, spdy, func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	})
	if err != nil {
		return err
	}
	return executor.StreamWithContext(ctx, remotecommand.StreamOptions{Stdin: stdin, Stdout: stdout, Stderr: stderr, Tty: tty})
}

// calivppctl runs this tool locally in the agent container.
func (c *clusterNode) calivppctl(ctx context.Context, args ...string) ([]byte, error) {
	var out, errOut bytes.Buffer
	if err := c.exec(ctx, "agent", append([]string{"calivppctl"}, args...), nil, &out, &errOut, false); err != nil {
		return out.Bytes(), fmt.Errorf("on %s: %v: %s", c.pod.Spec.NodeName, err, strings.TrimSpace(errOut.String()))
	}
	return out.Bytes(), nil
}

func (c *clusterNode) CLI(ctx context.Context, cmd string) (string, error) {
	out, err := c.calivppctl(ctx, "vppctl", cmd)
	return string(out), err
}

func (c *clusterNode) Status(ctx context.Context) ([]byte, error) { return c.calivppctl(ctx, "status") }

func (c *clusterNode) Logs(ctx context.Context, component string, follow bool, w io.Writer) error {
	_, _, container, err := containerOf(component)
	if err != nil {
		return err
	}
	pod, namespace := c.pod.Name, c.pod.Namespace
	if component == "felix" {
		p, err := findCalicoNode(ctx, c.client, c.pod.Spec.NodeName)
		if err != nil {
			return err
		}
		pod, namespace = p.Name, p.Namespace
	}
	stream, err := c.client.CoreV1().Pods(namespace).GetLogs(pod, &corev1.PodLogOptions{Container: container, Follow: follow}).Stream(ctx)
	if err != nil {
		return fmt.Errorf("logs of %s/%s: %w", pod, container, err)
	}
	defer stream.Close()
	_, err = io.Copy(w, stream)
	return err
}

func findCalicoNode(ctx context.Context, client kubernetes.Interface, nodeName string) (*corev1.Pod, error) {
	pods, err := client.CoreV1().Pods("calico-system").List(ctx, metav1.ListOptions{LabelSelector: "k8s-app=calico-node", FieldSelector: "spec.nodeName=" + nodeName})
	if err != nil || len(pods.Items) == 0 {
		return nil, fmt.Errorf("no calico-node pod on node %q: %v", nodeName, err)
	}
	return &pods.Items[0], nil
}

func (c *clusterNode) Shell(ctx context.Context, component string) error {
	if component != "vpp" && component != "agent" {
		return fmt.Errorf("unknown component %q (want vpp|agent)", component)
	}
	shell := "/bin/sh"
	argv := []string{shell}
	if component == "agent" {
		argv = []string{"calivppctl", "sh", "--component", "vpp"} // the agent image has no shell: enter VPP's
	}
	return c.exec(ctx, component, argv, os.Stdin, os.Stdout, os.Stderr, true)
}

func (c *clusterNode) ReadVPPFile(ctx context.Context, path string) ([]byte, error) {
	return c.calivppctl(ctx, "cat", path)
}

func (c *clusterNode) Run(ctx context.Context, argv ...string) (string, error) {
	var out bytes.Buffer
	err := c.exec(ctx, "vpp", argv, nil, &out, &out, false)
	return out.String(), err
}
