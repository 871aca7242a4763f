// Package reconcile turns desired VPP objects into the smallest set of VPP
// API calls. Managers write what they want into typed Tables, keyed by a
// natural key; the Reconciler compares it with what VPP has (dumped at
// start, after a reconnection and periodically, and kept up to date from
// the calls it makes in between), and creates, updates and deletes in
// phases: interfaces, tables, addresses, routes, cnat, ACLs, bindings;
// deletes in reverse. It only ever deletes what a Kind reports as owned by
// the agent, and deletes nothing before every input has synced.
package reconcile

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
)

// Phase orders kinds: creates run in increasing phase, deletes in
// decreasing phase.
type Phase int

// Phases.
const (
	PhaseInterfaces Phase = iota
	PhaseTables
	PhaseAddresses
	PhaseRoutes
	PhaseCnat
	PhaseACLs
	PhaseBindings
)

// Kind is the VPP side of one kind of object. Implementations make the
// VPP calls; the reconciler decides which.
type Kind[K comparable, O any] interface {
	// Name names the kind in logs and status ("routes").
	Name() string
	Phase() Phase
	// Dump returns the objects of this kind VPP has that the agent owns
	// (by tag, table, or a persisted journal): nothing else may be deleted.
	Dump(ctx context.Context) (map[K]O, error)
	// Create makes the object; it returns the object as VPP now has it
	// (with VPP-assigned indexes filled in).
	Create(ctx context.Context, key K, obj O) (O, error)
	// Update changes actual into desired (it may delete and re-create).
	// On failure it returns what VPP has now: actual, or the zero object
	// when nothing is left.
	Update(ctx context.Context, key K, desired, actual O) (O, error)
	// Delete removes the object. Deleting what is already gone is not an
	// error.
	Delete(ctx context.Context, key K, actual O) error
	// Equal reports whether actual (as dumped or returned by Create and
	// Update) already is desired. Two desired objects are compared with
	// reflect.DeepEqual, never with Equal.
	Equal(desired, actual O) bool
}

// ErrUnavailable is wrapped by Kinds' errors when VPP is not reachable:
// the sync stops without marking anything failed (no backoff builds up
// while VPP restarts) and is retried.
var ErrUnavailable = errors.New("VPP unavailable")

// BatchKind is implemented by kinds whose objects are much faster created
// and deleted many at a time (pipelined API calls). Results are per
// object, in order; an ErrUnavailable result stops the sync as for Create.
type BatchKind[K comparable, O any] interface {
	CreateBatch(ctx context.Context, keys []K, objs []O) ([]O, []error)
	DeleteBatch(ctx context.Context, keys []K, actual []O) []error
}

// Flusher is implemented by kinds that batch bookkeeping (a journal of
// what they created): Flush runs at the end of every sync.
type Flusher interface {
	Flush(ctx context.Context) error
}

// State of one object.
type State string

// Object states.
const (
	StatePending State = "pending"
	StateApplied State = "applied"
	StateFailed  State = "failed"
	// StateDeleteFailed marks an object no longer wanted that VPP refused
	// to delete; it is retried with the same backoff as failed creates.
	StateDeleteFailed State = "delete-failed"
)

// ObjectStatus is the reconciler's view of one desired object.
type ObjectStatus struct {
	State    State     `json:"state"`
	Error    string    `json:"error,omitempty"`
	Attempts int       `json:"attempts,omitempty"`
	Since    time.Time `json:"since"`
}

// Clock is time, injectable for tests.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

// RealClock is the wall clock.
type RealClock struct{}

// Now implements Clock.
func (RealClock) Now() time.Time { return time.Now() }

