package reconcile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sync/errgroup"
)

// fakeVPP is one kind's objects in a pretend VPP, with call counters. The
// objects whose value starts with "foreign" are not the agent's: Dump
// hides them, as real kinds do with untagged objects.
type fakeVPP struct {
	mu      sync.Mutex
	name    string
	phase   Phase
	objects map[string]string
	calls   map[string]int
	log     *[]string // shared across kinds: the order of calls
	fail    map[string]error
}

func newFake(name string, phase Phase, log *[]string) *fakeVPP {
	return &fakeVPP{name: name, phase: phase, objects: map[string]string{}, calls: map[string]int{}, log: log, fail: map[string]error{}}
}

var _ Kind[string, string] = (*fakeVPP)(nil)

func (f *fakeVPP) Name() string { return f.name }
func (f *fakeVPP) Phase() Phase { return f.phase }
func (f *fakeVPP) record(op, key string) error {
	f.calls[op]++
	*f.log = append(*f.log, f.name+":"+op+":"+key)
	return f.fail[key]
}
func (f *fakeVPP) Dump(context.Context) (map[string]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls["dump"]++
	out := map[string]string{}
	for k, v := range f.objects {
		if !strings.HasPrefix(v, "foreign") {
			out[k] = v
		}
	}
	return out, nil
}
func (f *fakeVPP) Create(_ context.Context, k, v string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("create", k); err != nil {
		return "", err
	}
	f.objects[k] = v
	return v, nil
}
func (f *fakeVPP) Update(_ context.Context, k, d, _ string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("update", k); err != nil {
		return "", err
	}
	f.objects[k] = d
	return d, nil
}
func (f *fakeVPP) Delete(_ context.Context, k, _ string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("delete", k); err != nil {
		return err
	}
	delete(f.objects, k)
	return nil
}
func (f *fakeVPP) Equal(d, a string) bool { return d == a }

func (f *fakeVPP) mutations() int { return f.calls["create"] + f.calls["update"] + f.calls["delete"] }
func (f *fakeVPP) total() int     { return f.mutations() + f.calls["dump"] }

func quiet() *logrus.Entry {
	l := logrus.New()
	l.SetOutput(io.Discard)
	return l.WithField("component", "test")
}

type world struct {
	r      *Reconciler
	routes *fakeVPP
	acls   *fakeVPP
	rt     *Table[string, string]
	at     *Table[string, string]
	log    []string
}

// newWorld builds a reconciler over fake route and ACL kinds whose VPP
// state survives across "agent restarts" (new reconcilers).
func newWorld(routes, acls *fakeVPP) *world {
	w := &world{routes: routes, acls: acls}
	w.r = New(Options{Log: quiet(), Clock: newFakeClock()})
	w.rt = NewTable[string, string](w.r, routes, func(k string) string { return k })
	w.at = NewTable[string, string](w.r, acls, func(k string) string { return k })
	return w
}

func (w *world) sync(t *testing.T) {
	t.Helper()
	if _, err := w.r.Sync(context.Background()); err != nil {
		t.Fatalf("sync: %v", err)
	}
}

func TestIdempotence(t *testing.T) {
	var log []string
	routes, acls := newFake("routes", PhaseRoutes, &log), newFake("acls", PhaseACLs, &log)
	desired := map[string]string{"198.18.1.0/24": "via 198.18.0.2", "198.18.2.0/24": "via 198.18.0.3"}
	w := newWorld(routes, acls)
	w.rt.Replace(desired)
	w.at.Set("policy-a", "allow tcp/80")
	w.sync(t)
	if routes.calls["create"] != 2 || acls.calls["create"] != 1 {
		t.Fatalf("first sync calls: routes %v acls %v", routes.calls, acls.calls)
	}

	// The same desired state again: zero VPP calls, dumps included.
	before := routes.total() + acls.total()
	w.rt.Replace(maps.Clone(desired))
	w.at.Set("policy-a", "allow tcp/80")
	w.sync(t)
	if got := routes.total() + acls.total() - before; got != 0 {
		t.Errorf("second apply made %d VPP calls, want 0", got)
	}

	// An agent restart with VPP untouched: a dump, and no mutation.
	mutations := routes.mutations() + acls.mutations()
	w2 := newWorld(routes, acls)
	w2.rt.Replace(maps.Clone(desired))
	w2.at.Set("policy-a", "allow tcp/80")
	w2.sync(t)
	if got := routes.mutations() + acls.mutations() - mutations; got != 0 {
		t.Errorf("restart made %d mutating calls, want 0", got)
	}

	// VPP lost everything (it restarted): one full re-creation after a resync.
	routes.objects, acls.objects = map[string]string{}, map[string]string{}
	creates := routes.calls["create"] + acls.calls["create"]
	w2.r.Resync()
	w2.sync(t)
	if got := routes.calls["create"] + acls.calls["create"] - creates; got != 3 {
		t.Errorf("after VPP lost its state: %d creates, want 3", got)
	}
	if !maps.Equal(routes.objects, desired) {
		t.Errorf("VPP routes = %v, want %v", routes.objects, desired)
	}
}

