package redis

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/djcache/djcache"
	"github.com/djcache/djcache/driver"
	"github.com/djcache/djcache/internal/urlparam"
)

// The URL schemes of this backend: redis:// for plain TCP and rediss:// for
// TLS.
const (
	Scheme    = "redis"
	SchemeTLS = "rediss"
)

func init() {
	djcache.Register(Scheme, &URLOpener{})
	djcache.Register(SchemeTLS, &URLOpener{})
}

// URLOpener opens redis:// and rediss:// URLs in three forms, told apart by
// their parameters:
//
//   - one server, go-redis ParseURL's grammar:
//     redis://[USER:PASSWORD@]HOST[:PORT][/DB][?PARAMS], such as
//     "redis://:secret@cache.internal:6379/2?pool_size=20&read_timeout=500ms";
//   - a Redis Cluster, go-redis ParseClusterURL's grammar, when there are
//     addr parameters (more seeds) or cluster=true (one seed), such as
//     "redis://10.0.0.1:7000?addr=10.0.0.2:7000&addr=10.0.0.3:7000";
//   - a master found through Sentinel, go-redis ParseFailoverURL's grammar,
//     when there is a master_name parameter; the host and the addr
//     parameters are sentinels, the userinfo authenticates to the
//     sentinels and the username and password parameters to the master,
//     such as
//     "redis://127.0.0.1:26379/0?master_name=mymaster&addr=127.0.0.1:26380".
//
// rediss:// turns TLS on (skip_verify=true disables certificate checks).
// The go-redis parameters are those its parser documents for the form
// (db, protocol, client_name, max_retries, min_retry_backoff,
// max_retry_backoff, dial_timeout, read_timeout, write_timeout, pool_fifo,
// pool_size, pool_timeout, min_idle_conns, max_idle_conns,
// max_active_conns, conn_max_idle_time, conn_max_lifetime, ...; Cluster:
// read_only, route_by_latency, route_randomly, max_redirects,
// dialer_retries, dialer_retry_timeout, ...; Sentinel: master_name,
// replica_only, dialer_retries, dialer_retry_timeout, ...); durations are
// Go durations ("250ms") or seconds ("5", and here also fractions such as
// "0.5", the form of Django's SOCKET_TIMEOUT). read_timeout=0 and
// write_timeout=0 turn those timeouts off, as in go-redis; dial_timeout
// and pool_timeout must be positive (go-redis would fail every dial, or
// every wait for a connection, at once).
//
// A cache call should fail fast when the server is down, so a parameter
// left out of the URL does not take go-redis's default (a 5s dial and read
// timeout, 3 retries, 5 dial attempts per connection) but this backend's,
// in every form:
//
//   - dial_timeout: [DefaultDialTimeout] (500ms);
//   - read_timeout: [DefaultReadTimeout] (500ms); write_timeout, if not
//     given, equals read_timeout (go-redis's rule);
//   - pool_timeout: [DefaultPoolTimeout] (1s);
//   - max_retries: [DefaultMaxRetries] (1) on one server and through
//     Sentinel; a Cluster keeps go-redis's rule, no retry on the node, and
//     retries over the cluster instead: max_redirects:
//     [DefaultMaxRedirects] (1, where go-redis makes 3);
//   - min_retry_backoff and max_retry_backoff: [DefaultMinRetryBackoff]
//     and [DefaultMaxRetryBackoff] (10ms and 100ms);
//   - dialer_retries: [DefaultDialerRetries] (1: one dial attempt per new
//     connection; go-redis makes 5, 100ms apart). The single-server form
//     takes dialer_retries and dialer_retry_timeout too, though go-redis's
//     ParseURL does not.
//
// Each is the go-redis option of the same name (DialTimeout, ReadTimeout,
// ...); max_retries=-1 means no retry. A client passed to [New] keeps its
// own options. This backend's own parameters, besides djcache's portable
// ones (timeout, key_prefix, version):
//
//   - cluster=true: the Cluster form with a single seed address.
//   - namespace=STR: [Options].Namespace.
//   - clear=scan|flushdb: flushdb sets [Options].FlushDB (Clear runs
//     FLUSHDB); scan, the default, deletes only this cache's keys.
//   - clear_match=GLOB: [Options].ClearMatch.
//   - context_timeout_enabled=true|false: go-redis's ContextTimeoutEnabled,
//     true by default here (go-redis's default is false), so that a
//     context's deadline bounds each call's network I/O.
//   - replica=HOST[:PORT], once per read replica (single-server form only):
//     [Options].Replicas, clients with the URL's user, password, database,
//     TLS and parameters but this address (port 6379 if left out). Get,
//     GetMany and Has go to one of them at random, everything else to the
//     URL's server, as Django's RedisCache does with several LOCATIONs
//     (see replicas.go), such as
//     "redis://10.0.0.1:6379/0?replica=10.0.0.2:6379&replica=10.0.0.3".
//
// Any other parameter is an error, as in go-redis's parsers. Open does not
// dial: a wrong address shows at the first call. The driver owns the client
// and closes it on Close.
type URLOpener struct{}

