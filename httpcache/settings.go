package httpcache

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/djcache/djcache"
)

// Django's defaults (django/conf/global_settings.py).
const (
	// DefaultSeconds is CACHE_MIDDLEWARE_SECONDS's default: 600 seconds.
	DefaultSeconds  = 600
	defaultLanguage = "en-us"
	defaultTimeZone = "America/Chicago"
)

// Django releases whose differences Settings.DjangoVersion selects.
const (
	v32 = "3.2"
	v42 = "4.2"
	v52 = "5.2"
)

// Settings are the Django settings that the page cache reads. The zero
// value (and a nil *Settings) is Django's defaults. A Settings is not
// modified by this package and may be shared once built.
type Settings struct {
	// CacheMiddlewareSeconds is CACHE_MIDDLEWARE_SECONDS: the timeout of a
	// page, in seconds, when the response gives no max-age. Nil means
	// Django's default, DefaultSeconds (600); 0 caches nothing.
	CacheMiddlewareSeconds *int
	// CacheMiddlewareKeyPrefix is CACHE_MIDDLEWARE_KEY_PREFIX, the
	// middleware's key prefix (inside the keys, not the cache's KEY_PREFIX).
	CacheMiddlewareKeyPrefix string
	// CacheMiddlewareAlias is CACHE_MIDDLEWARE_ALIAS; "" means "default".
	CacheMiddlewareAlias string

	// UseI18N is USE_I18N; nil means true, Django's default. With it, page
	// keys end with ".LANGUAGE".
	UseI18N *bool
	// LanguageCode is LANGUAGE_CODE, the language of a request when the
	// Language option gives none; "" means Django's "en-us".
	LanguageCode string
	// UseTZ is USE_TZ; nil means true (Django 5's default and every
	// project's since startproject). With it, page keys end with
	// ".TIME_ZONE".
	UseTZ *bool
	// TimeZone is TIME_ZONE, the time zone of a request when the TimeZone
	// option gives none; "" means Django's "America/Chicago".
	TimeZone string

	// SecureProxySSLHeader is SECURE_PROXY_SSL_HEADER: a META name and the
	// value that marks a request as https, such as
	// {"HTTP_X_FORWARDED_PROTO", "https"}. The zero value means none (a
	// request is https when it came over TLS).
	SecureProxySSLHeader [2]string
	// UseXForwardedHost is USE_X_FORWARDED_HOST: the host of the URL is
	// X-Forwarded-Host when the request has it.
	UseXForwardedHost bool

	// DjangoVersion is the release of the Django application whose keys
	// must match: "5.2" (the default), "4.2" or "3.2". It decides one
	// detail of the page key, what a learned header that the request lacks
	// adds to the hash: "-," in 5.2 (tested: 5.2.19) and Debian's 3.2.25
	// (security update deb12u7), nothing in 4.2 (tested: 4.2.30) and older
	// releases (use "4.2" for those). With "3.2", SECURE_PROXY_SSL_HEADER's
	// value is compared whole (later releases read the first of a list).
	DjangoVersion string

	// Caches are the CACHES (with DATABASES, USE_TZ and TIME_ZONE) found by
	// ParseSettings, for djcache.NewCaches; nil if there were none.
	Caches *djcache.Settings
}

func (s *Settings) seconds() time.Duration {
	if s == nil || s.CacheMiddlewareSeconds == nil {
		return DefaultSeconds * time.Second
	}
	return time.Duration(*s.CacheMiddlewareSeconds) * time.Second
}

func (s *Settings) keyPrefix() string {
	if s == nil {
		return ""
	}
	return s.CacheMiddlewareKeyPrefix
}

func (s *Settings) alias() string {
	if s == nil || s.CacheMiddlewareAlias == "" {
		return djcache.DefaultAlias
	}
	return s.CacheMiddlewareAlias
}

