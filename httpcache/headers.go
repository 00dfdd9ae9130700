package httpcache

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// splitDirectives is Python's re.split(r"\s*,\s*", s): the commas and
// the white space around them separate the items; white space at the
// ends of s stays.
func splitDirectives(s string) []string {
	parts := strings.Split(s, ",")
	for i := range parts {
		if i > 0 {
			parts[i] = strings.TrimLeftFunc(parts[i], unicode.IsSpace)
		}
		if i < len(parts)-1 {
			parts[i] = strings.TrimRightFunc(parts[i], unicode.IsSpace)
		}
	}
	return parts
}

// ccValue is a Cache-Control directive's value: bare (Python's True) or
// text.
type ccValue struct {
	bare bool
	text string
}

func (v ccValue) format(name string) string {
	if v.bare {
		return name
	}
	return name + "=" + v.text
}

// ccDirectives is Django's dict of directives: in insertion order, and
// no-cache holding several values.
type ccDirectives struct {
	names []string
	vals  map[string][]ccValue
}

func (d *ccDirectives) has(name string) bool { _, ok := d.vals[name]; return ok }

func (d *ccDirectives) set(name string, v ccValue) {
	if !d.has(name) {
		d.names = append(d.names, name)
	}
	if name == "no-cache" {
		for _, old := range d.vals[name] {
			if old == v {
				return // a set
			}
		}
		d.vals[name] = append(d.vals[name], v)
		return
	}
	d.vals[name] = []ccValue{v}
}

func (d *ccDirectives) del(name string) {
	delete(d.vals, name)
	for i, n := range d.names {
		if n == name {
			d.names = append(d.names[:i], d.names[i+1:]...)
			return
		}
	}
}

// parseDirective is Django's dictitem: the name lower-cased, the value as
// written (bare without "=").
func parseDirective(field string) (string, ccValue) {
	name, val, ok := strings.Cut(field, "=")
	if !ok {
		return strings.ToLower(name), ccValue{bare: true}
	}
	return strings.ToLower(name), ccValue{text: val}
}

// PatchCacheControl is Django's patch_cache_control: it adds directives to
// h's Cache-Control. Each directive is "name" (Django's name=True) or
// "name=value"; names are lower-cased with "_" turned into "-", so
// "max_age=60" and "max-age=60" are the same. Django's rules apply:
//
//   - existing directives keep their place and values unless replaced;
//     new ones follow in the order given;
//   - a new max-age keeps the smaller of the old and the new value;
//   - public removes private and private removes public;
//   - no-cache collects several field names ("no-cache=Set-Cookie"), and
//     a bare no-cache wins over them.
//
// Django writes several no-cache field names in Python's set order, which
// changes from process to process; this function keeps the order in which
// they came.
func PatchCacheControl(h http.Header, directives ...string) {
	d := &ccDirectives{vals: map[string][]ccValue{}}
	if cc, ok := headerValue(h, "Cache-Control"); ok && cc != "" {
		for _, field := range splitDirectives(cc) {
			name, v := parseDirective(field)
			d.set(name, v)
		}
	}
	type kw struct {
		name string
		v    ccValue
	}
	var kws []kw
	given := map[string]bool{}
	for _, s := range directives {
		name, v := parseDirective(s)
		name = strings.ReplaceAll(name, "_", "-")
		given[name] = true
		kws = append(kws, kw{name, v})
	}
	if given["max-age"] && d.has("max-age") {
		old, okOld := pyIntValue(d.vals["max-age"][0])
		for i := range kws {
			if kws[i].name != "max-age" {
				continue
			}
			if nv, okNew := pyIntValue(kws[i].v); okOld && okNew {
				kws[i].v = ccValue{text: strconv.FormatInt(min(old, nv), 10)}
			}
		}
	}
	if d.has("private") && given["public"] {
		d.del("private")
	} else if d.has("public") && given["private"] {
		d.del("public")
	}
	for _, k := range kws {
		d.set(k.name, k.v)
	}
	var out []string
	for _, name := range d.names {
		vals := d.vals[name]
		for _, v := range vals {
			if v.bare {
				vals = []ccValue{v}
				break
			}
		}
		for _, v := range vals {
			out = append(out, v.format(name))
		}
	}
	h.Set("Cache-Control", strings.Join(out, ", "))
}