func TestDiff(t *testing.T) {
	cases := []struct {
		name     string
		vpp      map[string]string
		desired  map[string]string
		wantVPP  map[string]string
		wantCall map[string]int
	}{
		{"create", map[string]string{}, map[string]string{"a": "1"}, map[string]string{"a": "1"}, map[string]int{"create": 1}},
		{"update", map[string]string{"a": "1"}, map[string]string{"a": "2"}, map[string]string{"a": "2"}, map[string]int{"update": 1}},
		{"delete ours", map[string]string{"a": "1", "b": "2"}, map[string]string{"a": "1"}, map[string]string{"a": "1"}, map[string]int{"delete": 1}},
		{"never delete foreign", map[string]string{"x": "foreign route"}, map[string]string{}, map[string]string{"x": "foreign route"}, map[string]int{}},
		{"nothing to do", map[string]string{"a": "1"}, map[string]string{"a": "1"}, map[string]string{"a": "1"}, map[string]int{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var log []string
			routes := newFake("routes", PhaseRoutes, &log)
			maps.Copy(routes.objects, c.vpp)
			w := newWorld(routes, newFake("acls", PhaseACLs, &log))
			w.rt.Replace(c.desired)
			w.sync(t)
			if !maps.Equal(routes.objects, c.wantVPP) {
				t.Errorf("VPP = %v, want %v", routes.objects, c.wantVPP)
			}
			delete(routes.calls, "dump")
			if len(c.wantCall) != len(routes.calls) || !maps.Equal(routes.calls, c.wantCall) {
				t.Errorf("calls = %v, want %v", routes.calls, c.wantCall)
			}
		})
	}
}

func TestPhasesAndReverseDeletes(t *testing.T) {
	var log []string
	kinds := []*fakeVPP{newFake("bindings", PhaseBindings, &log), newFake("interfaces", PhaseInterfaces, &log), newFake("routes", PhaseRoutes, &log)}
	r := New(Options{Log: quiet(), Clock: newFakeClock()})
	var tables []*Table[string, string]
	for _, k := range kinds {
		tables = append(tables, NewTable[string, string](r, k, func(s string) string { return s }))
	}
	for _, tb := range tables {
		tb.Set("x", "1")
	}
	if _, err := r.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, tb := range tables {
		tb.Delete("x")
	}
	if _, err := r.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := []string{"interfaces:create:x", "routes:create:x", "bindings:create:x", "bindings:delete:x", "routes:delete:x", "interfaces:delete:x"}
	if strings.Join(log, " ") != strings.Join(want, " ") {
		t.Errorf("call order:\n%v\nwant\n%v", log, want)
	}
}

func TestNoPruneBeforeInputsSynced(t *testing.T) {
	var log []string
	routes := newFake("routes", PhaseRoutes, &log)
	routes.objects["stale"] = "old"
	w := newWorld(routes, newFake("acls", PhaseACLs, &log))
	w.r.AddInput("bgp")
	w.r.AddInput("cni")
	w.rt.Set("fresh", "new")
	w.sync(t)
	if _, ok := routes.objects["stale"]; !ok || routes.objects["fresh"] != "new" {
		t.Fatalf("before sync of inputs: %v (creates happen, deletes wait)", routes.objects)
	}
	w.r.InputSynced("bgp")
	w.sync(t)
	if _, ok := routes.objects["stale"]; !ok {
		t.Fatal("pruned with the cni input not synced")
	}
	w.r.InputSynced("cni")
	if !w.r.Synced() {
		t.Fatal("Synced() false with every input synced")
	}
	w.sync(t)
	if _, ok := routes.objects["stale"]; ok {
		t.Errorf("stale object kept once every input synced: %v", routes.objects)
	}
}

