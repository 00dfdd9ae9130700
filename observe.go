package djcache

import (
	"context"
	sqldriver "database/sql/driver"
	"errors"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"syscall"
	"time"
)

// Observing a cache: metrics and traces. A Cache tells an [Observer] what
// each call did, in one [Event] per call and one per hot-key event. The
// root package defines only this hook; the nested module
// github.com/djcache/djcache/djcacheotel turns the events into
// OpenTelemetry metrics and spans and Prometheus metrics, so that this
// module depends on neither.
//
// A Cache without an observer pays, per call, one atomic load, a branch
// and the bookkeeping of a deferred call that does not run: about 30
// instructions on a locmem Get hit of some 1,600, within the noise of
// BenchmarkGetHitNoObserver, and no allocation (TestAllocations). Each
// method that reports a call starts with
//
//	if ob := c.obs.Load(); ob != nil {
//		defer c.observed(ctx, ob, "get", key, now(), &note, &found, &err)
//	}
//
// and notes what its Event needs (a value's size, hits and misses found
// by a helper) in an obsNote on its stack.

// Observer receives the events of the caches it is attached to: one
// [Event] when a call of a Cache returns, and one for each hot-key event of
// GetOrSet and GetOrSetMany (fills, stale values served, early refreshes,
// fill-lock waits, failed background refreshes). Attach one with
// [Options].Observer, [Cache.Observe] or [Caches.Observe].
//
// Observe is called synchronously, on the goroutine of the call (or of the
// background refresh), after the work it reports and with no lock held. It
// must be safe for concurrent use and should return quickly: the caller
// waits for it. ctx is the call's context, so that a tracer finds the
// caller's span; for a background refresh it is the cache's own
// background context. e is a value: Observe may keep it, and its strings.
type Observer interface {
	Observe(ctx context.Context, e Event)
}

// EventKind says what an [Event] reports.
type EventKind uint8

// The kinds of events.
const (
	// EventOp reports a call of a Cache that returned: Op, Key, Duration,
	// Hits, Misses, Sets, Deletes, Size and Err describe it.
	EventOp EventKind = iota + 1
	// EventFill reports a fill function of GetOrSet or GetOrSetMany that
	// returned, in the foreground or in a background refresh: Duration is
	// the fill's time, Keys the number of keys it was asked for (1 for
	// GetOrSet), Err its error. A fill that returned ErrAbsent succeeded
	// (the absence is cached): Err is nil, as Stats counts it.
	EventFill
	// EventStaleServed reports that a GetOrSet or GetOrSetMany answered
	// Keys keys with stale values (see Stale).
	EventStaleServed
	// EventEarlyRefresh reports that a GetOrSet or GetOrSetMany started a
	// background refresh of Keys fresh keys early (see EarlyRefresh).
	EventEarlyRefresh
	// EventLockWait reports that a GetOrSet fill waited for the fill lock
	// another caller held (see FillLock).
	EventLockWait
	// EventRefreshError reports that a background refresh of Keys keys
	// failed with Err; the stale values go on being served.
	EventRefreshError
)

var eventKindNames = [...]string{"", "op", "fill", "stale_served", "early_refresh", "lock_wait", "refresh_error"}

// String returns the kind's name: "op", "fill", "stale_served",
// "early_refresh", "lock_wait" or "refresh_error".
func (k EventKind) String() string {
	if int(k) < len(eventKindNames) {
		return eventKindNames[k]
	}
	return "EventKind(" + strconv.Itoa(int(k)) + ")"
}

// Event is what an [Observer] receives: a small value, passed without
// allocating. The fields that do not apply to its Kind are zero.
type Event struct {
	// Kind says what happened.
	Kind EventKind
	// Op is the Django name of the call, as in OpError.Op: "get", "set",
	// "add", "get_or_set", "get_many", "get_or_set_many", "set_many",
	// "delete", "delete_many", "has_key", "touch", "incr", "decr",
	// "incr_version", "decr_version", "clear", "ping" or "ttl". Hot-key
	// events carry "get_or_set" or "get_or_set_many".
	Op string
	// Backend is the backend's name, such as "locmem", "redis" or "db", as
	// in OpError.Backend.
	Backend string
	// Alias is the cache's name: its alias in a [Caches] handler, or
	// [Options].Alias ("" if none).
	Alias string
	// Key is the caller's key of an EventOp on one key, and the made key
	// ("prefix:version:key") of a GetOrSet hot-key event, which is shared
	// by every caller of the key; "" otherwise. Keys are many and may be
	// personal: an observer should not make them metric attributes.
	Key string
	// Keys is how many keys a hot-key event concerns.
	Keys int
	// Start is when the call (or the fill) started, and Duration how long
	// it took. Both are zero for the events that report a moment.
	Start    time.Time
	Duration time.Duration
	// Hits and Misses count the keys an EventOp looked up and found or
	// missed (Get, Has, GetMany, GetOrSet, GetOrSetMany; a GetOrSet served
	// a stale value hits), as Stats counts them: a Get whose value did not
	// decode hits, a call that failed otherwise counts neither.
	Hits, Misses int
	// Sets counts the entries that a Set, Add or SetMany stored, and
	// Deletes the keys a Delete or DeleteMany removed (DeleteMany: the
	// distinct keys it was given). Entries that fills store are reported
	// by EventFill instead.
	Sets, Deletes int
	// Size is the number of bytes of the encoded values that an EventOp
	// read (on a hit) or wrote, summed over the keys of a call on many.
	// It is 0 where it is not known (GetOrSet, GetOrSetMany).
	Size int
	// Err is the error the call returned, or the error of a fill or a
	// background refresh; ErrorKind classifies it.
	Err       error
	ErrorKind ErrorKind
}