// pyIntValue is Python's int() of a directive's value (int(True) is 1).
func pyIntValue(v ccValue) (int64, bool) {
	if v.bare {
		return 1, true
	}
	return pyInt(v.text)
}

// pyInt is Python's int(s) for a str: white space around, an optional
// sign, decimal digits with single underscores between them.
func pyInt(s string) (int64, bool) {
	s = strings.TrimFunc(s, unicode.IsSpace)
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	if s == "" || s[0] == '_' || s[len(s)-1] == '_' || strings.Contains(s, "__") {
		return 0, false
	}
	s = strings.ReplaceAll(s, "_", "")
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || strings.ContainsAny(s, "+-") {
		return 0, false
	}
	if neg {
		n = -n
	}
	return n, true
}

// getMaxAge is Django's get_max_age: the max-age of h's Cache-Control (the
// last one if several), and false if there is none or it is not an
// integer.
func getMaxAge(h http.Header) (int64, bool) {
	cc, ok := headerValue(h, "Cache-Control")
	if !ok {
		return 0, false
	}
	var last ccValue
	found := false
	for _, field := range splitDirectives(cc) {
		if name, v := parseDirective(field); name == "max-age" {
			last, found = v, true
		}
	}
	if !found {
		return 0, false
	}
	return pyIntValue(last)
}

// PatchVaryHeaders is Django's patch_vary_headers: it adds the header
// names to h's Vary, keeping those already there and their order, and
// skipping names already present (compared case-insensitively). If "*" is
// among them, Vary becomes "*".
func PatchVaryHeaders(h http.Header, names ...string) {
	var vary []string
	if v, ok := headerValue(h, "Vary"); ok {
		vary = splitDirectives(v)
	}
	existing := map[string]bool{}
	for _, v := range vary {
		existing[strings.ToLower(v)] = true
	}
	for _, n := range names {
		if !existing[strings.ToLower(n)] {
			vary = append(vary, n)
		}
	}
	for _, v := range vary {
		if v == "*" {
			h.Set("Vary", "*")
			return
		}
	}
	h.Set("Vary", strings.Join(vary, ", "))
}

// hasVaryHeader is Django's has_vary_header (Django 3.2 also strips each
// name).
func hasVaryHeader(h http.Header, name string, strip bool) bool {
	v, ok := headerValue(h, "Vary")
	if !ok {
		return false
	}
	name = strings.ToLower(name)
	if strip {
		name = strings.TrimFunc(name, unicode.IsSpace)
	}
	for _, item := range splitDirectives(v) {
		item = strings.ToLower(item)
		if strip {
			item = strings.TrimFunc(item, unicode.IsSpace)
		}
		if item == name {
			return true
		}
	}
	return false
}

// PatchResponseHeaders is Django's patch_response_headers: it sets Expires
// to now plus timeout (whole seconds; a negative timeout counts as 0)
// unless h has Expires, and patches Cache-Control with max-age=timeout
// (keeping a smaller max-age already there).
func PatchResponseHeaders(h http.Header, timeout time.Duration) {
	patchResponseHeaders(h, timeout, time.Now())
}

func patchResponseHeaders(h http.Header, timeout time.Duration, now time.Time) {
	secs := max(seconds(timeout), 0)
	if _, ok := h["Expires"]; !ok {
		h.Set("Expires", httpDate(now.Unix()+secs))
	}
	PatchCacheControl(h, "max-age="+strconv.FormatInt(secs, 10))
}

// AddNeverCacheHeaders is Django's add_never_cache_headers: Expires now
// (unless set) and Cache-Control with max-age=0, no-cache, no-store,
// must-revalidate and private, so that no cache keeps the response.
func AddNeverCacheHeaders(h http.Header) {
	patchResponseHeaders(h, 0, time.Now())
	PatchCacheControl(h, "no-cache", "no-store", "must-revalidate", "private")
}