// After implements Clock.
func (RealClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Options tune a Reconciler.
type Options struct {
	// MinInterval is the least time between two syncs: bursts of changes
	// coalesce into one sync. Default 10ms: a sync costs what changed, and a
	// CNI ADD waits for one.
	MinInterval time.Duration
	// MaxInterval is the longest time without a full resync (a dump of
	// VPP). Default 5 minutes.
	MaxInterval time.Duration
	// RetryBase and RetryMax bound the exponential backoff of failed
	// objects. Defaults 500ms and 1 minute.
	RetryBase time.Duration
	RetryMax  time.Duration
	Clock     Clock
	Log       *logrus.Entry
	Metrics   Metrics
}

// Metrics receives what the reconciler does (nil: none).
type Metrics interface {
	SyncDone(d time.Duration, err error)
	Calls(kind, op string, n int)
	Objects(kind string, desired, applied, failed int)
}

// runner is a Table seen without its type parameters.
type runner interface {
	name() string
	phase() Phase
	dump(ctx context.Context) error
	applyCreates(ctx context.Context, now time.Time) (failed int, next time.Duration, unavailable error)
	applyDeletes(ctx context.Context, now time.Time, prune bool) (failed int, retryIn time.Duration, unavailable error)
	resetBackoff()
	report(m Metrics)
	statuses() map[string]ObjectStatus
	flush(ctx context.Context) error
}

// Reconciler drives the Tables. Its methods are safe for concurrent use;
// Run must be called once.
type Reconciler struct {
	opts      Options
	mu        sync.Mutex
	runners   []runner
	inputs    map[string]bool // input -> synced
	trigger   chan struct{}
	resync    uint64 // generation of resync requests; dumped is the last served
	dumped    uint64
	converged uint64     // generation whose state was fully applied
	syncMu    sync.Mutex // one Sync at a time
}

// New returns a reconciler; register kinds with NewTable before Run.
func New(opts Options) *Reconciler {
	if opts.MinInterval <= 0 {
		opts.MinInterval = 10 * time.Millisecond
	}
	if opts.MaxInterval <= 0 {
		opts.MaxInterval = 5 * time.Minute
	}
	if opts.RetryBase <= 0 {
		opts.RetryBase = 500 * time.Millisecond
	}
	if opts.RetryMax <= 0 {
		opts.RetryMax = time.Minute
	}
	if opts.Clock == nil {
		opts.Clock = RealClock{}
	}
	if opts.Log == nil {
		l := logrus.New()
		opts.Log = l.WithField("component", "reconciler")
	}
	return &Reconciler{opts: opts, inputs: map[string]bool{}, trigger: make(chan struct{}, 1), resync: 1}
}

// NewTable registers a kind and returns the table its manager writes
// desired objects into. format renders keys in status and logs.
func NewTable[K comparable, O any](r *Reconciler, kind Kind[K, O], format func(K) string) *Table[K, O] {
	t := &Table[K, O]{kind: kind, format: format, desired: map[K]O{}, status: map[K]*ObjectStatus{}, undeletable: map[K]*ObjectStatus{}, notify: r.Trigger, r: r, changed: make(chan struct{}), dirty: map[K]struct{}{}, full: true, released: map[K]struct{}{}, inflight: map[K]int{}}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.runners = append(r.runners, t)
	sort.SliceStable(r.runners, func(i, j int) bool { return r.runners[i].phase() < r.runners[j].phase() })
	return t
}

// AddInput declares an input that must report synced before anything is
// pruned. The input should be the writer of desired state (a manager),
// reporting InputSynced after its first complete write computed from
// synced sources — not the watcher itself, whose cache can be synced before
// the manager has turned it into desired objects.
func (r *Reconciler) AddInput(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.inputs[name]; !ok {
		r.inputs[name] = false
	}
}

// InputSynced marks an input as having delivered its initial state.
func (r *Reconciler) InputSynced(name string) {
	r.mu.Lock()
	r.inputs[name] = true
	r.mu.Unlock()
	r.Trigger()
}

// Synced reports whether every input has synced.
func (r *Reconciler) Synced() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.allSyncedLocked()
}

func (r *Reconciler) allSyncedLocked() bool {
	for _, synced := range r.inputs {
		if !synced {
			return false
		}
	}
	return true
}

// Trigger asks for a sync soon (coalesced).
func (r *Reconciler) Trigger() {
	select {
	case r.trigger <- struct{}{}:
	default:
	}
}

// Resync makes the next sync dump VPP again (after a reconnection, when
// VPP may have lost or kept anything) and retries failed objects at once.
func (r *Reconciler) Resync() {
	r.mu.Lock()
	r.resync++
	runners := append([]runner(nil), r.runners...)
	r.mu.Unlock()
	for _, t := range runners {
		t.resetBackoff()
	}
	r.Trigger()
}