func (s *Settings) useI18N() bool { return s == nil || s.UseI18N == nil || *s.UseI18N }
func (s *Settings) useTZ() bool   { return s == nil || s.UseTZ == nil || *s.UseTZ }

func (s *Settings) languageCode() string {
	if s == nil || s.LanguageCode == "" {
		return defaultLanguage
	}
	return s.LanguageCode
}

func (s *Settings) timeZone() string {
	if s == nil || s.TimeZone == "" {
		return defaultTimeZone
	}
	return s.TimeZone
}

// timeZoneName is get_current_timezone_name() for the default zone.
func (s *Settings) timeZoneName() string { return zoneName(s.timeZone()) }

func (s *Settings) version() string {
	if s == nil || s.DjangoVersion == "" {
		return v52
	}
	return s.DjangoVersion
}

// absentMarker reports whether an absent learned header adds "-," to the
// page key's hash.
func (s *Settings) absentMarker() bool { return s.version() != v42 }

func (s *Settings) secureProxyHeader() (name, value string) {
	if s == nil {
		return "", ""
	}
	return s.SecureProxySSLHeader[0], s.SecureProxySSLHeader[1]
}

func (s *Settings) validate() error {
	if s == nil {
		return nil
	}
	switch s.DjangoVersion {
	case "", v32, v42, v52:
	default:
		return fmt.Errorf("httpcache: DjangoVersion %q: want \"5.2\", \"4.2\" or \"3.2\"", s.DjangoVersion)
	}
	if n, v := s.SecureProxySSLHeader[0], s.SecureProxySSLHeader[1]; (n == "") != (v == "") {
		return errors.New("httpcache: SECURE_PROXY_SSL_HEADER must be a tuple containing two values")
	}
	return nil
}

// zoneName is what Django's get_current_timezone_name() gives for a zone:
// tzname(None) or str(zone), which is the zone's name except for zones with
// a single fixed offset (Etc/UTC, Etc/GMT+5, ...), whose abbreviation it is
// (UTC, -05), with zoneinfo (Django 4 and later) and pytz (3.2) alike.
func zoneName(name string) string {
	if name == "UTC" {
		return name
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return name
	}
	var abbr string
	var off int
	for i, year := range []int{1800, 1900, 1950, 1970, 2000, 2020, 2037} {
		for _, month := range []time.Month{time.January, time.July} {
			a, o := time.Date(year, month, 1, 0, 0, 0, 0, loc).Zone()
			if i == 0 && month == time.January {
				abbr, off = a, o
			} else if a != abbr || o != off {
				return name
			}
		}
	}
	return abbr
}

// settingsKeys are the top-level keys ParseSettings reads; the first four
// go to djcache.ParseSettings.
var settingsKeys = []string{
	"CACHES", "DATABASES", "USE_TZ", "TIME_ZONE",
	"CACHE_MIDDLEWARE_SECONDS", "CACHE_MIDDLEWARE_KEY_PREFIX", "CACHE_MIDDLEWARE_ALIAS",
	"USE_I18N", "LANGUAGE_CODE", "SECURE_PROXY_SSL_HEADER", "USE_X_FORWARDED_HOST",
	"DJANGO_VERSION",
}