// Outcome summarises an event: OutcomeError if it has an error,
// OutcomeHit or OutcomeMiss if it looked keys up and found all or none of
// them, OutcomePartial if it found some, OutcomeOK otherwise.
func (e Event) Outcome() Outcome {
	switch {
	case e.Err != nil:
		return OutcomeError
	case e.Hits > 0 && e.Misses > 0:
		return OutcomePartial
	case e.Hits > 0:
		return OutcomeHit
	case e.Misses > 0:
		return OutcomeMiss
	}
	return OutcomeOK
}

// Outcome is the result of an event in a word; see [Event.Outcome].
type Outcome uint8

// The outcomes.
const (
	OutcomeOK Outcome = iota
	OutcomeHit
	OutcomeMiss
	OutcomePartial
	OutcomeError
)

var outcomeNames = [...]string{"ok", "hit", "miss", "partial", "error"}

// String returns "ok", "hit", "miss", "partial" or "error".
func (o Outcome) String() string {
	if int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return "Outcome(" + strconv.Itoa(int(o)) + ")"
}

// ErrorKind classifies an error for metrics: a few kinds that a dashboard
// can show apart, with names fit for a metric label. See [ErrorKindOf].
type ErrorKind uint8

// The kinds of errors, in the order ErrorKindOf tries them.
const (
	// ErrorNone is the kind of a nil error.
	ErrorNone ErrorKind = iota
	// ErrorTimeout: a deadline passed (context.DeadlineExceeded,
	// os.ErrDeadlineExceeded, a net.Error whose Timeout reports true).
	ErrorTimeout
	// ErrorCanceled: the caller's context was cancelled.
	ErrorCanceled
	// ErrorInvalidKey: a key the backend refuses (ErrInvalidKey).
	ErrorInvalidKey
	// ErrorEncode: a value that cannot be encoded (*EncodeError).
	ErrorEncode
	// ErrorDecode: a stored value that does not decode into the
	// destination (*DecodeError, *ManyDecodeError).
	ErrorDecode
	// ErrorNotFound: a condition rather than a failure: Incr, Decr,
	// IncrVersion, DecrVersion or TTL found no entry (ErrNotFound), or
	// GetOrSet found a cached absence (ErrAbsent).
	ErrorNotFound
	// ErrorClosed: a call on a closed Cache (ErrClosed).
	ErrorClosed
	// ErrorConnection: the backend could not be reached or the connection
	// broke (a net.Error, a refused or reset connection, an unexpected
	// EOF, database/sql's driver.ErrBadConn).
	ErrorConnection
	// ErrorOther: anything else (ErrNotInteger, ErrOverflow,
	// ErrNotSupported, invalid options, a fill's own error, a server's
	// error reply, …).
	ErrorOther
)

var errorKindNames = [...]string{"", "timeout", "canceled", "invalid_key", "encode", "decode", "not_found", "closed", "connection", "other"}

// String returns the kind's name: "" for ErrorNone, else "timeout",
// "canceled", "invalid_key", "encode", "decode", "not_found", "closed",
// "connection" or "other".
func (k ErrorKind) String() string {
	if int(k) < len(errorKindNames) {
		return errorKindNames[k]
	}
	return "ErrorKind(" + strconv.Itoa(int(k)) + ")"
}

// ErrorKindOf classifies err with errors.Is and errors.As, trying the
// kinds in the order of their constants: a timeout that broke a connection
// is a timeout, an encode error is an encode error whatever it wraps.
func ErrorKindOf(err error) ErrorKind {
	if err == nil {
		return ErrorNone
	}
	var (
		ee *EncodeError
		de *DecodeError
		me *ManyDecodeError
		ne net.Error
	)
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return ErrorTimeout
	case errors.Is(err, context.Canceled):
		return ErrorCanceled
	case errors.Is(err, ErrInvalidKey):
		return ErrorInvalidKey
	case errors.As(err, &ee):
		return ErrorEncode
	case errors.As(err, &de), errors.As(err, &me):
		return ErrorDecode
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrAbsent):
		return ErrorNotFound
	case errors.Is(err, ErrClosed):
		return ErrorClosed
	case errors.As(err, &ne):
		if ne.Timeout() {
			return ErrorTimeout
		}
		return ErrorConnection
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, net.ErrClosed), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, sqldriver.ErrBadConn):
		return ErrorConnection
	}
	return ErrorOther
}

