package httpcache

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/djcache/djcache"
)

// The heads of Django's keys (django/utils/cache.py).
const (
	headerKeyHead = "views.decorators.cache.cache_header."
	pageKeyHead   = "views.decorators.cache.cache_page."
	fragmentHead  = "template.cache."
)

// md5 of nothing: the header-values hash of a page that varies on nothing.
const emptyMD5 = "d41d8cd98f00b204e9800998ecf8427e"

// absentMarker is what Django 5.2 (and Debian's 3.2.25) hash for a learned
// header the request does not carry.
const absentMarker = "-,"

func md5hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// GetCacheKey is Django's get_cache_key: the key of the page cached for r
// under method ("GET" or "HEAD"; "" means "GET"), made from the list of
// request headers that r's URL was last learned to vary on (stored under
// the URL's header key by [LearnCacheKey] or by Django). It returns "" and
// a nil error when no list is stored, which means no page is cached for
// the URL. The key is the caller's key, before c's KEY_PREFIX and version
// are applied, as in Django.
//
// The key prefix is [KeyPrefix]'s, else the settings' (given by
// [WithSettings]) CACHE_MIDDLEWARE_KEY_PREFIX; c nil means the cache of
// [FromCaches]'s alias, else of the settings' CACHE_MIDDLEWARE_ALIAS.
func GetCacheKey(ctx context.Context, c *djcache.Cache, r *http.Request, method string, opts ...Option) (string, error) {
	k, c, err := keysFor(c, opts)
	if err != nil {
		return "", err
	}
	if method == "" {
		method = http.MethodGet
	}
	uri := k.absoluteURI(r)
	suffix := k.suffix(r)
	list, found, err := k.headerList(ctx, c, uri, suffix)
	if err != nil || !found {
		return "", err
	}
	return k.pageKey(r, method, uri, list, suffix), nil
}

// LearnCacheKey is Django's learn_cache_key: it stores, under r's header
// key and for timeout, the list of request headers that the response with
// header h varies on (Django's form: "HTTP_" and the upper-cased name with
// "-" as "_", sorted; with USE_I18N, Accept-Language is left out since the
// language is in the key), and returns the key of the page for r's method.
// With the pickle serializer the list is written as Django writes it, a
// pickled list of str. timeout is the entry's lifetime, with djcache's
// meaning of 0 (nothing stays cached). Options as for [GetCacheKey].
func LearnCacheKey(ctx context.Context, c *djcache.Cache, r *http.Request, h http.Header, timeout time.Duration, opts ...Option) (string, error) {
	k, c, err := keysFor(c, opts)
	if err != nil {
		return "", err
	}
	return k.learn(ctx, c, r, h, timeout)
}

// learn is LearnCacheKey.
func (k *keys) learn(ctx context.Context, c *djcache.Cache, r *http.Request, h http.Header, timeout time.Duration) (string, error) {
	uri := k.absoluteURI(r)
	suffix := k.suffix(r)
	list := k.learnHeaderList(h)
	if err := c.Set(ctx, k.headerKey(uri, suffix), list, djcache.Timeout(timeout)); err != nil {
		return "", err
	}
	return k.pageKey(r, r.Method, uri, list, suffix), nil
}

// Purge removes the page cached for r, as a Go service or a Django
// application stored it: the pages for GET and HEAD under the header list
// stored for r's URL, and the list itself. It reports whether a page was
// removed. Other variants of the page (the same URL requested with other
// values of the headers it varies on) stay until they expire: Django's
// keys hash those values, so they cannot be listed. Options as for
// [GetCacheKey].
func Purge(ctx context.Context, c *djcache.Cache, r *http.Request, opts ...Option) (bool, error) {
	k, c, err := keysFor(c, opts)
	if err != nil {
		return false, err
	}
	uri := k.absoluteURI(r)
	suffix := k.suffix(r)
	list, found, err := k.headerList(ctx, c, uri, suffix)
	if err != nil || !found {
		return false, err
	}
	get := k.pageKey(r, http.MethodGet, uri, list, suffix)
	head := k.pageKey(r, http.MethodHead, uri, list, suffix)
	hits := 0
	for _, key := range []string{get, head} {
		ok, err := c.Has(ctx, key)
		if err != nil {
			return false, err
		}
		if ok {
			hits++
		}
	}
	if err := c.DeleteMany(ctx, []string{get, head, k.headerKey(uri, suffix)}); err != nil {
		return false, err
	}
	return hits > 0, nil
}