func TestFailureStatusAndBackoff(t *testing.T) {
	var log []string
	routes := newFake("routes", PhaseRoutes, &log)
	routes.fail["bad"] = errors.New("VNET_API_ERROR_NO_SUCH_FIB (-3)")
	clock := newFakeClock()
	r := New(Options{Log: quiet(), Clock: clock, RetryBase: time.Second, RetryMax: 4 * time.Second})
	tb := NewTable[string, string](r, routes, func(s string) string { return s })
	tb.Set("bad", "x")
	tb.Set("good", "y")
	retry, err := r.Sync(context.Background())
	if err == nil || retry != time.Second {
		t.Fatalf("retry=%v err=%v", retry, err)
	}
	st := r.Status()["routes"]
	if st["good"].State != StateApplied || st["bad"].State != StateFailed || !strings.Contains(st["bad"].Error, "NO_SUCH_FIB") || st["bad"].Attempts != 1 {
		t.Fatalf("status = %+v", st)
	}
	// Before the backoff has passed, the failed object is not retried.
	if _, err := r.Sync(context.Background()); err == nil || routes.calls["create"] != 2 {
		t.Fatalf("retried too early: calls %v", routes.calls)
	}
	clock.Advance(time.Second)
	retry, _ = r.Sync(context.Background())
	if routes.calls["create"] != 3 || retry != 2*time.Second {
		t.Fatalf("after 1s: calls %v retry %v, want a retry and a doubled backoff", routes.calls, retry)
	}
	delete(routes.fail, "bad")
	clock.Advance(2 * time.Second)
	if _, err := r.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := r.Status()["routes"]["bad"]; st.State != StateApplied || st.Attempts != 0 {
		t.Errorf("status after recovery = %+v", st)
	}
}

// A delete VPP refuses shows in the status and backs off like a failed
// create; wanting the object again, or a successful delete, clears it.
func TestFailedDeleteStatusAndBackoff(t *testing.T) {
	var log []string
	routes := newFake("routes", PhaseRoutes, &log)
	routes.objects["stale"] = "z"
	routes.fail["stale"] = errors.New("VNET_API_ERROR_NO_SUCH_ENTRY (-6)")
	clock := newFakeClock()
	r := New(Options{Log: quiet(), Clock: clock, RetryBase: time.Second, RetryMax: 4 * time.Second})
	tb := NewTable[string, string](r, routes, func(s string) string { return s })
	steps := []struct {
		name      string
		do        func()
		advance   time.Duration
		deletes   int           // cumulative Delete calls after the sync
		retry     time.Duration // returned by Sync
		state     State         // "stale"'s status ("" = none)
		attempts  int
		wantError bool
	}{
		{name: "first failure", deletes: 1, retry: time.Second, state: StateDeleteFailed, attempts: 1, wantError: true},
		{name: "within backoff: not retried", deletes: 1, retry: time.Second, state: StateDeleteFailed, attempts: 1, wantError: true},
		{name: "after backoff: retried, backoff doubles", advance: time.Second, deletes: 2, retry: 2 * time.Second, state: StateDeleteFailed, attempts: 2, wantError: true},
		{name: "wanted again: kept, no delete", do: func() { tb.Set("stale", "z") }, deletes: 2, state: StateApplied},
		{name: "unwanted again, VPP accepts", do: func() { tb.Delete("stale"); delete(routes.fail, "stale") }, deletes: 3},
	}
	for _, st := range steps {
		if st.do != nil {
			st.do()
		}
		clock.Advance(st.advance)
		retry, err := r.Sync(context.Background())
		got := r.Status()["routes"]["stale"]
		if (err != nil) != st.wantError || retry != st.retry || routes.calls["delete"] != st.deletes ||
			got.State != st.state || got.Attempts != st.attempts {
			t.Fatalf("%s: err=%v retry=%v deletes=%d status=%+v; want error %v retry %v deletes %d state %q attempts %d",
				st.name, err, retry, routes.calls["delete"], got, st.wantError, st.retry, st.deletes, st.state, st.attempts)
		}
		if st.state == StateDeleteFailed && !strings.Contains(got.Error, "NO_SUCH_ENTRY") {
			t.Errorf("%s: status error = %q", st.name, got.Error)
		}
	}
	if _, ok := routes.objects["stale"]; ok {
		t.Error("stale object still in VPP")
	}
}