// ownParams are the parameters this backend reads itself; the rest go to
// go-redis's parser.
var ownParams = []string{"cluster", "namespace", "clear", "clear_match", "context_timeout_enabled"}

// config is a parsed URL: the go-redis options of one form, and the
// driver's options.
type config struct {
	form     string // "single-server", "cluster" or "sentinel"
	single   *goredis.Options
	cluster  *goredis.ClusterOptions
	failover *goredis.FailoverOptions
	opts     Options
	replicas []string // host:port of each replica parameter
}

// OpenDriverURL implements djcache.DriverURLOpener.
func (*URLOpener) OpenDriverURL(_ context.Context, u *url.URL) (driver.Driver, error) {
	cfg, err := parseURL(u)
	if err != nil {
		return nil, err
	}
	var c goredis.UniversalClient
	switch {
	case cfg.cluster != nil:
		c = goredis.NewClusterClient(cfg.cluster)
	case cfg.failover != nil:
		c = goredis.NewFailoverClient(cfg.failover)
	default:
		cfg.opts.Replicas = replicaClients(cfg.single, cfg.replicas)
		c = goredis.NewClient(cfg.single)
	}
	return New(c, &cfg.opts), nil
}

// parseURL reads u into a config. Its errors never show the URL, which may
// hold passwords.
func parseURL(u *url.URL) (*config, error) {
	scheme := strings.ToLower(u.Scheme)
	if scheme != Scheme && scheme != SchemeTLS {
		return nil, fmt.Errorf("djcache: redis: URL scheme %q: want redis or rediss", u.Scheme)
	}
	if u.Opaque != "" {
		return nil, errors.New("djcache: redis: URL has no host part: write redis://HOST:PORT")
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, fmt.Errorf("djcache: redis: invalid URL query: %v", err)
	}
	replicas := q["replica"]
	delete(q, "replica")
	own := url.Values{}
	for _, name := range ownParams {
		if vs, ok := q[name]; ok {
			own[name] = vs
			delete(q, name)
		}
	}
	r := urlparam.New("redis", &url.URL{RawQuery: own.Encode()})
	cluster := r.Bool("cluster", false)
	cfg := &config{opts: Options{
		Namespace:   r.String("namespace", ""),
		ClearMatch:  r.String("clear_match", ""),
		CloseClient: true,
	}}
	switch clear := r.String("clear", "scan"); clear {
	case "scan":
	case "flushdb":
		cfg.opts.FlushDB = true
	default:
		if r.Err() == nil {
			return nil, fmt.Errorf("djcache: redis: URL parameter clear=%q: want scan or flushdb", clear)
		}
	}
	ctxTimeout := r.Bool("context_timeout_enabled", true)
	if err := r.Done(); err != nil {
		return nil, err
	}

	switch {
	case q.Has("master_name"):
		cfg.form = "sentinel"
	case cluster || q.Has("addr"):
		cfg.form = "cluster"
	default:
		cfg.form = "single-server"
	}
	if len(replicas) > 0 {
		if cfg.form != "single-server" {
			return nil, fmt.Errorf("djcache: redis: URL parameter replica: only the single-server form has replicas (a %s client finds its own)", cfg.form)
		}
		if cfg.replicas, err = replicaAddrs(replicas); err != nil {
			return nil, err
		}
	}
	if err := fractionalSeconds(q); err != nil {
		return nil, parseError(cfg.form, err)
	}
	for _, name := range []string{"dial_timeout", "pool_timeout"} {
		if v := q.Get(name); v != "" && nonPositive(v) {
			return nil, fmt.Errorf("djcache: redis: URL parameter %s=%s: want a positive duration (go-redis would fail every call at once)", name, v)
		}
	}
	// go-redis's ParseURL does not take the dial retries; read them here.
	var dialerRetries, dialerRetryTimeout queryValue
	if cfg.form == "single-server" {
		dialerRetries, dialerRetryTimeout = take(q, "dialer_retries"), take(q, "dialer_retry_timeout")
	}
	given := func(name string) bool { return q.Get(name) != "" }
	gu := *u
	gu.Scheme = scheme
	gu.RawQuery = q.Encode()
	gu.Fragment, gu.RawFragment = "", ""
	raw := gu.String()
	switch cfg.form {
	case "sentinel":
		if cluster {
			return nil, errors.New("djcache: redis: URL has both master_name (Sentinel) and cluster=true; a URL names one or the other")
		}
		if q.Get("master_name") == "" {
			return nil, errors.New("djcache: redis: URL parameter master_name is empty: name the master the sentinels watch")
		}
		var o *goredis.FailoverOptions
		if o, err = goredis.ParseFailoverURL(raw); err == nil {
			o.ContextTimeoutEnabled = ctxTimeout
			fastFail(given, &o.DialTimeout, &o.ReadTimeout, &o.PoolTimeout, &o.MinRetryBackoff, &o.MaxRetryBackoff, &o.MaxRetries, &o.DialerRetries)
			cfg.failover = o
		}
	case "cluster":
		if p := strings.Trim(u.Path, "/"); p != "" && p != "0" {
			return nil, fmt.Errorf("djcache: redis: cluster URL path %q: a Redis Cluster has only database 0", u.Path)
		}
		var o *goredis.ClusterOptions
		if o, err = goredis.ParseClusterURL(raw); err == nil {
			o.ContextTimeoutEnabled = ctxTimeout
			// A Cluster retries over its nodes (max_redirects), and its
			// nodes not at all, by default: max_retries keeps go-redis's
			// default, max_redirects takes the place of max_retries.
			fastFail(given, &o.DialTimeout, &o.ReadTimeout, &o.PoolTimeout, &o.MinRetryBackoff, &o.MaxRetryBackoff, nil, &o.DialerRetries)
			if !given("max_redirects") {
				o.MaxRedirects = DefaultMaxRedirects
			}
			cfg.cluster = o
		}
	default:
		var o *goredis.Options
		if o, err = goredis.ParseURL(raw); err == nil {
			o.ContextTimeoutEnabled = ctxTimeout
			fastFail(given, &o.DialTimeout, &o.ReadTimeout, &o.PoolTimeout, &o.MinRetryBackoff, &o.MaxRetryBackoff, &o.MaxRetries, &o.DialerRetries)
			if dialerRetries.set {
				o.DialerRetries, err = dialerRetries.int()
			}
			if err == nil && dialerRetryTimeout.set {
				o.DialerRetryTimeout, err = dialerRetryTimeout.duration()
			}
			cfg.single = o
		}
	}
	if err != nil {
		return nil, parseError(cfg.form, err)
	}
	return cfg, nil
}

