package fakevpp

import (
	"fmt"
	"reflect"

	"go.fd.io/govpp/api"
	"go.fd.io/govpp/binapi/memclnt"
)

// msgTable numbers messages the way VPP 25.10 does where it matters:
// memclnt's messages have fixed ids 1-28 in .api order (govpp hard-codes
// sockclnt_create = 15); every other module gets a contiguous block from 29
// on. Clients learn ids from the table sent in sockclnt_create_reply.
type msgTable struct {
	byID   map[uint16]reflect.Type // pointer-less struct types
	byName map[string]uint16       // name_crc -> id
	next   uint16
}

// memclntOrder is memclnt.api's define order (src/vlibmemory/memclnt.api).
func memclntOrder() []api.Message {
	return []api.Message{
		&memclnt.MemclntCreate{}, &memclnt.MemclntCreateReply{},
		&memclnt.MemclntDelete{}, &memclnt.MemclntDeleteReply{},
		&memclnt.RxThreadExit{}, &memclnt.MemclntRxThreadSuspend{}, &memclnt.MemclntReadTimeout{},
		&memclnt.RPCCall{}, &memclnt.RPCCallReply{},
		&memclnt.GetFirstMsgID{}, &memclnt.GetFirstMsgIDReply{},
		&memclnt.APIVersions{}, &memclnt.APIVersionsReply{},
		&memclnt.TracePluginMsgIds{},
		&memclnt.SockclntCreate{}, &memclnt.SockclntCreateReply{},
		&memclnt.SockclntDelete{}, &memclnt.SockclntDeleteReply{},
		&memclnt.SockInitShm{}, &memclnt.SockInitShmReply{},
		&memclnt.MemclntKeepalive{}, &memclnt.MemclntKeepaliveReply{},
		&memclnt.ControlPing{}, &memclnt.ControlPingReply{},
		&memclnt.MemclntCreateV2{}, &memclnt.MemclntCreateV2Reply{},
		&memclnt.GetAPIJSON{}, &memclnt.GetAPIJSONReply{},
	}
}

const (
	sockclntCreateID = 15
	sockclntDeleteID = 17
	firstModuleID    = 29
)

func newMsgTable() *msgTable {
	t := &msgTable{byID: map[uint16]reflect.Type{}, byName: map[string]uint16{}, next: 1}
	for _, m := range memclntOrder() {
		t.add(m)
	}
	if id := t.byName[key(&memclnt.SockclntCreate{})]; id != sockclntCreateID {
		panic(fmt.Sprintf("memclnt numbering broken: sockclnt_create is %d", id))
	}
	t.next = firstModuleID
	return t
}

func key(m api.Message) string { return m.GetMessageName() + "_" + m.GetCrcString() }

// add gives m the next id unless it has one.
func (t *msgTable) add(m api.Message) uint16 {
	k := key(m)
	if id, ok := t.byName[k]; ok {
		return id
	}
	id := t.next
	t.next++
	t.byName[k] = id
	t.byID[id] = reflect.TypeOf(m).Elem()
	return id
}

func (t *msgTable) id(m api.Message) (uint16, bool) {
	id, ok := t.byName[key(m)]
	return id, ok
}

func (t *msgTable) newMsg(id uint16) (api.Message, bool) {
	typ, ok := t.byID[id]
	if !ok {
		return nil, false
	}
	return reflect.New(typ).Interface().(api.Message), true
}

// entries is the table as sent in sockclnt_create_reply.
func (t *msgTable) entries() []memclnt.MessageTableEntry {
	out := make([]memclnt.MessageTableEntry, 0, len(t.byName))
	for name, id := range t.byName {
		out = append(out, memclnt.MessageTableEntry{Index: id, Name: name})
	}
	return out
}