// syncCounter is a Metrics that counts syncs.
type syncCounter struct {
	mu    sync.Mutex
	syncs int
}

func (c *syncCounter) SyncDone(time.Duration, error) { c.mu.Lock(); c.syncs++; c.mu.Unlock() }
func (c *syncCounter) Calls(string, string, int)     {}
func (c *syncCounter) Objects(string, int, int, int) {}
func (c *syncCounter) count() int                    { c.mu.Lock(); defer c.mu.Unlock(); return c.syncs }

// TestRunCoalescesAndResyncs drives Run with a fake clock: a burst of
// changes makes at most two syncs (one now, one after MinInterval); the
// periodic resync dumps VPP again.
func TestRunCoalescesAndResyncs(t *testing.T) {
	var log []string
	routes := newFake("routes", PhaseRoutes, &log)
	clock := newFakeClock()
	metrics := &syncCounter{}
	r := New(Options{Log: quiet(), Clock: clock, MinInterval: time.Second, MaxInterval: time.Hour, Metrics: metrics})
	tb := NewTable[string, string](r, routes, func(s string) string { return s })
	for i := range 50 {
		tb.Set(fmt.Sprintf("k%02d", i), "v")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var g errgroup.Group
	defer func() { _ = g.Wait() }()
	g.Go(func() error { done <- r.Run(ctx); return nil })
	waitFor(t, func() bool { return routes.count("create") == 50 && metrics.count() == 1 })
	if routes.count("dump") != 1 {
		t.Errorf("%d dumps for the first sync, want 1", routes.count("dump"))
	}

	// A burst: the first change wakes Run, which then waits MinInterval.
	for i := range 10 {
		tb.Set(fmt.Sprintf("burst%d", i), "v")
	}
	advanceUntil(t, clock, time.Second, func() bool { return routes.count("create") == 60 })
	if n := metrics.count(); n > 3 {
		t.Errorf("%d syncs for a burst of 10 changes, want them coalesced", n)
	}
	clock.Advance(time.Hour)
	advanceUntil(t, clock, time.Second, func() bool { return routes.count("dump") == 2 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if routes.count("create") != 60 {
		t.Errorf("creates = %d after the resync, want still 60", routes.count("create"))
	}
}

func (f *fakeVPP) count(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

// advanceUntil moves the fake clock by step while Run waits on it, until
// cond holds.
func advanceUntil(t *testing.T, clock *fakeClock, step time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within 10s")
		}
		if clock.waiting() > 1 { // Run waits on more than its periodic timer
			clock.Advance(step)
		}
		time.Sleep(time.Millisecond)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within 10s")
		}
		time.Sleep(time.Millisecond)
	}
}

// fakeClock advances only when told; After channels fire on Advance.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []waiter
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, waiter{at: c.now.Add(d), ch: ch})
	return ch
}

// waiting counts the pending After channels.
func (c *fakeClock) waiting() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.waiters)
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	sort.Slice(c.waiters, func(i, j int) bool { return c.waiters[i].at.Before(c.waiters[j].at) })
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if !w.at.After(c.now) {
			w.ch <- c.now
		} else {
			kept = append(kept, w)
		}
	}
	c.waiters = kept
}

