package fakevpp

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"

	"github.com/sirupsen/logrus"
	"golang.org/x/sync/errgroup"
)

// Server serves an Engine on a Unix socket with VPP's socket protocol
// (src/vlibmemory/socket_api.c): each message is framed by a 16-byte
// header whose bytes 8-12 hold the big-endian length; the first message of
// a connection is sockclnt_create (id 15), answered with the client index
// and the message table.
type Server struct {
	engine *Engine
	log    *logrus.Entry
	path   string
}

// NewServer returns a server for e on the socket path.
func NewServer(e *Engine, path string, log *logrus.Entry) *Server {
	return &Server{engine: e, path: path, log: log}
}

// Serve listens until ctx ends, then closes every connection and returns.
func (s *Server) Serve(ctx context.Context) error {
	_ = os.Remove(s.path)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: s.path, Net: "unix"})
	if err != nil {
		return fmt.Errorf("listen on API socket %s: %w", s.path, err)
	}
	ln.SetUnlinkOnClose(true)
	g, ctx := errgroup.WithContext(ctx)
	var mu sync.Mutex
	conns := map[*net.UnixConn]bool{}
	g.Go(func() error {
		<-ctx.Done()
		mu.Lock()
		_ = ln.Close()
		for c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		return nil
	})
	g.Go(func() error {
		for {
			conn, err := ln.AcceptUnix()
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("accept on API socket: %w", err)
			}
			mu.Lock()
			if ctx.Err() != nil {
				// Accepted while shutting down: the closer may have run.
				mu.Unlock()
				_ = conn.Close()
				return nil
			}
			conns[conn] = true
			mu.Unlock()
			g.Go(func() error {
				s.serveConn(ctx, conn)
				mu.Lock()
				delete(conns, conn)
				mu.Unlock()
				return nil
			})
		}
	})
	return g.Wait()
}

func (s *Server) serveConn(ctx context.Context, conn *net.UnixConn) {
	defer conn.Close()
	out := newOutbox()
	defer out.kill()
	done := make(chan struct{})
	var wg errgroup.Group
	wg.Go(func() error {
		w := bufio.NewWriter(conn)
		return out.drain(done, func(b []byte) error {
			var header [16]byte
			binary.BigEndian.PutUint32(header[8:12], uint32(len(b)))
			if _, err := w.Write(header[:]); err != nil {
				return err
			}
			if _, err := w.Write(b); err != nil {
				return err
			}
			return w.Flush()
		})
	})
	var stopOnce sync.Once
	stopWriter := func() {
		stopOnce.Do(func() {
			close(done)
			_ = wg.Wait()
		})
	}
	defer stopWriter()

	r := bufio.NewReaderSize(conn, 64*1024)
	var client *Client
	defer func() {
		if client != nil {
			s.engine.Disconnect(client)
		}
	}()
	for {
		msg, err := readFrame(r)
		if err != nil {
			if !errors.Is(err, io.EOF) && ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
				s.log.WithError(err).Debug("API connection closed")
			}
			return
		}
		if len(msg) < 2 {
			continue
		}
		msgID := binary.BigEndian.Uint16(msg[0:2])
		if client == nil {
			if msgID != sockclntCreateID || len(msg) < 10 {
				s.log.WithField("msgID", msgID).Warn("message before sockclnt_create dropped")
				continue
			}
			client = s.engine.handshake(out.push, msg)
			continue
		}
		s.engine.Handle(client, msg)
		if msgID == sockclntDeleteID {
			// VPP closes the socket after answering sockclnt_delete; let
			// the writer flush the reply first.
			stopWriter()
			return
		}
	}
}

func readFrame(r *bufio.Reader) ([]byte, error) {
	var header [16]byte
	if _, err := io.ReadFull(r, header[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(header[8:12])
	if n > 64<<20 {
		return nil, fmt.Errorf("frame of %d bytes", n)
	}
	msg := make([]byte, n)
	if _, err := io.ReadFull(r, msg); err != nil {
		return nil, err
	}
	return msg, nil
}

// handshake registers a socket client and answers its sockclnt_create.
func (e *Engine) handshake(send func([]byte), msg []byte) *Client {
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.connectLocked("", send)
	e.sockclntCreate(c, msg)
	return c
}