// MakeTemplateFragmentKey is Django's make_template_fragment_key: the key
// of a fragment cached by the {% cache %} template tag,
// "template.cache.NAME.MD5", the md5 being over each of varyOn written as
// Python's str() writes it, followed by ":". Strings, integers, bools (True,
// False), nil (None), floats (Python's repr: 1.0, 1e+16, inf, nan) and
// fmt.Stringer values are written as Python writes the equivalent value;
// other values as fmt.Sprint writes them.
func MakeTemplateFragmentKey(name string, varyOn ...any) string {
	h := md5.New()
	for _, v := range varyOn {
		h.Write([]byte(pyStr(v)))
		h.Write([]byte{':'})
	}
	return fragmentHead + name + "." + hex.EncodeToString(h.Sum(nil))
}

// pyStr is Python's str() of the value a Go value stands for.
func pyStr(v any) string {
	switch x := v.(type) {
	case nil:
		return "None"
	case string:
		return x
	case bool:
		if x {
			return "True"
		}
		return "False"
	case int:
		return strconv.Itoa(x)
	case int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, uintptr:
		return fmt.Sprint(x)
	case float64:
		return pyFloat(x)
	case float32:
		return pyFloat(float64(x))
	case fmt.Stringer:
		return x.String()
	}
	return fmt.Sprint(v)
}

// pyFloat is Python's repr() of a float: the shortest digits that read
// back, in fixed notation for exponents -4 to 15 (with ".0" when whole),
// else d.ddde±XX.
func pyFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case math.IsNaN(f):
		return "nan"
	}
	e := strconv.FormatFloat(f, 'e', -1, 64) // -d.ddde±XX
	mant, exps, _ := strings.Cut(e, "e")
	exp, _ := strconv.Atoi(exps)
	neg := strings.HasPrefix(mant, "-")
	mant = strings.TrimPrefix(mant, "-")
	digits := strings.Replace(mant, ".", "", 1)
	var out string
	if exp < -4 || exp >= 16 {
		out = digits[:1]
		if len(digits) > 1 {
			out += "." + digits[1:]
		}
		sign := "+"
		if exp < 0 {
			sign, exp = "-", -exp
		}
		es := strconv.Itoa(exp)
		if len(es) < 2 {
			es = "0" + es
		}
		out += "e" + sign + es
	} else if exp < 0 {
		out = "0." + strings.Repeat("0", -exp-1) + digits
	} else if len(digits) <= exp+1 {
		out = digits + strings.Repeat("0", exp+1-len(digits)) + ".0"
	} else {
		out = digits[:exp+1] + "." + digits[exp+1:]
	}
	if neg {
		out = "-" + out
	}
	return out
}

// keys makes Django's keys for requests under one configuration.
type keys struct {
	prefix   string // the middleware's key prefix
	set      *Settings
	language func(*http.Request) string
	timeZone func(*http.Request) string
}

// keysFor builds the key maker of opts and resolves the cache.
func keysFor(c *djcache.Cache, opts []Option) (*keys, *djcache.Cache, error) {
	cfg := newConfig(opts)
	k := cfg.keys()
	if c != nil {
		return k, c, nil
	}
	c, err := cfg.cache()
	return k, c, err
}

func (k *keys) headerKey(uri, suffix string) string {
	return headerKeyHead + k.prefix + "." + md5hex(uri) + suffix
}

