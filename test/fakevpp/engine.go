// Package fakevpp is a test-only stand-in for VPP 25.10. It answers VPP's
// binary API, message by message, the way VPP does: same index
// allocation, same retvals for missing or duplicate objects, same dump
// contents, same side effects of deletes. Each handler names the VPP source
// it follows. It performs the Linux side effects VPP performs (tap/tun
// devices in network namespaces, AF_PACKET's need for a host interface)
// through a Host. It forwards no pod or tunnel packets; only the host path
// (the uplink's traffic punted to vpptap0 and back) is bridged frame for
// frame, so that a node keeps its connectivity (hostpath.go).
//
// The same Engine is served over VPP's socket protocol (Server, used by the
// fakevpp binary) and in-process behind govpp's adapter interface (Adapter).
package fakevpp

import (
	"encoding/binary"
	"fmt"
	"os"
	"reflect"
	"sync"

	"github.com/sirupsen/logrus"
	"go.fd.io/govpp/api"
	"go.fd.io/govpp/binapi/memclnt"
	"go.fd.io/govpp/codec"
)

// Options configure an Engine.
type Options struct {
	// NoVhostNet makes tap_create_v3 fail as VPP does on a kernel without
	// /dev/vhost-net (retval SYSCALL_ERROR_1).
	NoVhostNet bool
	// DPDKDevices are interfaces that exist at start, as VPP's dpdk plugin
	// creates them from startup.conf's dpdk { dev ... } entries.
	DPDKDevices []DPDKDevice
	// Version is reported by show_version; default "25.10-release".
	Version string
	// HiddenMessages are left out of the message table (name_crc), as on a
	// VPP of another version or without a plugin: for compatibility tests.
	HiddenMessages []string
}

// DPDKDevice is one dpdk { dev <pci> { name <name> } } entry.
type DPDKDevice struct {
	PCI  string
	Name string
}

// Engine holds VPP's state and answers messages. Every message is handled
// under one lock, as VPP's main thread does.
type Engine struct {
	mu       sync.Mutex
	log      *logrus.Entry
	host     Host
	opts     Options
	table    *msgTable
	handlers map[uint16]handler
	clients  map[uint32]*Client
	// clientSlots allocates client indexes like VPP's registration pool
	// (slot 0 is the listener, freed slots are reused last-in first-out).
	clientSlots pool[Client]
	pending     []pendingEvent
	// bridges carry the host path's frames (hostpath.go).
	bridges map[bridgeKey]*bridge

	st state
}

type handler func(c *Client, req api.Message) []api.Message

// Client is one API connection.
type Client struct {
	index      uint32
	name       string
	send       func([]byte)
	wantEvents bool
	eventsPID  uint32
}

// Index is the client index VPP gave the connection.
func (c *Client) Index() uint32 { return c.index }

type pendingEvent struct {
	swIfIndex uint32
	flags     uint32
	deleted   bool
}

