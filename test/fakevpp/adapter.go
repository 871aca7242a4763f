package fakevpp

import (
	"encoding/binary"
	"errors"
	"sync"

	"go.fd.io/govpp/adapter"
	"golang.org/x/sync/errgroup"
)

// Adapter serves an Engine to govpp in-process (adapter.VppAPI), for fast
// tests that need no socket. Replies are delivered asynchronously, in
// order, by a goroutine the adapter owns between Connect and Disconnect.
type Adapter struct {
	engine *Engine

	mu       sync.Mutex
	callback adapter.MsgCallback
	client   *Client
	out      *outbox
	done     chan struct{}
	group    *errgroup.Group
}

var _ adapter.VppAPI = (*Adapter)(nil)

// NewAdapter returns an adapter for e.
func NewAdapter(e *Engine) *Adapter {
	return &Adapter{engine: e, callback: func(uint16, []byte) {}}
}

// Connect registers a client with the engine.
func (a *Adapter) Connect() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.client != nil {
		return errors.New("fakevpp adapter: already connected")
	}
	a.out = newOutbox()
	a.client = a.engine.Connect("govpp-inprocess", a.out.push)
	a.done = make(chan struct{})
	a.group = &errgroup.Group{}
	out, cb, done := a.out, a.callback, a.done
	a.group.Go(func() error {
		return out.drain(done, func(b []byte) error {
			cb(binary.BigEndian.Uint16(b[0:2]), b)
			return nil
		})
	})
	return nil
}

// Disconnect unregisters the client and stops delivery.
func (a *Adapter) Disconnect() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.client == nil {
		return nil
	}
	a.engine.Disconnect(a.client)
	a.out.kill()
	close(a.done)
	err := a.group.Wait()
	a.client = nil
	return err
}

// GetMsgID looks a message up in the engine's table.
func (a *Adapter) GetMsgID(name, crc string) (uint16, error) {
	if id, ok := a.engine.MsgID(name, crc); ok {
		return id, nil
	}
	return 0, &adapter.UnknownMsgError{MsgName: name, MsgCrc: crc}
}

// SendMsg hands a request to the engine.
func (a *Adapter) SendMsg(context uint32, data []byte) error {
	a.mu.Lock()
	c := a.client
	a.mu.Unlock()
	if c == nil {
		return errors.New("fakevpp adapter: not connected")
	}
	if len(data) < 10 {
		return errors.New("fakevpp adapter: message shorter than a request header")
	}
	binary.BigEndian.PutUint32(data[2:6], c.index)
	binary.BigEndian.PutUint32(data[6:10], context)
	a.engine.Handle(c, data)
	return nil
}

// SetMsgCallback sets the reply callback (before Connect, as govpp does).
func (a *Adapter) SetMsgCallback(cb adapter.MsgCallback) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.callback = cb
}

// WaitReady returns at once: the engine is always ready.
func (a *Adapter) WaitReady() error { return nil }