func TestReviewedEdgeCases(t *testing.T) {
	t.Run("unavailable VPP marks nothing failed", func(t *testing.T) {
		var log []string
		routes := newFake("routes", PhaseRoutes, &log)
		routes.fail["a"] = fmt.Errorf("not connected: %w", ErrUnavailable)
		r := New(Options{Log: quiet(), Clock: newFakeClock()})
		tb := NewTable[string, string](r, routes, func(s string) string { return s })
		tb.Set("a", "1")
		if _, err := r.Sync(context.Background()); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("err = %v, want ErrUnavailable", err)
		}
		if st := r.Status()["routes"]["a"]; st.State != StatePending || st.Attempts != 0 {
			t.Errorf("status = %+v, want still pending", st)
		}
	})
	t.Run("resync retries failed objects at once", func(t *testing.T) {
		var log []string
		routes := newFake("routes", PhaseRoutes, &log)
		routes.fail["a"] = errors.New("boom")
		clock := newFakeClock()
		r := New(Options{Log: quiet(), Clock: clock, RetryBase: time.Minute})
		tb := NewTable[string, string](r, routes, func(s string) string { return s })
		tb.Set("a", "1")
		_, _ = r.Sync(context.Background())
		delete(routes.fail, "a")
		r.Resync()
		if _, err := r.Sync(context.Background()); err != nil || routes.objects["a"] != "1" {
			t.Errorf("after Resync: err %v, objects %v", err, routes.objects)
		}
	})
	t.Run("re-setting an unchanged failing object keeps its backoff", func(t *testing.T) {
		var log []string
		routes := newFake("routes", PhaseRoutes, &log)
		routes.fail["a"] = errors.New("boom")
		r := New(Options{Log: quiet(), Clock: newFakeClock(), RetryBase: time.Minute})
		tb := NewTable[string, string](r, routes, func(s string) string { return s })
		tb.Set("a", "1")
		_, _ = r.Sync(context.Background())
		for range 5 {
			tb.Set("a", "1")
			_, _ = r.Sync(context.Background())
		}
		if n := routes.count("create"); n != 1 {
			t.Errorf("%d create attempts, want 1 within the backoff", n)
		}
	})
	t.Run("a resync asked for during a dump is kept", func(t *testing.T) {
		var log []string
		routes := newFake("routes", PhaseRoutes, &log)
		r := New(Options{Log: quiet(), Clock: newFakeClock()})
		hook := &resyncDuringDump{fakeVPP: routes, r: r}
		NewTable[string, string](r, hook, func(s string) string { return s })
		_, _ = r.Sync(context.Background()) // dumps, and asks for a resync meanwhile
		_, _ = r.Sync(context.Background())
		if n := routes.count("dump"); n != 2 {
			t.Errorf("%d dumps, want 2", n)
		}
	})
}

// resyncDuringDump calls Resync from inside its first Dump, as a reconnect
// racing a sync would.
type resyncDuringDump struct {
	*fakeVPP
	r    *Reconciler
	done bool
}

func (k *resyncDuringDump) Dump(ctx context.Context) (map[string]string, error) {
	if !k.done {
		k.done = true
		k.r.Resync()
	}
	return k.fakeVPP.Dump(ctx)
}

// Await answers when the reconciler records an outcome: applied, failed
// (with VPP's error), deleted, or a refused delete; and gives up with ctx.
func TestAwait(t *testing.T) {
	var log []string
	routes := newFake("routes", PhaseRoutes, &log)
	routes.fail["bad"] = errors.New("VNET_API_ERROR_NO_SUCH_FIB (-3)")
	r := New(Options{Log: quiet(), Clock: newFakeClock()})
	r.AddInput("in")
	r.InputSynced("in")
	tb := NewTable[string, string](r, routes, func(s string) string { return s })
	ctx := context.Background()
	if _, err := r.Sync(ctx); err != nil { // the initial dump
		t.Fatal(err)
	}
	// Waiters started before the sync are woken by it.
	tb.Set("good", "x")
	tb.Set("bad", "y")
	results := make(chan string, 2)
	var g errgroup.Group
	for _, k := range []string{"good", "bad"} {
		g.Go(func() error {
			err := tb.Await(ctx, k)
			results <- fmt.Sprintf("%s:%v", k, err)
			return nil
		})
	}
	_, _ = r.Sync(ctx)
	_ = g.Wait()
	close(results)
	got := map[string]bool{}
	for s := range results {
		got[s] = true
	}
	if !got["good:<nil>"] || !got["bad:routes bad: VNET_API_ERROR_NO_SUCH_FIB (-3)"] {
		t.Fatalf("await results = %v", got)
	}
	// Unwanted: wait for the delete; a refused delete is an error.
	tb.Delete("good")
	g.Go(func() error {
		if err := tb.AwaitDeleted(ctx, "good"); err != nil {
			t.Errorf("await deleted: %v", err)
		}
		return nil
	})
	_, _ = r.Sync(ctx)
	_ = g.Wait()
	if _, ok := routes.objects["good"]; ok {
		t.Fatal("good still in VPP")
	}
	routes.objects["stuck"] = "z"
	routes.fail["stuck"] = errors.New("VNET_API_ERROR_IN_USE (-113)")
	r.Resync()
	_, _ = r.Sync(ctx)
	if err := tb.AwaitDeleted(ctx, "stuck"); err == nil || !strings.Contains(err.Error(), "IN_USE") {
		t.Fatalf("await of a refused delete = %v", err)
	}
	// Nothing happening: the caller's deadline ends the wait.
	tb.Set("later", "w")
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := tb.Await(short, "later"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("await without a sync = %v", err)
	}
	if err := tb.Await(ctx, "never-set"); err == nil {
		t.Fatal("await of an undesired key succeeded")
	}
}