// httpDate is Django's http_date of a Unix time.
func httpDate(unix int64) string { return time.Unix(unix, 0).UTC().Format(http.TimeFormat) }

// parseHTTPDate is parse_http_date_safe: the Unix time, or false.
func parseHTTPDate(s string) (int64, bool) {
	t, err := http.ParseTime(s)
	if err != nil {
		return 0, false
	}
	return t.Unix(), true
}

var etagRE = regexp.MustCompile(`\A((?:W/)?"[^"]*")\z`)

// parseETags is Django's parse_etags.
func parseETags(s string) []string {
	if strings.TrimSpace(s) == "*" {
		return []string{"*"}
	}
	var tags []string
	for _, part := range strings.Split(s, ",") {
		if m := etagRE.FindStringSubmatch(strings.TrimSpace(part)); m != nil {
			tags = append(tags, m[1])
		}
	}
	return tags
}

// Outcomes of conditionalStatus.
const (
	condNone        = 0
	condNotModified = http.StatusNotModified
	condFailed      = http.StatusPreconditionFailed
)

// conditionalStatus is Django's get_conditional_response for a response
// with headers h: 304, 412, or condNone for the response itself. It
// evaluates If-Match, If-Unmodified-Since, If-None-Match and
// If-Modified-Since in the order of RFC 9110, section 13.2.2.
func conditionalStatus(r *http.Request, h http.Header) int {
	etag := h.Get("ETag")
	var lastModified int64
	if lm := h.Get("Last-Modified"); lm != "" {
		lastModified, _ = parseHTTPDate(lm)
	}
	ifMatch := parseETags(r.Header.Get("If-Match"))
	ifNoneMatch := parseETags(r.Header.Get("If-None-Match"))
	var ius, ims int64
	if v := r.Header.Get("If-Unmodified-Since"); v != "" {
		ius, _ = parseHTTPDate(v)
	}
	if v := r.Header.Get("If-Modified-Since"); v != "" {
		ims, _ = parseHTTPDate(v)
	}
	safe := r.Method == http.MethodGet || r.Method == http.MethodHead
	// 1. If-Match.
	if len(ifMatch) > 0 && !ifMatchPasses(etag, ifMatch) {
		return condFailed
	}
	// 2. If-Unmodified-Since.
	if len(ifMatch) == 0 && ius != 0 && !(lastModified != 0 && lastModified <= ius) {
		return condFailed
	}
	// 3. If-None-Match.
	if len(ifNoneMatch) > 0 && !ifNoneMatchPasses(etag, ifNoneMatch) {
		if safe {
			return condNotModified
		}
		return condFailed
	}
	// 4. If-Modified-Since.
	if len(ifNoneMatch) == 0 && ims != 0 && !(lastModified == 0 || lastModified > ims) && safe {
		return condNotModified
	}
	return condNone
}

func ifMatchPasses(etag string, tags []string) bool {
	switch {
	case etag == "":
		return false
	case len(tags) == 1 && tags[0] == "*":
		return true
	case strings.HasPrefix(etag, "W/"):
		return false
	}
	for _, t := range tags {
		if t == etag {
			return true
		}
	}
	return false
}

func ifNoneMatchPasses(etag string, tags []string) bool {
	switch {
	case etag == "":
		return true
	case len(tags) == 1 && tags[0] == "*":
		return false
	}
	etag = strings.Trim(etag, "W/")
	for _, t := range tags {
		if strings.Trim(t, "W/") == etag {
			return false
		}
	}
	return true
}

// notModifiedHeaders are the headers Django's 304 keeps (RFC 9110,
// section 15.4.5, and Last-Modified), and the cookies.
var notModifiedHeaders = []string{"Cache-Control", "Content-Location", "Date", "ETag", "Expires", "Last-Modified", "Vary", "Set-Cookie"}