// headerList reads the list of request headers stored for the URL.
func (k *keys) headerList(ctx context.Context, c *djcache.Cache, uri, suffix string) ([]string, bool, error) {
	var list []string
	found, err := c.Get(ctx, k.headerKey(uri, suffix), &list)
	if err != nil {
		return nil, false, err
	}
	return list, found, nil
}

// learnHeaderList is learn_cache_key's list of the headers a response with
// header h varies on.
func (k *keys) learnHeaderList(h http.Header) []string {
	vary, ok := headerValue(h, "Vary")
	if !ok {
		return []string{}
	}
	i18n := k.set.useI18N()
	var list []string
	for _, name := range splitDirectives(vary) {
		name = strings.ReplaceAll(strings.ToUpper(name), "-", "_")
		if name != "ACCEPT_LANGUAGE" || !i18n {
			list = append(list, "HTTP_"+name)
		}
	}
	sortStrings(list)
	if list == nil {
		list = []string{}
	}
	return list
}

// sortStrings sorts as Python sorts a list of str: by code point, which
// for valid UTF-8 is byte order.
func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// pageKey is Django's _generate_cache_key.
func (k *keys) pageKey(r *http.Request, method, uri string, list []string, suffix string) string {
	h := md5.New()
	marker := k.set.absentMarker()
	for _, name := range list {
		v, ok := metaValue(r, name)
		if !ok {
			if marker {
				h.Write([]byte(absentMarker))
			}
			continue
		}
		h.Write([]byte(v))
	}
	return pageKeyHead + k.prefix + "." + method + "." + md5hex(uri) + "." + hex.EncodeToString(h.Sum(nil)) + suffix
}

// suffix is _i18n_cache_key_suffix: ".LANGUAGE" with USE_I18N, then
// ".TIME_ZONE" with USE_TZ.
func (k *keys) suffix(r *http.Request) string {
	var s string
	if k.set.useI18N() {
		lang := ""
		if k.language != nil {
			lang = k.language(r)
		}
		if lang == "" {
			lang = k.set.languageCode()
		}
		s += "." + lang
	}
	if k.set.useTZ() {
		tz := ""
		if k.timeZone != nil {
			tz = k.timeZone(r)
		}
		if tz == "" {
			tz = k.set.timeZoneName()
		} else {
			tz = zoneName(tz)
		}
		s += "." + tz
	}
	return s
}

// metaValue is request.META.get(name).encode() for a META name of a
// learned header list: "HTTP_ACCEPT_ENCODING" is the Accept-Encoding
// header, its field lines joined by "," as WSGI servers join them, its
// bytes read as Latin-1 as PEP 3333 has servers read them and encoded in
// UTF-8 as Django's str.encode() does. HTTP_HOST is r.Host. Names without
// "HTTP_", and HTTP_CONTENT_TYPE and HTTP_CONTENT_LENGTH (WSGI servers
// name those headers CONTENT_TYPE and CONTENT_LENGTH), are never present.
func metaValue(r *http.Request, name string) (string, bool) {
	field, ok := strings.CutPrefix(name, "HTTP_")
	if !ok || field == "CONTENT_TYPE" || field == "CONTENT_LENGTH" || field == "" {
		return "", false
	}
	if field == "HOST" {
		if r.Host == "" {
			return "", false
		}
		return latin1ToUTF8(r.Host), true
	}
	vals := r.Header.Values(strings.ReplaceAll(field, "_", "-"))
	if len(vals) == 0 {
		return "", false
	}
	return latin1ToUTF8(strings.Join(vals, ",")), true
}

// latin1ToUTF8 reads s's bytes as Latin-1 characters and writes them in
// UTF-8.
func latin1ToUTF8(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		return s
	}
	b := make([]byte, 0, len(s)*2)
	for i := 0; i < len(s); i++ {
		b = utf8.AppendRune(b, rune(s[i]))
	}
	return string(b)
}

// headerValue is Django's response.get(name) for a Go header: the field
// lines joined by ", ", and whether there is any.
func headerValue(h http.Header, name string) (string, bool) {
	vals := h.Values(name)
	if len(vals) == 0 {
		return "", false
	}
	if len(vals) == 1 {
		return vals[0], true
	}
	return strings.Join(vals, ", "), true
}