// Status returns every object's status, by kind and key.
func (r *Reconciler) Status() map[string]map[string]ObjectStatus {
	r.mu.Lock()
	runners := append([]runner(nil), r.runners...)
	r.mu.Unlock()
	out := map[string]map[string]ObjectStatus{}
	for _, t := range runners {
		out[t.name()] = t.statuses()
	}
	return out
}

// Sync runs one reconciliation pass and returns the failures, if any. It
// returns how long until failed objects should be retried (0: none).
func (r *Reconciler) Sync(ctx context.Context) (retryIn time.Duration, err error) {
	r.syncMu.Lock()
	defer r.syncMu.Unlock()
	start := r.opts.Clock.Now()
	r.mu.Lock()
	runners := append([]runner(nil), r.runners...)
	generation := r.resync
	resync := generation != r.dumped
	prune := r.allSyncedLocked()
	r.mu.Unlock()

	defer func() {
		if r.opts.Metrics != nil {
			r.opts.Metrics.SyncDone(r.opts.Clock.Now().Sub(start), err)
			for _, t := range runners {
				t.report(r.opts.Metrics)
			}
		}
	}()
	if resync {
		for _, t := range runners {
			if err := t.dump(ctx); err != nil {
				return r.opts.RetryBase, fmt.Errorf("dump %s: %w", t.name(), err)
			}
		}
		// A Resync requested during the dump keeps its own generation.
		r.mu.Lock()
		r.dumped = generation
		r.mu.Unlock()
	}
	failed := 0
	for _, t := range runners {
		n, next, err := t.applyCreates(ctx, start)
		if err != nil {
			return r.opts.RetryBase, err
		}
		failed += n
		if next > 0 && (retryIn == 0 || next < retryIn) {
			retryIn = next
		}
	}
	for i := len(runners) - 1; i >= 0; i-- {
		n, next, err := runners[i].applyDeletes(ctx, start, prune)
		if err != nil {
			return r.opts.RetryBase, err
		}
		failed += n
		if next > 0 && (retryIn == 0 || next < retryIn) {
			retryIn = next
		}
	}
	var flushErrs []error
	for _, t := range runners {
		if err := t.flush(ctx); err != nil {
			flushErrs = append(flushErrs, fmt.Errorf("flush %s: %w", t.name(), err))
		}
	}
	if len(flushErrs) > 0 {
		return r.opts.RetryBase, errors.Join(flushErrs...)
	}
	if failed > 0 {
		if retryIn == 0 {
			retryIn = r.opts.RetryBase
		}
		return retryIn, fmt.Errorf("%d objects failed to apply", failed)
	}
	r.mu.Lock()
	r.converged = generation
	r.mu.Unlock()
	return 0, nil
}

// Converged reports whether VPP holds the whole desired state as of the
// latest Resync: one complete, error-free sync has run since.
func (r *Reconciler) Converged() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.converged == r.resync && r.dumped == r.resync
}

// Run syncs on triggers, at most every MinInterval, fully resyncs every
// MaxInterval, and retries failures with backoff, until ctx ends.
func (r *Reconciler) Run(ctx context.Context) error {
	clock := r.opts.Clock
	var last time.Time
	var retry <-chan time.Time
	periodic := clock.After(r.opts.MaxInterval)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-r.trigger:
		case <-retry:
		case <-periodic:
			periodic = clock.After(r.opts.MaxInterval)
			r.mu.Lock()
			r.resync++
			r.mu.Unlock()
		}
		if wait := r.opts.MinInterval - clock.Now().Sub(last); !last.IsZero() && wait > 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-clock.After(wait):
			}
		}
		last = clock.Now()
		next, err := r.Sync(ctx)
		if err != nil {
			r.opts.Log.WithError(err).WithField("retryIn", next).Warn("sync incomplete")
		}
		retry = nil
		if next > 0 {
			retry = clock.After(next)
		}
	}
}

