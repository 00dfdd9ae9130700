package httpcache

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/djcache/djcache"
)

// DefaultMaxBodySize is the largest body cached unless MaxBodySize says
// otherwise: 1 MiB, memcached's default item size.
const DefaultMaxBodySize = 1 << 20

// Option configures CachePage, New, NewFromSettings and the key functions.
// Options are small values; when two of the same sort are given, the last
// one wins.
type Option struct {
	kind   optionKind
	s      string
	n      int64
	caches *djcache.Caches
	set    *Settings
	fn     func(*http.Request) string
	logger *slog.Logger
}

type optionKind uint8

const (
	optNone optionKind = iota
	optKeyPrefix
	optCaches
	optSettings
	optLanguage
	optTimeZone
	optCacheStatus
	optMaxBody
	optLogger
)

// KeyPrefix is cache_page's key_prefix: the prefix inside every key of the
// page cache ("views.decorators.cache.cache_page.PREFIX.GET..."), not the
// cache's KEY_PREFIX, which djcache applies on top. Without it, CachePage
// uses "" (as Django's cache_page does) and the other functions the
// settings' CACHE_MIDDLEWARE_KEY_PREFIX.
func KeyPrefix(prefix string) Option { return Option{kind: optKeyPrefix, s: prefix} }

// FromCaches is cache_page's cache=alias: the page cache uses the cache of
// alias in caches instead of the *djcache.Cache argument, which may then
// be nil. The alias is opened when the middleware is built (which does no
// I/O), so an unknown alias or a backend whose package is not imported
// fails there: New returns the error, and CachePage panics with it, as
// Django's cache_page fails when the view module loads.
func FromCaches(caches *djcache.Caches, alias string) Option {
	return Option{kind: optCaches, caches: caches, s: alias}
}

// WithSettings gives the Django settings that keys depend on (USE_I18N,
// LANGUAGE_CODE, USE_TZ, TIME_ZONE, SECURE_PROXY_SSL_HEADER,
// USE_X_FORWARDED_HOST, DjangoVersion) and the middleware's defaults
// (CACHE_MIDDLEWARE_*). Without it, Django's defaults apply.
func WithSettings(s *Settings) Option { return Option{kind: optSettings, set: s} }

// Language gives a request's language, Django's request.LANGUAGE_CODE as
// LocaleMiddleware sets it (for example from the Accept-Language header or
// a URL prefix); with USE_I18N it ends every key. "" (or no Language
// option) means LANGUAGE_CODE.
func Language(fn func(*http.Request) string) Option { return Option{kind: optLanguage, fn: fn} }

// TimeZone gives a request's current time zone name, Django's
// get_current_timezone_name() after timezone.activate; with USE_TZ it ends
// every key. "" (or no TimeZone option) means TIME_ZONE.
func TimeZone(fn func(*http.Request) string) Option { return Option{kind: optTimeZone, fn: fn} }

// CacheStatus adds the Cache-Status response header of RFC 9211 under the
// cache name given, such as "djcache": "djcache; hit; ttl=42" on a hit,
// "djcache; fwd=uri-miss; stored" on a miss that stored the page
// ("fwd=vary-miss" when the URL's header list was cached but not this
// variant, "fwd=method" for other methods, "fwd=bypass" when the cache
// failed). Django sends no such header; without this option neither does
// this package.
func CacheStatus(name string) Option { return Option{kind: optCacheStatus, s: name} }

// MaxBodySize is the largest response body the page cache stores, in
// bytes (DefaultMaxBodySize without it). A larger response is passed to
// the client as it is written, unchanged and uncached. n <= 0 means no
// limit.
func MaxBodySize(n int64) Option { return Option{kind: optMaxBody, n: n} }

// Logger is where the page cache logs cache failures (at Warn) and pages
// it cannot read (at Debug). Without it, slog.Default() at the time of
// the message.
func Logger(l *slog.Logger) Option { return Option{kind: optLogger, logger: l} }

// config is the options applied.
type config struct {
	prefix      string
	prefixSet   bool
	caches      *djcache.Caches
	alias       string
	set         *Settings
	language    func(*http.Request) string
	timeZone    func(*http.Request) string
	cacheStatus string
	maxBody     int64
	logger      *slog.Logger
}

func newConfig(opts []Option) *config {
	cfg := &config{maxBody: DefaultMaxBodySize}
	for _, o := range opts {
		switch o.kind {
		case optKeyPrefix:
			cfg.prefix, cfg.prefixSet = o.s, true
		case optCaches:
			cfg.caches, cfg.alias = o.caches, o.s
		case optSettings:
			cfg.set = o.set
		case optLanguage:
			cfg.language = o.fn
		case optTimeZone:
			cfg.timeZone = o.fn
		case optCacheStatus:
			cfg.cacheStatus = o.s
		case optMaxBody:
			cfg.maxBody = o.n
		case optLogger:
			cfg.logger = o.logger
		}
	}
	return cfg
}

// keys is the key maker: the prefix is KeyPrefix's, else the settings'.
func (cfg *config) keys() *keys {
	p := cfg.set.keyPrefix()
	if cfg.prefixSet {
		p = cfg.prefix
	}
	return &keys{prefix: p, set: cfg.set, language: cfg.language, timeZone: cfg.timeZone}
}

// cache resolves the cache of FromCaches's alias, else of
// CACHE_MIDDLEWARE_ALIAS, for callers that gave no *djcache.Cache.
func (cfg *config) cache() (*djcache.Cache, error) {
	if cfg.caches == nil {
		return nil, errors.New("httpcache: no cache: pass a *djcache.Cache or the FromCaches option")
	}
	alias := cfg.alias
	if alias == "" {
		alias = cfg.set.alias()
	}
	return cfg.caches.Cache(alias)
}

// checkAlias reports an alias that caches does not define.
func (cfg *config) checkAlias(alias string) error {
	if !slices.Contains(cfg.caches.Aliases(), alias) {
		return fmt.Errorf("httpcache: the cache alias %q doesn't exist (aliases: %v)", alias, cfg.caches.Aliases())
	}
	return nil
}

func (cfg *config) log() *slog.Logger {
	if cfg.logger != nil {
		return cfg.logger
	}
	return slog.Default()
}

// seconds formats a timeout as Django's int seconds.
func seconds(d time.Duration) int64 { return int64(d / time.Second) }

// maxSeconds bounds timeouts read from responses (about 272 years).
const maxSeconds = 1 << 33