// The defaults of the clients that URLs open, for a cache that fails fast
// when its server is down (go-redis's defaults are for a database: a 5s
// dial and read timeout, 3 retries, 5 dial attempts per connection). See
// [URLOpener] for the URL parameters that override them.
const (
	// DefaultDialTimeout bounds the opening of a connection (dial_timeout):
	// a server that does not take connections costs a call that long.
	DefaultDialTimeout = 500 * time.Millisecond
	// DefaultReadTimeout bounds the wait for each reply (read_timeout):
	// a server that takes connections but does not answer costs a call
	// that long. The write timeout follows it unless write_timeout is set.
	DefaultReadTimeout = 500 * time.Millisecond
	// DefaultPoolTimeout bounds the wait for a free pooled connection
	// when all are busy (pool_timeout).
	DefaultPoolTimeout = time.Second
	// DefaultMaxRetries is the number of times a failed command is sent
	// again (max_retries), on one server or through Sentinel: once, so
	// that a pooled connection the server closed (after a restart) costs
	// no failure.
	DefaultMaxRetries = 1
	// DefaultMaxRedirects is the number of attempts a Cluster makes after
	// the first (max_redirects): after a MOVED or ASK reply, a failover, or
	// a failure that go-redis retries, such as a timeout. One, where
	// go-redis makes three: a timed-out call costs two read timeouts, not
	// four. A call that meets both MOVED and ASK (a client whose slot map
	// is out of date while a slot migrates) then fails; set
	// max_redirects=2 or more for a Cluster that is resharded under load.
	DefaultMaxRedirects = 1
	// DefaultMinRetryBackoff and DefaultMaxRetryBackoff bound the pause
	// before a retry (min_retry_backoff, max_retry_backoff).
	DefaultMinRetryBackoff = 10 * time.Millisecond
	DefaultMaxRetryBackoff = 100 * time.Millisecond
	// DefaultDialerRetries is the number of dial attempts per new
	// connection (dialer_retries): one, as a retried command dials again
	// anyway.
	DefaultDialerRetries = 1
)