// equalCounter counts how many objects a sync compares.
type equalCounter struct {
	*fakeVPP
	equals int
}

func (e *equalCounter) Equal(d, a string) bool { e.equals++; return d == a }

// Between dumps a sync looks only at what changed (or has not settled):
// one change in a large table costs one comparison, not one per object.
func TestSyncCostsWhatChanged(t *testing.T) {
	var log []string
	kind := &equalCounter{fakeVPP: newFake("routes", PhaseRoutes, &log)}
	r := New(Options{Log: quiet(), Clock: newFakeClock()})
	r.AddInput("in")
	r.InputSynced("in")
	tb := NewTable[string, string](r, kind, func(s string) string { return s })
	all := map[string]string{}
	for i := range 1000 {
		all[fmt.Sprint(i)] = "v"
	}
	tb.Replace(all)
	ctx := context.Background()
	if _, err := r.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name       string
		do         func()
		maxEquals  int
		wantInVPP  int
		wantChange int // cumulative create+update+delete
	}{
		{"nothing changed", func() {}, 0, 1000, 1000},
		{"one set", func() { tb.Set("new", "v") }, 1, 1001, 1001},
		{"one changed", func() { tb.Set("7", "w") }, 2, 1001, 1002}, // Set compares with the previous desired object too
		{"one deleted", func() { tb.Delete("8") }, 0, 1000, 1003},
		{"resync dumps and compares everything", r.Resync, 1000, 1000, 1003},
	}
	for _, st := range steps {
		st.do()
		kind.equals = 0
		if _, err := r.Sync(ctx); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if kind.equals > st.maxEquals || len(kind.objects) != st.wantInVPP || kind.mutations() != st.wantChange {
			t.Errorf("%s: %d comparisons (max %d), %d objects in VPP (want %d), %d changes (want %d)",
				st.name, kind.equals, st.maxEquals, len(kind.objects), st.wantInVPP, kind.mutations(), st.wantChange)
		}
	}
	if kind.objects["7"] != "w" {
		t.Errorf("object 7 = %q", kind.objects["7"])
	}
}

// batchFake creates and deletes through batches, failing per key.
type batchFake struct {
	*fakeVPP
	batches []string
}

func (b *batchFake) CreateBatch(ctx context.Context, keys []string, objs []string) ([]string, []error) {
	b.batches = append(b.batches, fmt.Sprintf("create %d", len(keys)))
	got, errs := make([]string, len(keys)), make([]error, len(keys))
	for i, k := range keys {
		got[i], errs[i] = b.Create(ctx, k, objs[i])
	}
	return got, errs
}

func (b *batchFake) DeleteBatch(ctx context.Context, keys []string, actual []string) []error {
	b.batches = append(b.batches, fmt.Sprintf("delete %d", len(keys)))
	errs := make([]error, len(keys))
	for i, k := range keys {
		errs[i] = b.Delete(ctx, k, actual[i])
	}
	return errs
}

// A BatchKind gets one batch of creates and one of deletes per sync;
// updates stay one by one; per-object failures are recorded as usual.
func TestBatchKind(t *testing.T) {
	var log []string
	kind := &batchFake{fakeVPP: newFake("routes", PhaseRoutes, &log)}
	kind.objects["stale1"], kind.objects["stale2"], kind.objects["changed"] = "x", "y", "old"
	kind.fail["bad"] = errors.New("VNET_API_ERROR_NO_SUCH_FIB (-3)")
	r := New(Options{Log: quiet(), Clock: newFakeClock()})
	r.AddInput("in")
	r.InputSynced("in")
	tb := NewTable[string, string](r, kind, func(s string) string { return s })
	tb.Replace(map[string]string{"a": "1", "b": "2", "bad": "3", "changed": "new"})
	if _, err := r.Sync(context.Background()); err == nil || !strings.Contains(err.Error(), "1 objects failed") {
		t.Fatalf("sync: %v", err)
	}
	if fmt.Sprint(kind.batches) != "[create 3 delete 2]" || kind.calls["update"] != 1 {
		t.Errorf("batches %v, calls %v", kind.batches, kind.calls)
	}
	st := r.Status()["routes"]
	if st["a"].State != StateApplied || st["bad"].State != StateFailed || st["changed"].State != StateApplied {
		t.Errorf("status = %+v", st)
	}
	if _, ok := kind.objects["stale1"]; ok || kind.objects["changed"] != "new" {
		t.Errorf("VPP = %v", kind.objects)
	}
}

