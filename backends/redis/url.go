package redis

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

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
// read_only, route_by_latency, route_randomly, max_redirects, ...;
// Sentinel: master_name, replica_only, ...); durations are Go durations or
// whole seconds. This backend's own parameters, besides djcache's portable
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

	gu := *u
	gu.Scheme = scheme
	gu.RawQuery = q.Encode()
	gu.Fragment, gu.RawFragment = "", ""
	raw := gu.String()
	switch {
	case q.Has("master_name"):
		cfg.form = "sentinel"
		if cluster {
			return nil, errors.New("djcache: redis: URL has both master_name (Sentinel) and cluster=true; a URL names one or the other")
		}
		if q.Get("master_name") == "" {
			return nil, errors.New("djcache: redis: URL parameter master_name is empty: name the master the sentinels watch")
		}
		cfg.failover, err = goredis.ParseFailoverURL(raw)
		if err == nil {
			cfg.failover.ContextTimeoutEnabled = ctxTimeout
		}
	case cluster || q.Has("addr"):
		cfg.form = "cluster"
		if p := strings.Trim(u.Path, "/"); p != "" && p != "0" {
			return nil, fmt.Errorf("djcache: redis: cluster URL path %q: a Redis Cluster has only database 0", u.Path)
		}
		cfg.cluster, err = goredis.ParseClusterURL(raw)
		if err == nil {
			cfg.cluster.ContextTimeoutEnabled = ctxTimeout
		}
	default:
		cfg.form = "single-server"
		cfg.single, err = goredis.ParseURL(raw)
		if err == nil {
			cfg.single.ContextTimeoutEnabled = ctxTimeout
		}
	}
	if err != nil {
		return nil, parseError(cfg.form, err)
	}
	return cfg, nil
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