// fastFail sets the options whose URL parameter was not given to this
// backend's defaults. A nil pointer is left to go-redis.
func fastFail(given func(string) bool, dial, read, pool, minBackoff, maxBackoff *time.Duration, retries, dialerRetries *int) {
	for _, d := range []struct {
		name string
		p    *time.Duration
		v    time.Duration
	}{
		{"dial_timeout", dial, DefaultDialTimeout},
		{"read_timeout", read, DefaultReadTimeout},
		{"pool_timeout", pool, DefaultPoolTimeout},
		{"min_retry_backoff", minBackoff, DefaultMinRetryBackoff},
		{"max_retry_backoff", maxBackoff, DefaultMaxRetryBackoff},
	} {
		if !given(d.name) {
			*d.p = d.v
		}
	}
	if retries != nil && !given("max_retries") {
		*retries = DefaultMaxRetries
	}
	if !given("dialer_retries") {
		*dialerRetries = DefaultDialerRetries
	}
}

// durationParams are go-redis's duration parameters.
var durationParams = []string{
	"dial_timeout", "read_timeout", "write_timeout", "pool_timeout",
	"min_retry_backoff", "max_retry_backoff", "dialer_retry_timeout",
	"conn_max_idle_time", "idle_timeout", "conn_max_lifetime", "max_conn_age",
	"conn_max_lifetime_jitter", "route_by_latency_tolerance",
}

// fractionalSeconds rewrites the duration parameters given as a fraction
// of seconds ("0.5", as Django's SOCKET_TIMEOUT is written), which go-redis
// does not take, as Go durations ("500ms"). Whole seconds and Go durations
// are left to go-redis.
func fractionalSeconds(q url.Values) error {
	for _, name := range durationParams {
		vs := q[name]
		if len(vs) != 1 || !strings.Contains(vs[0], ".") {
			continue
		}
		if _, err := time.ParseDuration(vs[0]); err == nil {
			continue // "1.5s"
		}
		f, err := strconv.ParseFloat(vs[0], 64)
		if err != nil || f != f || f > 1e9 || f < -1e9 {
			return fmt.Errorf("invalid %s duration: %q is neither seconds nor a Go duration", name, vs[0])
		}
		d := time.Duration(f * float64(time.Second))
		if d <= 0 {
			d = -1 // go-redis: a zero or negative duration turns the timeout off
		}
		q.Set(name, d.String())
	}
	return nil
}

// nonPositive reports whether v, a duration parameter, is zero or
// negative.
func nonPositive(v string) bool {
	if i, err := strconv.Atoi(v); err == nil {
		return i <= 0
	}
	d, err := time.ParseDuration(v)
	return err == nil && d <= 0
}

// queryValue is a parameter taken out of a query.
type queryValue struct {
	name, v string
	set     bool
}

// take removes the parameter name from q and returns it; an empty value
// counts as absent, as in go-redis.
func take(q url.Values, name string) queryValue {
	v := q.Get(name)
	q.Del(name)
	return queryValue{name: name, v: v, set: v != ""}
}

// int reads the value as go-redis reads an integer parameter.
func (p queryValue) int() (int, error) {
	i, err := strconv.Atoi(p.v)
	if err != nil {
		return 0, fmt.Errorf("invalid %s number: %v", p.name, err)
	}
	return i, nil
}

// duration reads the value as go-redis reads a duration parameter: whole
// seconds or a Go duration, zero or less meaning -1 (off).
func (p queryValue) duration() (time.Duration, error) {
	if i, err := strconv.Atoi(p.v); err == nil {
		if i <= 0 {
			return -1, nil
		}
		return time.Duration(i) * time.Second, nil
	}
	d, err := time.ParseDuration(p.v)
	if err != nil {
		return 0, fmt.Errorf("invalid %s duration: %v", p.name, err)
	}
	if d <= 0 {
		return -1, nil
	}
	return d, nil
}

// parseError rewords an error of go-redis's URL parsers, without the URL.
func parseError(form string, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // ue's text holds the URL, and so any password in it
	}
	msg := strings.TrimPrefix(err.Error(), "redis: ")
	if names, ok := strings.CutPrefix(msg, "unexpected option: "); ok {
		list := strings.Split(names, ", ")
		for i, n := range list {
			list[i] = fmt.Sprintf("%q", n)
		}
		s := ""
		if len(list) > 1 {
			s = "s"
		}
		return fmt.Errorf("djcache: redis: unknown URL parameter%s %s for the %s form (see the go-redis %s documentation)",
			s, strings.Join(list, ", "), form, parserName[form])
	}
	return fmt.Errorf("djcache: redis: %s URL: %s", form, msg)
}

var parserName = map[string]string{
	"single-server": "ParseURL",
	"cluster":       "ParseClusterURL",
	"sentinel":      "ParseFailoverURL",
}