// absoluteURI is request.build_absolute_uri() as Django computes it under
// a WSGI server.
func (k *keys) absoluteURI(r *http.Request) string {
	path := r.URL.Path
	if path == "" {
		path = "/"
	}
	esc := escapeURIPath(path)
	query := ""
	if q := r.URL.RawQuery; q != "" {
		query = pyQuote(latin1ToUTF8(q), iriSafe)
	}
	if strings.Contains(esc, "/./") || strings.Contains(esc, "/../") {
		esc = removeDotSegments(esc)
	}
	u := k.scheme(r) + "://" + k.host(r) + esc
	if query != "" {
		u += "?" + query
	}
	return pyQuote(u, iriSafe)
}

// scheme is request.scheme: "https" under TLS, or as
// SECURE_PROXY_SSL_HEADER says.
func (k *keys) scheme(r *http.Request) string {
	if name, want := k.set.secureProxyHeader(); name != "" {
		if v, ok := metaValue(r, name); ok {
			if k.set.version() != v32 {
				// Django 4.1 and later read the first of a list.
				v, _, _ = strings.Cut(v, ",")
				v = strings.TrimSpace(v)
			}
			if v == want {
				return "https"
			}
			return "http"
		}
	}
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

// host is request.get_host(), without Django's ALLOWED_HOSTS check.
func (k *keys) host(r *http.Request) string {
	if k.set != nil && k.set.UseXForwardedHost {
		if v := r.Header.Values("X-Forwarded-Host"); len(v) > 0 {
			return latin1ToUTF8(strings.Join(v, ","))
		}
	}
	return latin1ToUTF8(r.Host)
}

// removeDotSegments resolves "." and ".." as Python's urljoin does for
// build_absolute_uri when the path holds "/./" or "/../".
func removeDotSegments(p string) string {
	segs := strings.Split(p, "/")
	var out []string
	for _, s := range segs {
		switch s {
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		case ".":
		default:
			out = append(out, s)
		}
	}
	if last := segs[len(segs)-1]; last == "." || last == ".." {
		out = append(out, "")
	}
	res := strings.Join(out, "/")
	if !strings.HasPrefix(res, "/") {
		res = "/" + res
	}
	return res
}

// Python's urllib.parse.quote safe sets, as Django passes them.
const (
	alwaysSafe = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~"
	pathSafe   = "/:@&+$,-_.!~*'()"     // escape_uri_path
	iriSafe    = "/#%[]=:;$&()+,!?*@'~" // iri_to_uri
	hexUpper   = "0123456789ABCDEF"
)

// pyQuote is urllib.parse.quote(s, safe) for a valid UTF-8 s: every byte
// of the UTF-8 form that is neither always safe nor in safe becomes %XX.
func pyQuote(s, safe string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x80 && (strings.IndexByte(alwaysSafe, c) >= 0 || strings.IndexByte(safe, c) >= 0) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexUpper[c>>4])
		b.WriteByte(hexUpper[c&15])
	}
	return b.String()
}

// escapeURIPath is Django's escape_uri_path of the path a WSGI server
// passes: the request's decoded path, in which a byte that is not part of
// valid UTF-8 was first written as "%XX" by repercent_broken_unicode
// (so it ends as "%25XX").
func escapeURIPath(p string) string {
	if utf8.ValidString(p) {
		return pyQuote(p, pathSafe)
	}
	var b strings.Builder
	for len(p) > 0 {
		r, n := utf8.DecodeRuneInString(p)
		if r == utf8.RuneError && n == 1 {
			b.WriteString("%25")
			b.WriteByte(hexUpper[p[0]>>4])
			b.WriteByte(hexUpper[p[0]&15])
		} else {
			b.WriteString(pyQuote(p[:n], pathSafe))
		}
		p = p[n:]
	}
	return b.String()
}