// Table holds one kind's desired objects and the reconciler's knowledge of
// VPP's.
type Table[K comparable, O any] struct {
	r       *Reconciler
	kind    Kind[K, O]
	format  func(K) string
	notify  func()
	mu      sync.Mutex
	desired map[K]O
	actual  map[K]O // as last dumped, updated by our own calls
	status  map[K]*ObjectStatus
	// undeletable holds the failed deletes of objects no longer desired.
	undeletable map[K]*ObjectStatus
	// changed is closed (and replaced) whenever an outcome is recorded,
	// waking Await callers.
	changed chan struct{}
	// dirty are the keys a sync must look at: changed by the manager, or
	// not settled yet (failed, in backoff, not pruned). After a dump (full)
	// every key is looked at; otherwise a sync costs what changed, not
	// the size of the table.
	dirty map[K]struct{}
	full  bool
	// released are keys the manager stopped wanting (Delete, Replace):
	// deleted even before every input has synced, unlike what a dump
	// found that nobody declared yet.
	released map[K]struct{}
	// inflight counts the creates and updates VPP is working on, per key:
	// a key deleted meanwhile is not gone until they are done.
	inflight map[K]int
}

// Set declares that key should exist as obj.
func (t *Table[K, O]) Set(key K, obj O) {
	t.mu.Lock()
	prev, had := t.desired[key]
	t.desired[key] = obj
	t.dirty[key] = struct{}{}
	delete(t.released, key)
	delete(t.undeletable, key)
	// A changed object starts over; an unchanged one keeps its status (and
	// backoff, if it keeps failing).
	if _, ok := t.status[key]; !ok || !had || !reflect.DeepEqual(obj, prev) {
		t.status[key] = &ObjectStatus{State: StatePending}
	}
	t.mu.Unlock()
	t.notify()
}

func (t *Table[K, O]) resetBackoff() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, s := range t.status {
		if s.State == StateFailed {
			s.Attempts = 0
			s.Since = time.Time{}
		}
	}
	for _, s := range t.undeletable {
		s.Attempts = 0
		s.Since = time.Time{}
	}
}

// Delete declares that key should not exist.
func (t *Table[K, O]) Delete(key K) {
	t.mu.Lock()
	if _, had := t.desired[key]; had {
		t.released[key] = struct{}{}
	}
	delete(t.desired, key)
	delete(t.status, key)
	t.dirty[key] = struct{}{}
	t.mu.Unlock()
	t.notify()
}

// Replace sets the whole desired set of the kind. Only keys that appear,
// disappear or change are looked at by the next sync.
func (t *Table[K, O]) Replace(all map[K]O) {
	t.mu.Lock()
	for k := range t.desired {
		if _, ok := all[k]; !ok {
			t.dirty[k] = struct{}{}
			t.released[k] = struct{}{}
		}
	}
	prev := t.desired
	t.desired = make(map[K]O, len(all))
	for k, v := range all {
		t.desired[k] = v
		delete(t.released, k)
		if old, had := prev[k]; !had || !reflect.DeepEqual(old, v) {
			t.dirty[k] = struct{}{}
			t.status[k] = &ObjectStatus{State: StatePending}
		}
		delete(t.undeletable, k)
	}
	for k := range t.status {
		if _, ok := all[k]; !ok {
			delete(t.status, k)
		}
	}
	t.mu.Unlock()
	t.notify()
}

// Await blocks until the desired object of key is applied (nil) or has
// failed (its error), or ctx ends. It is how a request that must answer
// only once VPP holds its object (a CNI ADD) waits for the reconciler.
func (t *Table[K, O]) Await(ctx context.Context, key K) error {
	for {
		t.mu.Lock()
		s := t.status[key]
		_, wanted := t.desired[key]
		ch := t.changed
		var err error
		done := true
		switch {
		case !wanted || s == nil:
			err = fmt.Errorf("%s %s: no longer desired", t.kind.Name(), t.format(key))
		case s.State == StateApplied:
		case s.State == StateFailed:
			err = fmt.Errorf("%s %s: %s", t.kind.Name(), t.format(key), s.Error)
		default:
			done = false
		}
		t.mu.Unlock()
		if done {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s %s: not applied yet: %w", t.kind.Name(), t.format(key), ctx.Err())
		case <-ch:
		}
	}
}