// ParseSettings reads Django settings pasted as a JSON object: the page
// cache's (CACHE_MIDDLEWARE_SECONDS, CACHE_MIDDLEWARE_KEY_PREFIX,
// CACHE_MIDDLEWARE_ALIAS, USE_I18N, LANGUAGE_CODE, USE_TZ, TIME_ZONE,
// SECURE_PROXY_SSL_HEADER as a two-string list, USE_X_FORWARDED_HOST, and
// DJANGO_VERSION, djcache's own key for Settings.DjangoVersion) next to
// CACHES and DATABASES, which go with USE_TZ and TIME_ZONE to
// djcache.ParseSettings into Settings.Caches:
//
//	{"CACHES": {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:6379"}},
//	 "CACHE_MIDDLEWARE_SECONDS": 300, "CACHE_MIDDLEWARE_KEY_PREFIX": "shop",
//	 "LANGUAGE_CODE": "de", "TIME_ZONE": "Europe/Berlin"}
//
// Any other key is an error that names it, so a misspelt setting fails
// here. Null values mean Django's defaults, except TIME_ZONE null, Django's
// "the system's zone", which is an error with USE_TZ (the keys need the
// zone's name).
func ParseSettings(data []byte) (*Settings, error) {
	var top map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&top); err != nil {
		return nil, fmt.Errorf("httpcache: settings: %v", err)
	}
	if dec.More() {
		return nil, errors.New("httpcache: settings: data after the JSON value")
	}
	s := &Settings{}
	caches := map[string]json.RawMessage{}
	tzNull := false
	for name, raw := range top {
		if !slices.Contains(settingsKeys, name) {
			return nil, fmt.Errorf("httpcache: settings: unknown key %q (expected one of %s)", name, strings.Join(settingsKeys, ", "))
		}
		isNull := string(bytes.TrimSpace(raw)) == "null"
		var err error
		switch name {
		case "CACHES", "DATABASES", "USE_TZ", "TIME_ZONE":
			caches[name] = raw
			if name == "USE_TZ" && !isNull {
				var b bool
				err = json.Unmarshal(raw, &b)
				s.UseTZ = &b
			}
			if name == "TIME_ZONE" {
				if isNull {
					tzNull = true
				} else {
					err = json.Unmarshal(raw, &s.TimeZone)
				}
			}
		case "CACHE_MIDDLEWARE_SECONDS":
			if !isNull {
				var n json.Number
				if err = json.Unmarshal(raw, &n); err == nil {
					var f float64
					if f, err = n.Float64(); err == nil {
						secs := int(f) // Django's timeouts are cut to whole seconds
						s.CacheMiddlewareSeconds = &secs
					}
				}
			}
		case "CACHE_MIDDLEWARE_KEY_PREFIX":
			err = unmarshalString(raw, &s.CacheMiddlewareKeyPrefix)
		case "CACHE_MIDDLEWARE_ALIAS":
			err = unmarshalString(raw, &s.CacheMiddlewareAlias)
		case "USE_I18N":
			if !isNull {
				var b bool
				err = json.Unmarshal(raw, &b)
				s.UseI18N = &b
			}
		case "LANGUAGE_CODE":
			err = unmarshalString(raw, &s.LanguageCode)
		case "SECURE_PROXY_SSL_HEADER":
			if !isNull {
				var pair []string
				if err = json.Unmarshal(raw, &pair); err == nil && len(pair) != 2 {
					err = errors.New("must be a tuple containing two values")
				}
				if err == nil {
					s.SecureProxySSLHeader = [2]string{pair[0], pair[1]}
				}
			}
		case "USE_X_FORWARDED_HOST":
			if !isNull {
				err = json.Unmarshal(raw, &s.UseXForwardedHost)
			}
		case "DJANGO_VERSION":
			err = unmarshalString(raw, &s.DjangoVersion)
		}
		if err != nil {
			return nil, fmt.Errorf("httpcache: settings: %s: %v", name, err)
		}
	}
	if tzNull && s.useTZ() {
		return nil, errors.New("httpcache: settings: TIME_ZONE: null (the system's zone) cannot name the page keys' time zone: give the zone's name, such as \"Europe/Paris\"")
	}
	if err := s.validate(); err != nil {
		return nil, err
	}
	if _, ok := caches["CACHES"]; ok {
		b, err := json.Marshal(caches)
		if err != nil {
			return nil, fmt.Errorf("httpcache: settings: %v", err)
		}
		if s.Caches, err = djcache.ParseSettings(b); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func unmarshalString(raw json.RawMessage, dst *string) error {
	if string(bytes.TrimSpace(raw)) == "null" {
		return nil
	}
	return json.Unmarshal(raw, dst)
}
