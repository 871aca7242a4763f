package topo

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/vishvananda/netns"

	"github.com/calico-vpp/calico-vpp/vpp-manager/nsutil"
)

// A server on the root namespace's loopback answers a client inside a
// test namespace through Forward, and nothing listens there otherwise.
func TestForward(t *testing.T) {
	RequirePrivileged(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "hello from the root namespace "+r.URL.Path)
	}))
	defer srv.Close()
	ns := NewNetns(t, "fwd")
	h, err := netns.GetFromName(ns.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	get := func() (string, error) {
		var conn net.Conn
		if err := nsutil.Do(h, func() error {
			var err error
			conn, err = net.Dial("tcp", "127.0.0.1:6443")
			return err
		}); err != nil {
			return "", err
		}
		defer conn.Close()
		if _, err := io.WriteString(conn, "GET /api HTTP/1.0\r\nHost: x\r\n\r\n"); err != nil {
			return "", err
		}
		b, err := io.ReadAll(conn)
		return string(b), err
	}
	if _, err := get(); err == nil {
		t.Fatal("something already listens on 127.0.0.1:6443 in the new namespace")
	}
	Forward(t, ns, "127.0.0.1:6443", srv.Listener.Addr().String())
	for range 3 {
		out, err := get()
		if err != nil || !strings.Contains(out, "hello from the root namespace /api") {
			t.Fatalf("through the forward: %q %v", out, err)
		}
	}
}
