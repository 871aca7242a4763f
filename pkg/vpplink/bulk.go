package vpplink

import (
	"context"
	"fmt"
	"strings"
	"time"

	"go.fd.io/govpp/api"
	"go.fd.io/govpp/binapi/cnat"
	"go.fd.io/govpp/binapi/ip"
	"go.fd.io/govpp/core"
)

// DefaultWindow is how many requests the bulk path keeps in flight. It is
// also the size of govpp's reply buffer for the stream: with at most that
// many replies outstanding, govpp's reader never has to drop one.
const DefaultWindow = 256

// bulkReplyTimeout is the longest wait for one reply of a bulk call.
const bulkReplyTimeout = 30 * time.Second

// ItemError is the failure of one element of a bulk call.
type ItemError struct {
	Index int
	Err   error
}

// BulkError reports the elements of a bulk call that failed; the others
// were applied.
type BulkError struct {
	Op     string
	Total  int
	Failed []ItemError
}

func (e *BulkError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d of %d failed", e.Op, len(e.Failed), e.Total)
	for i, f := range e.Failed {
		if i == 3 {
			fmt.Fprintf(&b, "; ...")
			break
		}
		fmt.Fprintf(&b, "; %v", f.Err)
	}
	return b.String()
}

// Unwrap exposes the item errors to errors.Is / errors.As.
func (e *BulkError) Unwrap() []error {
	out := make([]error, len(e.Failed))
	for i, f := range e.Failed {
		out[i] = f.Err
	}
	return out
}

// pipeline sends n requests on one stream, keeping at most window of them
// unanswered, and hands each reply to onReply in order. VPP answers
// requests of one client in order, so the i-th reply belongs to request i.
// A transport failure aborts the whole call; per-request refusals are
// collected into a *BulkError.
func (v *VPP) pipeline(ctx context.Context, op string, n, window int,
	request func(i int) api.Message, onReply func(i int, reply api.Message) error) error {
	if n == 0 {
		return nil
	}
	if window <= 0 {
		window = DefaultWindow
	}
	window = min(window, n)
	// A reply timeout bounds the wait should VPP drop a reply; if the call
	// aborts, requests still in flight may have been applied unreported.
	stream, err := v.conn.NewStream(ctx, core.WithRequestSize(window), core.WithReplySize(window), core.WithReplyTimeout(bulkReplyTimeout))
	if err != nil {
		return wrap(op, "", err)
	}
	defer func() { _ = stream.Close() }()

	bulkErr := &BulkError{Op: op, Total: n}
	sent := 0
	for ; sent < window; sent++ {
		if err := stream.SendMsg(request(sent)); err != nil {
			return wrap(op, "", err)
		}
	}
	for recv := 0; recv < n; recv++ {
		reply, err := stream.RecvMsg()
		if err != nil {
			return wrap(op, fmt.Sprintf("(%d of %d answered)", recv, n), err)
		}
		if err := onReply(recv, reply); err != nil {
			bulkErr.Failed = append(bulkErr.Failed, ItemError{Index: recv, Err: err})
		}
		if sent < n {
			if err := stream.SendMsg(request(sent)); err != nil {
				return wrap(op, "", err)
			}
			sent++
		}
	}
	if len(bulkErr.Failed) > 0 {
		return bulkErr
	}
	return nil
}

// AddRoutes adds or replaces many routes, pipelined.
func (v *VPP) AddRoutes(ctx context.Context, routes []Route) error {
	return v.routes(ctx, routes, true)
}

// DelRoutes deletes many routes, pipelined.
func (v *VPP) DelRoutes(ctx context.Context, routes []Route) error {
	return v.routes(ctx, routes, false)
}

func (v *VPP) routes(ctx context.Context, routes []Route, add bool) error {
	op := "add routes"
	if !add {
		op = "delete routes"
	}
	return v.pipeline(ctx, op, len(routes), DefaultWindow,
		func(i int) api.Message {
			if add {
				return routeRequest(routes[i], true)
			}
			return routeRequest(Route{Table: routes[i].Table, Prefix: routes[i].Prefix}, false)
		},
		func(i int, reply api.Message) error {
			r, ok := reply.(*ip.IPRouteAddDelReply)
			if !ok {
				return fmt.Errorf("unexpected reply %T", reply)
			}
			return retvalErr(strings.TrimSuffix(op, "s"), routes[i].String(), r.Retval)
		})
}

// UpdateTranslations creates or updates many cnat translations, pipelined,
// and returns their IDs (InvalidID for the ones that failed or were not
// answered).
func (v *VPP) UpdateTranslations(ctx context.Context, ts []Translation) ([]uint32, error) {
	for _, t := range ts {
		if err := t.validate(); err != nil {
			return nil, err
		}
	}
	ids := make([]uint32, len(ts))
	for i := range ids {
		ids[i] = InvalidID
	}
	err := v.pipeline(ctx, "update cnat translations", len(ts), DefaultWindow,
		func(i int) api.Message {
			return &cnat.CnatTranslationUpdate{Translation: toCnatTranslation(ts[i])}
		},
		func(i int, reply api.Message) error {
			r, ok := reply.(*cnat.CnatTranslationUpdateReply)
			if !ok {
				ids[i] = InvalidID
				return fmt.Errorf("unexpected reply %T", reply)
			}
			if r.Retval != 0 {
				ids[i] = InvalidID
				return retvalErr("update cnat translation", ts[i].Key(), r.Retval)
			}
			ids[i] = r.ID
			return nil
		})
	// On a transport failure the ids of what was answered are still valid.
	return ids, err
}

// DelTranslations deletes many cnat translations by ID, pipelined.
func (v *VPP) DelTranslations(ctx context.Context, ids []uint32) error {
	return v.pipeline(ctx, "delete cnat translations", len(ids), DefaultWindow,
		func(i int) api.Message { return &cnat.CnatTranslationDel{ID: ids[i]} },
		func(i int, reply api.Message) error {
			r, ok := reply.(*cnat.CnatTranslationDelReply)
			if !ok {
				return fmt.Errorf("unexpected reply %T", reply)
			}
			return retvalErr("delete cnat translation", fmt.Sprint(ids[i]), r.Retval)
		})
}