// Observe attaches o to c, after the observers it has: the events of the
// calls that start after Observe returns go to o too. A nil o is ignored.
// Observe is safe for concurrent use with every other method; there is no
// way to detach an observer, so attach each one once.
func (c *Cache) Observe(o Observer) {
	if o == nil {
		return
	}
	for {
		old := c.obs.Load()
		next := &observers{list: []Observer{o}}
		if old != nil {
			next.list = append(slices.Clip(old.list), o)
		}
		if c.obs.CompareAndSwap(old, next) {
			return
		}
	}
}

// observers is a Cache's list of observers. The Cache holds it in an
// atomic pointer and replaces it whole, so that a call reads it with one
// load and no lock.
type observers struct{ list []Observer }

func (ob *observers) emit(ctx context.Context, e Event) {
	for _, o := range ob.list {
		o.Observe(ctx, e)
	}
}

// obsNote is what a call notes, where it learns it, for the Event its
// deferred observed sends: it lives on the call's stack, and noting costs
// a store whether or not anything observes.
type obsNote struct {
	hits, misses, sets, deletes, size int
}

// observed sends the EventOp of a call of op that started at start. It is
// deferred, only when an observer is attached, by every method that
// reports calls (see the top of this file). note (or nil) holds what the call noted; found (or nil) is the result
// that the op's counts come from: found for get and has_key, added for
// add, deleted for delete.
func (c *Cache) observed(ctx context.Context, ob *observers, op, key string, start time.Time, note *obsNote, found *bool, err *error) {
	e := Event{Kind: EventOp, Op: op, Backend: c.backend, Alias: c.set.alias, Key: key, Start: start, Duration: now().Sub(start)}
	if note != nil {
		e.Hits, e.Misses, e.Sets, e.Deletes, e.Size = note.hits, note.misses, note.sets, note.deletes, note.size
	}
	if err != nil && *err != nil {
		e.Err = *err
		e.ErrorKind = ErrorKindOf(e.Err)
	}
	ok := e.Err == nil
	switch op {
	case "get", "has_key":
		switch {
		case ok && found != nil && *found, e.ErrorKind == ErrorDecode:
			e.Hits = 1 // a value that did not decode was found, as Stats counts it
		case ok && found != nil:
			e.Misses, e.Size = 1, 0
		default:
			e.Size = 0
		}
	case "set":
		if ok {
			e.Sets = 1
		}
	case "add":
		if ok && found != nil && *found {
			e.Sets = 1
		}
	case "delete":
		if ok {
			e.Deletes = 1
		}
	}
	ob.emit(ctx, e)
}

// hotEvent sends a hot-key event about made (or about n keys of a
// GetOrSetMany) to c's observers, if it has any. took and err are a fill's
// duration and error, or a failed refresh's error.
func (c *Cache) hotEvent(ctx context.Context, kind EventKind, op, made string, n int, took time.Duration, err error) {
	if ob := c.obs.Load(); ob != nil {
		c.sendHotEvent(ctx, ob, kind, op, made, n, took, err)
	}
}

func (c *Cache) sendHotEvent(ctx context.Context, ob *observers, kind EventKind, op, made string, n int, took time.Duration, err error) {
	e := Event{Kind: kind, Op: op, Backend: c.backend, Alias: c.set.alias, Key: made, Keys: n}
	if kind == EventFill {
		e.Duration = took
		e.Start = now().Add(-took)
		if errors.Is(err, ErrAbsent) {
			err = nil // a cached absence is a fill that worked
		}
	}
	if err != nil {
		e.Err, e.ErrorKind = err, ErrorKindOf(err)
	}
	ob.emit(ctx, e)
}

// Observe attaches o to every cache of cs: those opened already and those
// opened later, each of which reports its alias in [Event].Alias. It is
// how a metrics package instruments a whole CACHES setting at once; a nil
// o is ignored.
func (cs *Caches) Observe(o Observer) {
	if o == nil {
		return
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.observers = append(cs.observers, o)
	for _, c := range cs.opened {
		c.Observe(o)
	}
}

// attach names a cache that cs just opened for alias, before anyone else
// sees it, and attaches cs's observers. It runs under cs.mu.
func (cs *Caches) attach(alias string, c *Cache) {
	c.set.alias = alias
	for _, o := range cs.observers {
		c.Observe(o)
	}
}