// NewEngine builds an engine with VPP's boot state (local0, tables 0).
func NewEngine(log *logrus.Entry, host Host, opts Options) (*Engine, error) {
	if opts.Version == "" {
		opts.Version = "25.10-release"
	}
	e := &Engine{
		log:      log,
		host:     host,
		opts:     opts,
		table:    newMsgTable(),
		handlers: map[uint16]handler{},
		clients:  map[uint32]*Client{},
	}
	e.clientSlots.get() // slot 0: the listener
	e.st = newState()
	e.registerAll()
	for _, name := range opts.HiddenMessages {
		if id, ok := e.table.byName[name]; ok {
			delete(e.table.byName, name)
			delete(e.table.byID, id)
			delete(e.handlers, id)
		}
	}
	for _, d := range opts.DPDKDevices {
		if err := e.addDPDKDevice(d); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// on registers a handler for requests of type Req, and the reply types it
// may send (so they appear in the message table).
func on[Req api.Message](e *Engine, fn func(c *Client, req Req) []api.Message, replies ...api.Message) {
	var zero Req
	id := e.table.add(zero)
	typ := reflect.TypeOf(zero).Elem()
	e.handlers[id] = func(c *Client, req api.Message) []api.Message {
		if r, ok := req.(Req); ok {
			return fn(c, r)
		}
		panic(fmt.Sprintf("fakevpp: message %T routed to handler of %v", req, typ))
	}
	for _, r := range replies {
		e.table.add(r)
	}
}

// Connect registers a client, as sockclnt_create does.
func (e *Engine) Connect(name string, send func([]byte)) *Client {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.connectLocked(name, send)
}

func (e *Engine) connectLocked(name string, send func([]byte)) *Client {
	slot := e.clientSlots.get()
	c := &Client{index: 0x80000000 | slot, name: name, send: send}
	e.clients[c.index] = c
	e.log.WithFields(logrus.Fields{"client": name, "index": fmt.Sprintf("%#x", c.index)}).Debug("client connected")
	return c
}

// Disconnect forgets a client (its event registrations go with it).
func (e *Engine) Disconnect(c *Client) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.disconnectLocked(c)
}

func (e *Engine) disconnectLocked(c *Client) {
	if _, ok := e.clients[c.index]; !ok {
		return
	}
	delete(e.clients, c.index)
	e.clientSlots.put(c.index &^ 0x80000000)
}

// MsgID returns the id of a message by name and CRC, as GetMsgID does.
func (e *Engine) MsgID(name, crc string) (uint16, bool) {
	id, ok := e.table.byName[name+"_"+crc]
	return id, ok
}

// Handle processes one encoded request from c and sends the replies (and
// then any interface events) through the clients' send functions.
func (e *Engine) Handle(c *Client, data []byte) {
	if len(data) < 10 {
		e.log.WithField("len", len(data)).Warn("short message dropped")
		return
	}
	msgID := binary.BigEndian.Uint16(data[0:2])
	context := binary.BigEndian.Uint32(data[6:10])

	e.mu.Lock()
	defer e.mu.Unlock()
	h, ok := e.handlers[msgID]
	if !ok {
		// VPP logs and drops messages it has no handler for.
		e.log.WithField("msgID", msgID).Warn("no handler for message, dropped")
		return
	}
	req, _ := e.table.newMsg(msgID)
	if err := codec.DefaultCodec.DecodeMsg(data, req); err != nil {
		e.log.WithError(err).WithField("msg", req.GetMessageName()).Warn("undecodable message dropped")
		return
	}
	replies := h(c, req)
	for _, r := range replies {
		e.sendTo(c, r, context)
	}
	e.flushEvents()
	e.syncBridgesLocked()
}

// sendTo encodes a reply (or event) for c.
func (e *Engine) sendTo(c *Client, m api.Message, context uint32) {
	id, ok := e.table.id(m)
	if !ok {
		panic(fmt.Sprintf("fakevpp: reply %s not in the message table", m.GetMessageName()))
	}
	data, err := codec.DefaultCodec.EncodeMsg(m, id)
	if err != nil {
		panic(fmt.Sprintf("fakevpp: encode %s: %v", m.GetMessageName(), err))
	}
	switch m.GetMessageType() {
	case api.ReplyMessage:
		binary.BigEndian.PutUint32(data[2:6], context)
	case api.EventMessage:
		binary.BigEndian.PutUint32(data[2:6], c.index)
	}
	c.send(data)
}

// ifEvent queues a sw_interface_event; VPP's link-state process sends them
// after the reply, OR-ing the flags of one interface's events per batch.
func (e *Engine) ifEvent(swIfIndex uint32, flags uint32, deleted bool) {
	for i := range e.pending {
		if e.pending[i].swIfIndex == swIfIndex && !e.pending[i].deleted {
			e.pending[i].flags |= flags
			e.pending[i].deleted = e.pending[i].deleted || deleted
			return
		}
	}
	e.pending = append(e.pending, pendingEvent{swIfIndex: swIfIndex, flags: flags, deleted: deleted})
}

func (e *Engine) flushEvents() {
	for _, ev := range e.pending {
		for _, c := range e.clients {
			if c.wantEvents {
				e.sendTo(c, newIfEvent(c.eventsPID, ev), 0)
			}
		}
	}
	e.pending = e.pending[:0]
}

// handleControl registers the memclnt messages.
func (e *Engine) registerControl() {
	// control_ping (src/vlibmemory/memclnt_api.c): retval 0 and VPP's pid.
	on(e, func(c *Client, _ *memclnt.ControlPing) []api.Message {
		return one(&memclnt.ControlPingReply{ClientIndex: c.index, VpePID: uint32(os.Getpid())})
	}, &memclnt.ControlPingReply{})
	// sockclnt_delete (src/vlibmemory/socket_api.c): response +1 for a
	// known index (sic), -1 otherwise; the server then closes the socket.
	on(e, func(c *Client, req *memclnt.SockclntDelete) []api.Message {
		if _, ok := e.clients[req.Index]; !ok {
			return one(&memclnt.SockclntDeleteReply{Response: -1})
		}
		return one(&memclnt.SockclntDeleteReply{Response: 1})
	}, &memclnt.SockclntDeleteReply{})
	// memclnt_keepalive: VPP answers on its own shared-memory queue, so a
	// socket client never sees a reply.
	on(e, func(*Client, *memclnt.MemclntKeepalive) []api.Message { return nil }, &memclnt.MemclntKeepaliveReply{})
}

// sockclntCreate answers the handshake: the client index and the whole
// message table.
func (e *Engine) sockclntCreate(c *Client, data []byte) {
	req := &memclnt.SockclntCreate{}
	_ = codec.DefaultCodec.DecodeMsg(data, req)
	c.name = req.Name
	entries := e.table.entries()
	reply := &memclnt.SockclntCreateReply{Index: c.index, Count: uint16(len(entries)), MessageTable: entries}
	context := binary.BigEndian.Uint32(data[6:10])
	e.sendTo(c, reply, context)
}

func one(m api.Message) []api.Message { return []api.Message{m} }

func (e *Engine) registerAll() {
	e.registerControl()
	e.registerVPE()
	e.registerInterfaces()
	e.registerIP()
	e.registerTap()
	e.registerHostInterfaces()
	e.registerTunnels()
	e.registerCnat()
	e.registerACL()
}