// deleteHook runs hook while VPP deletes.
type deleteHook struct {
	*fakeVPP
	hook func(key string)
}

func (d *deleteHook) Delete(ctx context.Context, k, a string) error {
	d.hook(k)
	return d.fakeVPP.Delete(ctx, k, a)
}

// A key wanted again while VPP deletes it is created by the next sync.
func TestWantedAgainDuringDelete(t *testing.T) {
	var log []string
	kind := &deleteHook{fakeVPP: newFake("tunnels", PhaseInterfaces, &log)}
	r := New(Options{Log: quiet(), Clock: newFakeClock()})
	r.AddInput("in")
	r.InputSynced("in")
	tb := NewTable[string, string](r, kind, func(s string) string { return s })
	tb.Set("t", "v")
	if _, err := r.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	kind.hook = func(string) { tb.Set("t", "v") } // the manager changes its mind mid-delete
	tb.Delete("t")
	if _, err := r.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	kind.hook = func(string) {}
	if _, err := r.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if kind.objects["t"] != "v" || r.Status()["tunnels"]["t"].State != StateApplied {
		t.Errorf("VPP %v, status %+v: the re-wanted object was not created again", kind.objects, r.Status()["tunnels"]["t"])
	}
}

// Before every input has synced, what the manager explicitly released is
// deleted (a CNI DEL must not wait for BGP), while what a dump found and
// nobody declared yet stays.
func TestReleasedDeletedBeforeSync(t *testing.T) {
	var log []string
	kind := newFake("pods", PhaseInterfaces, &log)
	kind.objects["found"] = "f"
	r := New(Options{Log: quiet(), Clock: newFakeClock()})
	r.AddInput("pods")
	r.AddInput("routing") // never synced in this test
	tb := NewTable[string, string](r, kind, func(s string) string { return s })
	tb.Set("pod", "p")
	ctx := context.Background()
	if _, err := r.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	tb.Delete("pod")
	if _, err := r.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if err := tb.AwaitDeleted(ctx, "pod"); err != nil {
		t.Fatal(err)
	}
	if _, ok := kind.objects["pod"]; ok {
		t.Error("released object still in VPP")
	}
	if _, ok := kind.objects["found"]; !ok {
		t.Error("an undeclared object was pruned before every input synced")
	}
	r.InputSynced("pods")
	r.InputSynced("routing")
	if _, err := r.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := kind.objects["found"]; ok {
		t.Error("not pruned once every input synced")
	}
}

// blockingCreate holds Create until released.
type blockingCreate struct {
	*fakeVPP
	started, release chan struct{}
}

func (b *blockingCreate) Create(ctx context.Context, k, v string) (string, error) {
	close(b.started)
	<-b.release
	return b.fakeVPP.Create(ctx, k, v)
}

// A pod deleted while VPP still creates it is not reported gone before
// the late create has been undone.
func TestAwaitDeletedWaitsForCreateInFlight(t *testing.T) {
	var log []string
	kind := &blockingCreate{fakeVPP: newFake("pods", PhaseInterfaces, &log), started: make(chan struct{}), release: make(chan struct{})}
	r := New(Options{Log: quiet(), Clock: newFakeClock()})
	tb := NewTable[string, string](r, kind, func(s string) string { return s })
	ctx := context.Background()
	tb.Set("p", "v")
	var g errgroup.Group
	g.Go(func() error { _, err := r.Sync(ctx); return err })
	<-kind.started
	tb.Delete("p")
	done := make(chan error, 1)
	g.Go(func() error { done <- tb.AwaitDeleted(ctx, "p"); return nil })
	select {
	case err := <-done:
		t.Fatalf("AwaitDeleted returned %v while the create was in flight", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(kind.release)
	if _, err := r.Sync(ctx); err != nil { // after the first: it deletes the late object
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	if _, ok := kind.objects["p"]; ok {
		t.Error("the late object is still in VPP")
	}
}