// AwaitDeleted blocks until key, no longer desired, is gone from VPP
// (nil), or VPP refused to delete it (that error), or ctx ends.
func (t *Table[K, O]) AwaitDeleted(ctx context.Context, key K) error {
	for {
		t.mu.Lock()
		_, wanted := t.desired[key]
		_, present := t.actual[key]
		busy := t.inflight[key] > 0
		failed := t.undeletable[key]
		ch := t.changed
		t.mu.Unlock()
		switch {
		case wanted:
			return fmt.Errorf("%s %s: desired again", t.kind.Name(), t.format(key))
		case !present && !busy:
			return nil
		case failed != nil:
			return fmt.Errorf("delete %s %s: %s", t.kind.Name(), t.format(key), failed.Error)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s %s: not deleted yet: %w", t.kind.Name(), t.format(key), ctx.Err())
		case <-ch:
		}
	}
}

// broadcastLocked wakes the Await callers.
func (t *Table[K, O]) broadcastLocked() {
	close(t.changed)
	t.changed = make(chan struct{})
}

// Actual returns what VPP has for key, as far as the reconciler knows.
func (t *Table[K, O]) Actual(key K) (O, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	o, ok := t.actual[key]
	return o, ok
}

func (t *Table[K, O]) name() string { return t.kind.Name() }

func (t *Table[K, O]) flush(ctx context.Context) error {
	if f, ok := any(t.kind).(Flusher); ok {
		return f.Flush(ctx)
	}
	return nil
}
func (t *Table[K, O]) phase() Phase { return t.kind.Phase() }

func (t *Table[K, O]) dump(ctx context.Context) error {
	actual, err := t.kind.Dump(ctx)
	if err != nil {
		return err
	}
	if actual == nil {
		actual = map[K]O{}
	}
	t.mu.Lock()
	t.actual = actual
	t.full = true
	t.broadcastLocked()
	t.mu.Unlock()
	return nil
}

type change[K comparable, O any] struct {
	key             K
	desired, actual O
	exists          bool
}

