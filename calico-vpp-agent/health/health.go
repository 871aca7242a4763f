// Package health serves the agent's probes: /liveness (the process
// answers and is not stuck), /readiness (VPP connected and every component
// synced) and /status (a JSON view of each component).
package health

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sync/errgroup"
)

// Check is one probe condition; Err returns nil when it holds.
type Check struct {
	Name string
	Err  func() error
}

// Server answers the probes.
type Server struct {
	addr     string
	liveness []Check // failing means only a restart helps
	ready    []Check
	status   func() any
	log      *logrus.Entry
}

// New builds the server for addr (":9090"). Liveness checks must fail
// only for states a container restart repairs; everything that merely
// waits belongs in ready.
func New(addr string, liveness, ready []Check, status func() any, log *logrus.Entry) *Server {
	return &Server{addr: addr, liveness: liveness, ready: ready, status: status, log: log}
}

// probe answers 200 with okText when every check holds, else 503 listing
// the failing ones.
func probe(checks []Check, okText string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		var failing []string
		for _, c := range checks {
			if err := c.Err(); err != nil {
				failing = append(failing, c.Name+": "+err.Error())
			}
		}
		if len(failing) > 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			for _, f := range failing {
				_, _ = fmt.Fprintln(w, f)
			}
			return
		}
		_, _ = fmt.Fprintln(w, okText)
	}
}

// Handler is the HTTP handler (for tests and for mounting elsewhere).
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/liveness", probe(s.liveness, "ok"))
	mux.HandleFunc("/readiness", probe(s.ready, "ready"))
	mux.HandleFunc("/status", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(s.status())
	})
	return mux
}

// Run serves until ctx ends, then shuts down within grace.
func (s *Server) Run(ctx context.Context, grace time.Duration) error {
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return fmt.Errorf("health endpoint on %s: %w", s.addr, err)
	}
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	var serving errgroup.Group // the Serve goroutine, ended by Shutdown below
	serving.Go(func() error { errc <- srv.Serve(ln); return nil })
	defer func() { _ = serving.Wait() }()
	s.log.WithField("address", ln.Addr().String()).Info("health endpoints up")
	select {
	case err := <-errc:
		return fmt.Errorf("health endpoint: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
	defer cancel()
	err = srv.Shutdown(sctx)
	if serveErr := <-errc; serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		err = errors.Join(err, serveErr)
	}
	return err
}