func (t *Table[K, O]) applyCreates(ctx context.Context, now time.Time) (failed int, retryIn time.Duration, unavailable error) {
	t.mu.Lock()
	var todo []change[K, O]
	consider := func(k K, d O) {
		a, exists := t.actual[k]
		if exists && t.kind.Equal(d, a) {
			t.markLocked(k, StateApplied, nil, now)
			delete(t.dirty, k)
			return
		}
		t.dirty[k] = struct{}{} // until applied
		if s := t.status[k]; s != nil && s.State == StateFailed && now.Before(s.Since.Add(t.backoff(s.Attempts))) {
			wait := s.Since.Add(t.backoff(s.Attempts)).Sub(now)
			if retryIn == 0 || wait < retryIn {
				retryIn = wait
			}
			failed++
			return
		}
		todo = append(todo, change[K, O]{key: k, desired: d, actual: a, exists: exists})
	}
	if t.full {
		for k, d := range t.desired {
			consider(k, d)
		}
	} else {
		for k := range t.dirty {
			if d, ok := t.desired[k]; ok {
				consider(k, d)
			}
		}
	}
	for _, c := range todo {
		t.inflight[c.key]++
	}
	t.mu.Unlock()
	// Whatever happens, every change leaves the in-flight count.
	pending := map[K]int{}
	for _, c := range todo {
		pending[c.key]++
	}
	defer func() {
		t.mu.Lock()
		for k, n := range pending {
			if t.inflight[k] -= n; t.inflight[k] <= 0 {
				delete(t.inflight, k)
			}
		}
		t.broadcastLocked()
		t.mu.Unlock()
	}()
	// record notes one outcome; it reports whether VPP was unavailable.
	record := func(c change[K, O], op string, got O, err error) error {
		if errors.Is(err, ErrUnavailable) {
			return fmt.Errorf("%s %s: %w", op, t.format(c.key), err)
		}
		t.mu.Lock()
		defer t.mu.Unlock()
		pending[c.key]--
		if t.inflight[c.key]--; t.inflight[c.key] <= 0 {
			delete(t.inflight, c.key)
		}
		// The manager may have changed its mind while VPP worked: record the
		// outcome only for a key still wanted as it was.
		if d, still := t.desired[c.key]; !still || !reflect.DeepEqual(d, c.desired) {
			if err == nil {
				t.actual[c.key] = got
			}
			return nil
		}
		if err != nil {
			if op == "update" {
				// What Update returns on failure is what VPP has now: nothing
				// (a zero object) after a delete whose re-create failed.
				if reflect.ValueOf(&got).Elem().IsZero() {
					delete(t.actual, c.key)
				} else {
					t.actual[c.key] = got
				}
			}
			failed++
			t.markLocked(c.key, StateFailed, err, now)
			t.r.opts.Log.WithError(err).WithFields(logrus.Fields{"kind": t.kind.Name(), "key": t.format(c.key)}).Warn(op + " failed")
			if s := t.status[c.key]; s != nil {
				if wait := t.backoff(s.Attempts); retryIn == 0 || wait < retryIn {
					retryIn = wait
				}
			}
			return nil
		}
		t.actual[c.key] = got
		t.markLocked(c.key, StateApplied, nil, now)
		delete(t.dirty, c.key)
		return nil
	}
	if bk, ok := any(t.kind).(BatchKind[K, O]); ok {
		var creates []change[K, O]
		rest := todo[:0]
		for _, c := range todo {
			if c.exists {
				rest = append(rest, c)
			} else {
				creates = append(creates, c)
			}
		}
		todo = rest
		if len(creates) > 0 {
			keys := make([]K, len(creates))
			objs := make([]O, len(creates))
			for i, c := range creates {
				keys[i], objs[i] = c.key, c.desired
			}
			got, errs := bk.CreateBatch(ctx, keys, objs)
			if t.r.opts.Metrics != nil {
				t.r.opts.Metrics.Calls(t.kind.Name(), "create", len(creates))
			}
			for i, c := range creates {
				if err := record(c, "create", got[i], errs[i]); err != nil {
					return failed, retryIn, err
				}
			}
		}
	}
	for _, c := range todo {
		var (
			got O
			err error
			op  = "create"
		)
		if c.exists {
			op = "update"
			got, err = t.kind.Update(ctx, c.key, c.desired, c.actual)
		} else {
			got, err = t.kind.Create(ctx, c.key, c.desired)
		}
		if t.r.opts.Metrics != nil {
			t.r.opts.Metrics.Calls(t.kind.Name(), op, 1)
		}
		if err := record(c, op, got, err); err != nil {
			return failed, retryIn, err
		}
	}
	return failed, retryIn, nil
}

func (t *Table[K, O]) applyDeletes(ctx context.Context, now time.Time, prune bool) (failed int, retryIn time.Duration, unavailable error) {
	t.mu.Lock()
	var todo []change[K, O]
	consider := func(k K) {
		if _, wanted := t.desired[k]; wanted {
			return
		}
		a, present := t.actual[k]
		if !present {
			delete(t.dirty, k) // settled
			delete(t.released, k)
			return
		}
		t.dirty[k] = struct{}{} // until deleted
		if s := t.undeletable[k]; s != nil && now.Before(s.Since.Add(t.backoff(s.Attempts))) {
			wait := s.Since.Add(t.backoff(s.Attempts)).Sub(now)
			if retryIn == 0 || wait < retryIn {
				retryIn = wait
			}
			failed++
			return
		}
		todo = append(todo, change[K, O]{key: k, actual: a})
	}
	switch {
	case !prune:
		// Before every input has synced only what the manager released
		// goes: the rest of what VPP has may be wanted still.
		for k := range t.released {
			consider(k)
		}
	case t.full:
		for k := range t.actual {
			consider(k)
		}
	default:
		for k := range t.dirty {
			consider(k)
		}
	}
	// Gone from VPP by other means (a restart, a resync): nothing to retry.
	for k := range t.undeletable {
		if _, ok := t.actual[k]; !ok {
			delete(t.undeletable, k)
		}
	}
	t.mu.Unlock()
	errs := make([]error, len(todo))
	if bk, ok := any(t.kind).(BatchKind[K, O]); ok && len(todo) > 0 {
		keys := make([]K, len(todo))
		objs := make([]O, len(todo))
		for i, c := range todo {
			keys[i], objs[i] = c.key, c.actual
		}
		errs = bk.DeleteBatch(ctx, keys, objs)
		if t.r.opts.Metrics != nil {
			t.r.opts.Metrics.Calls(t.kind.Name(), "delete", len(todo))
		}
	} else {
		for i, c := range todo {
			errs[i] = t.kind.Delete(ctx, c.key, c.actual)
			if t.r.opts.Metrics != nil {
				t.r.opts.Metrics.Calls(t.kind.Name(), "delete", 1)
			}
			if errors.Is(errs[i], ErrUnavailable) {
				break
			}
		}
	}
	for i, c := range todo {
		err := errs[i]
		if errors.Is(err, ErrUnavailable) {
			return failed, retryIn, fmt.Errorf("delete %s: %w", t.format(c.key), err)
		}
		t.mu.Lock()
		switch {
		case errors.Is(err, ErrNotOwned):
			delete(t.actual, c.key) // not ours after all: forget it
			delete(t.undeletable, c.key)
			t.settledLocked(c.key)
		case err != nil && t.wantedLocked(c.key):
			// Wanted again meanwhile: creates will see to it.
		case err != nil:
			failed++
			s := t.undeletable[c.key]
			if s == nil {
				s = &ObjectStatus{State: StateDeleteFailed}
				t.undeletable[c.key] = s
			}
			s.Attempts++
			s.Error = err.Error()
			s.Since = now
			if wait := t.backoff(s.Attempts); retryIn == 0 || wait < retryIn {
				retryIn = wait
			}
			t.r.opts.Log.WithError(err).WithFields(logrus.Fields{"kind": t.kind.Name(), "key": t.format(c.key), "attempts": s.Attempts}).Warn("delete failed")
		default:
			delete(t.actual, c.key)
			delete(t.undeletable, c.key)
			t.settledLocked(c.key)
		}
		t.broadcastLocked()
		t.mu.Unlock()
	}
	// Both passes have now looked at every key: later syncs look at what
	// changes.
	if prune {
		t.mu.Lock()
		t.full = false
		t.mu.Unlock()
	}
	return failed, retryIn, nil
}

// settledLocked ends a deleted key's dirtiness, unless the manager wanted
// it again while VPP deleted it: then it must still be created.
func (t *Table[K, O]) settledLocked(k K) {
	delete(t.released, k)
	if !t.wantedLocked(k) {
		delete(t.dirty, k)
	}
}

func (t *Table[K, O]) wantedLocked(k K) bool {
	_, ok := t.desired[k]
	return ok
}

// backoff doubles per attempt from RetryBase up to RetryMax.
func (t *Table[K, O]) backoff(attempts int) time.Duration {
	d := t.r.opts.RetryBase
	for i := 1; i < attempts && d < t.r.opts.RetryMax; i++ {
		d *= 2
	}
	return min(d, t.r.opts.RetryMax)
}

func (t *Table[K, O]) markLocked(k K, st State, err error, now time.Time) {
	s := t.status[k]
	if s == nil {
		s = &ObjectStatus{}
		t.status[k] = s
	}
	if st == StateFailed {
		s.Attempts++
		s.Error = err.Error()
	} else {
		s.Attempts = 0
		s.Error = ""
	}
	if s.State != st || st == StateFailed {
		s.Since = now
		s.State = st
		t.broadcastLocked()
	}
}

func (t *Table[K, O]) report(m Metrics) {
	t.mu.Lock()
	defer t.mu.Unlock()
	applied, failed := 0, 0
	for _, s := range t.status {
		switch s.State {
		case StateApplied:
			applied++
		case StateFailed:
			failed++
		}
	}
	m.Objects(t.kind.Name(), len(t.desired), applied, failed)
}

func (t *Table[K, O]) statuses() map[string]ObjectStatus {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[string]ObjectStatus, len(t.status)+len(t.undeletable))
	for k, s := range t.status {
		out[t.format(k)] = *s
	}
	for k, s := range t.undeletable {
		out[t.format(k)] = *s
	}
	return out
}

// ErrNotOwned may be returned by Kinds asked to delete what they do not own.
var ErrNotOwned = errors.New("object not owned by the agent")
