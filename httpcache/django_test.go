package httpcache

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/djcache/djcache"
	_ "github.com/djcache/djcache/backends/filebased"
	_ "github.com/djcache/djcache/backends/locmem"
	"github.com/djcache/djcache/internal/testenv"
	"github.com/djcache/djcache/pickle"
)

// The Django releases the keys are checked against: Debian's 3.2 under
// /usr/bin/python3 (or DJCACHE_PYTHON), 4.2 and 5.2 in the virtual
// environments that .ci/services makes under DJCACHE_VENVS (default
// /opt/djcache-venvs), as package interop uses them.
var djangoReleases = []struct{ version, venv string }{
	{"3.2", ""},
	{"4.2", "django42"},
	{"5.2", "django52"},
}

func djangoPython(venv string) string {
	if venv == "" {
		if p := os.Getenv("DJCACHE_PYTHON"); p != "" {
			return p
		}
		return "/usr/bin/python3"
	}
	dir := os.Getenv("DJCACHE_VENVS")
	if dir == "" {
		dir = "/opt/djcache-venvs"
	}
	return filepath.Join(dir, venv, "bin", "python")
}

// A keyCase is a request as it comes over the wire, and the Vary header of
// its response.
type keyCase struct {
	Name     string      `json:"-"`
	Method   string      `json:"method"`
	Path     string      `json:"path"`  // percent-encoded, ASCII
	Query    string      `json:"query"` // raw bytes (sent to Python as Latin-1 text)
	Host     string      `json:"host"`
	Secure   bool        `json:"secure"`
	Headers  [][2]string `json:"headers"` // raw bytes (sent as Latin-1 text)
	Vary     *string     `json:"vary"`
	Language *string     `json:"language"`
	TimeZone *string     `json:"timezone"`
}

func str(s string) *string { return &s }

// request parses the case as net/http's server does.
func (kc keyCase) request(t *testing.T) *http.Request {
	t.Helper()
	var b strings.Builder
	target := kc.Path
	if kc.Query != "" {
		target += "?" + kc.Query
	}
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", kc.Method, target, kc.Host)
	for _, h := range kc.Headers {
		fmt.Fprintf(&b, "%s: %s\r\n", h[0], h[1])
	}
	b.WriteString("\r\n")
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(b.String())))
	if err != nil {
		t.Fatalf("%s: reading %q: %v", kc.Name, b.String(), err)
	}
	if kc.Secure {
		r.TLS = &tls.ConnectionState{}
	}
	return r
}

// forPython is the case with raw bytes as Latin-1 text, as a WSGI server
// gives them to Django.
func (kc keyCase) forPython() keyCase {
	kc.Query = latin1Text(kc.Query)
	hs := make([][2]string, len(kc.Headers))
	for i, h := range kc.Headers {
		hs[i] = [2]string{h[0], latin1Text(h[1])}
	}
	kc.Headers = hs
	return kc
}

func latin1Text(s string) string {
	r := make([]rune, len(s))
	for i := 0; i < len(s); i++ {
		r[i] = rune(s[i])
	}
	return string(r)
}

// keyCases are the requests every settings group is checked with.
var keyCases = []keyCase{
	{Name: "query a=1", Method: "GET", Path: "/view/", Query: "a=1", Host: "testserver"},
	{Name: "query a=2", Method: "GET", Path: "/view/", Query: "a=2", Host: "testserver"},
	{Name: "root", Method: "GET", Path: "/", Host: "testserver"},
	{Name: "HEAD accept-encoding", Method: "HEAD", Path: "/view/", Query: "a=1", Host: "testserver",
		Headers: [][2]string{{"Accept-Encoding", "gzip, deflate"}}, Vary: str("Accept-Encoding")},
	{Name: "cookie", Method: "GET", Path: "/p", Host: "testserver",
		Headers: [][2]string{{"Cookie", "a=1; b=2"}}, Vary: str("Cookie")},
	{Name: "cookie absent", Method: "GET", Path: "/p", Host: "testserver", Vary: str("Cookie")},
	{Name: "accept-encoding empty", Method: "GET", Path: "/p", Host: "testserver",
		Headers: [][2]string{{"Accept-Encoding", ""}}, Vary: str("Accept-Encoding")},
	{Name: "several", Method: "GET", Path: "/p", Query: "x=1&y=2", Host: "testserver",
		Headers: [][2]string{{"Accept-Encoding", "br"}, {"Cookie", "s=1"}, {"Accept-Language", "de-DE,de;q=0.9"}, {"User-Agent", "Go"}},
		Vary:    str("Accept-Encoding, Cookie, Accept-Language, User-Agent")},
	{Name: "several, some absent", Method: "GET", Path: "/p", Host: "testserver",
		Headers: [][2]string{{"User-Agent", "Go"}}, Vary: str("Cookie, User-Agent, Accept-Encoding")},
	{Name: "accept-language only", Method: "GET", Path: "/p", Host: "testserver",
		Headers: [][2]string{{"Accept-Language", "fr"}}, Vary: str("accept-language")},
	{Name: "repeated header", Method: "GET", Path: "/p", Host: "testserver",
		Headers: [][2]string{{"X-Custom", "one"}, {"X-Custom", "two"}}, Vary: str("X-Custom")},
	{Name: "odd spacing", Method: "GET", Path: "/p", Host: "testserver",
		Headers: [][2]string{{"Cookie", "c"}, {"Accept-Encoding", "gzip"}}, Vary: str("Cookie ,  Accept-Encoding")},
	{Name: "vary host", Method: "GET", Path: "/p", Host: "example.com:8080", Vary: str("Host")},
	{Name: "vary content-type", Method: "GET", Path: "/p", Host: "testserver",
		Headers: [][2]string{{"Content-Type", "text/plain"}}, Vary: str("Content-Type")},
	{Name: "vary star", Method: "GET", Path: "/p", Host: "testserver", Vary: str("*")},
	{Name: "latin-1 header value", Method: "GET", Path: "/p", Host: "testserver",
		Headers: [][2]string{{"X-Name", "\xc3\xa9t\xe9"}}, Vary: str("X-Name")},
	{Name: "underscore header", Method: "GET", Path: "/p", Host: "testserver",
		Headers: [][2]string{{"X_Foo", "1"}}, Vary: str("X-Foo")},
	{Name: "escaped path", Method: "GET", Path: "/caf%C3%A9/a%20b/%7Euser/x%2Fy/;p=1/@:$!'()*+,", Host: "testserver"},
	{Name: "broken utf-8 path", Method: "GET", Path: "/bad%FF/%E2%82/ok", Host: "testserver"},
	{Name: "percent in path", Method: "GET", Path: "/100%25/", Host: "testserver"},
	{Name: "dot segments", Method: "GET", Path: "/a/../b/./c", Query: "x=1", Host: "testserver"},
	{Name: "dot segments above root", Method: "GET", Path: "/a/../../b/..", Host: "testserver"},
	{Name: "double slash", Method: "GET", Path: "//double/", Host: "testserver"},
	{Name: "raw query bytes", Method: "GET", Path: "/s", Query: "q=\xc3\xa9&r=a\"b<c>{d}|e^f`g\\h&%zz&x=%41", Host: "testserver"},
	{Name: "https", Method: "GET", Path: "/s", Query: "a=1", Host: "secure.example", Secure: true},
	{Name: "host with port", Method: "GET", Path: "/s", Host: "example.com:8080"},
}

// keyGroup is a set of Django settings and the cases run under them.
type keyGroup struct {
	Name     string         `json:"-"`
	Settings map[string]any `json:"settings"`
	Prefix   string         `json:"prefix"`
	Cases    []keyCase      `json:"cases"`
}

// settingsFor is the Go side of a group's settings.
func (g keyGroup) settingsFor(version string) *Settings {
	s := &Settings{DjangoVersion: version}
	if v, ok := g.Settings["USE_I18N"].(bool); ok {
		s.UseI18N = &v
	}
	if v, ok := g.Settings["USE_TZ"].(bool); ok {
		s.UseTZ = &v
	}
	if v, ok := g.Settings["LANGUAGE_CODE"].(string); ok {
		s.LanguageCode = v
	}
	if v, ok := g.Settings["TIME_ZONE"].(string); ok {
		s.TimeZone = v
	}
	if v, ok := g.Settings["SECURE_PROXY_SSL_HEADER"].([]string); ok {
		s.SecureProxySSLHeader = [2]string{v[0], v[1]}
	}
	if v, ok := g.Settings["USE_X_FORWARDED_HOST"].(bool); ok {
		s.UseXForwardedHost = v
	}
	return s
}

func keyGroups() []keyGroup {
	proxyCases := []keyCase{
		{Name: "proxied https", Method: "GET", Path: "/s", Host: "internal:8000",
			Headers: [][2]string{{"X-Forwarded-Proto", "https"}, {"X-Forwarded-Host", "shop.example"}}},
		{Name: "proxied list", Method: "GET", Path: "/s", Host: "internal:8000",
			Headers: [][2]string{{"X-Forwarded-Proto", "https, http"}}},
		{Name: "proxied http", Method: "GET", Path: "/s", Host: "internal:8000",
			Headers: [][2]string{{"X-Forwarded-Proto", "http"}}},
		{Name: "not proxied, TLS", Method: "GET", Path: "/s", Host: "internal:8000", Secure: true},
	}
	langCases := []keyCase{
		{Name: "default language", Method: "GET", Path: "/l", Host: "testserver"},
		{Name: "request language", Method: "GET", Path: "/l", Host: "testserver", Language: str("fr"),
			Headers: [][2]string{{"Accept-Language", "fr"}}, Vary: str("Accept-Language, Cookie")},
		{Name: "activated time zone", Method: "GET", Path: "/l", Host: "testserver", TimeZone: str("Asia/Tokyo")},
		{Name: "activated fixed zone", Method: "GET", Path: "/l", Host: "testserver", TimeZone: str("Etc/GMT-3")},
	}
	return []keyGroup{
		{Name: "i18n+tz", Settings: map[string]any{"USE_I18N": true, "LANGUAGE_CODE": "en-us", "USE_TZ": true, "TIME_ZONE": "UTC"}, Cases: keyCases},
		{Name: "plain", Settings: map[string]any{"USE_I18N": false, "USE_TZ": false}, Prefix: "site1", Cases: keyCases},
		{Name: "languages", Settings: map[string]any{"USE_I18N": true, "LANGUAGE_CODE": "de", "USE_TZ": true, "TIME_ZONE": "Europe/Paris"}, Prefix: "p", Cases: langCases},
		{Name: "fixed zones", Settings: map[string]any{"USE_I18N": false, "USE_TZ": true, "TIME_ZONE": "Etc/GMT+5"}, Cases: langCases[:1]},
		{Name: "etc utc", Settings: map[string]any{"USE_I18N": false, "USE_TZ": true, "TIME_ZONE": "Etc/UTC"}, Cases: langCases[:1]},
		{Name: "proxy", Settings: map[string]any{"USE_I18N": false, "USE_TZ": false,
			"SECURE_PROXY_SSL_HEADER": []string{"HTTP_X_FORWARDED_PROTO", "https"}, "USE_X_FORWARDED_HOST": true}, Cases: proxyCases},
	}
}

// fragmentCases are make_template_fragment_key's arguments.
var fragmentCases = []struct {
	name string
	args []any
}{
	{"a.fragment", nil},
	{"foo", []any{"abc"}},
	{"foo", []any{"abc:def"}},
	{"foo", []any{"abc", "def"}},
	{"sidebar", []any{42, -7, true, false, nil}},
	{"floats", []any{1.0, 0.1, 1e16, 1e15, 123456789.125, 1e-5, 0.0001, -2.5e-7, 1e22, 3.0e100}},
	{"spaces in name", []any{"ünïcödé", "😀"}},
}

func tagged(v any) []any {
	switch x := v.(type) {
	case nil:
		return []any{"none"}
	case string:
		return []any{"str", x}
	case bool:
		return []any{"bool", x}
	case int:
		return []any{"int", fmt.Sprint(x)}
	case float64:
		return []any{"float", fmt.Sprint(x)}
	}
	panic(fmt.Sprintf("untaggable %T", v))
}

type ccCase struct {
	Initial    *string  `json:"initial"`
	Directives []string `json:"directives"`
}

var ccCases = []ccCase{
	{nil, []string{"max-age=3600"}},
	{nil, []string{"public", "max-age=60"}},
	{str("private, max-age=100"), []string{"public"}},
	{str("public, max-age=100"), []string{"private", "max-age=50"}},
	{str("max-age=10"), []string{"max-age=300"}},
	{str("max-age=300"), []string{"max-age=10"}},
	{str("MAX-AGE=30, No-Transform"), []string{"max-age=60"}},
	{str("no-cache=Set-Cookie"), []string{"no-cache"}},
	{str("no-cache"), []string{"no-cache=Set-Cookie"}},
	{str("must-revalidate,  s-maxage=5 ,stale-if-error=9"), []string{"stale-while-revalidate=30"}},
	{str("public,"), []string{"immutable"}},
	{str("max-age"), []string{"max-age=0"}},
	{str(""), []string{"no-store"}},
}

var neverCases = []*string{nil, str("public, max-age=3600"), str("max-age=10, no-cache=Set-Cookie")}

type varyCase struct {
	Initial *string  `json:"initial"`
	Names   []string `json:"names"`
}

var varyCases = []varyCase{
	{nil, []string{"Cookie"}},
	{nil, []string{"Accept-Encoding", "Cookie"}},
	{str("Accept-Encoding"), []string{"accept-encoding", "Cookie"}},
	{str("Cookie,Accept-Language"), []string{"User-Agent"}},
	{str("Cookie"), []string{"*"}},
	{str(""), []string{"Cookie"}},
	{nil, []string{"Cookie", "Cookie"}},
}

var maxAgeCases = []string{"max-age=60", "public, max-age=0", "max-age=abc", "max-age= 12", "max-age=1_0", "max-age=5, max-age=7", "no-cache", "max-age"}

// djangoResult is the script's output.
type djangoResult struct {
	Version string `json:"version"`
	Groups  [][]struct {
		URI       string   `json:"uri"`
		HeaderKey string   `json:"header_key"`
		Before    *string  `json:"before"`
		Learned   string   `json:"learned"`
		Get       string   `json:"get"`
		Head      string   `json:"head"`
		List      []string `json:"list"`
		Pickle    string   `json:"pickle"`
	} `json:"groups"`
	Fragments    []string `json:"fragments"`
	CacheControl []string `json:"cache_control"`
	Never        []string `json:"never"`
	Vary         []string `json:"vary"`
	MaxAge       []*int64 `json:"max_age"`
}

var locmemSeq struct {
	mu sync.Mutex
	n  int
}

// newLocmem opens a locmem cache that no other test shares.
func newLocmem(t testing.TB, opts ...*djcache.Options) *djcache.Cache {
	t.Helper()
	locmemSeq.mu.Lock()
	locmemSeq.n++
	name := fmt.Sprintf("httpcache-test-%d-%d", os.Getpid(), locmemSeq.n)
	locmemSeq.mu.Unlock()
	c, err := djcache.Open("locmem://"+name, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestKeysMatchDjango computes Django's page-cache keys, header lists,
// fragment keys and header helpers with each installed Django release and
// with this package, for the same requests, and compares them byte for
// byte.
func TestKeysMatchDjango(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "testdata", "django_keys.py")
	groups := keyGroups()
	doc := map[string]any{}
	var pyGroups []keyGroup
	for _, g := range groups {
		pg := g
		pg.Cases = nil
		for _, kc := range g.Cases {
			pg.Cases = append(pg.Cases, kc.forPython())
		}
		pyGroups = append(pyGroups, pg)
	}
	doc["groups"] = pyGroups
	var frags [][]any
	for _, f := range fragmentCases {
		var args []any
		for _, a := range f.args {
			args = append(args, tagged(a))
		}
		if f.args == nil {
			frags = append(frags, []any{f.name, nil})
		} else {
			frags = append(frags, []any{f.name, args})
		}
	}
	doc["fragments"] = frags
	doc["cache_control"] = ccCases
	doc["never"] = neverCases
	doc["vary"] = varyCases
	doc["max_age"] = maxAgeCases
	input, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	for _, rel := range djangoReleases {
		t.Run("django"+strings.ReplaceAll(rel.version, ".", ""), func(t *testing.T) {
			python := djangoPython(rel.venv)
			out, err := exec.Command(python, "-c", "import django; print(django.get_version())").CombinedOutput()
			if err != nil || !strings.HasPrefix(string(out), rel.version+".") {
				testenv.Unavailable(t, "Django "+rel.version+" at "+python, fmt.Sprintf("%v: %s", err, bytes.TrimSpace(out)),
					"run .ci/services (it installs Debian's python3-django and makes the virtual environments of Django 4.2 and 5.2), or set DJCACHE_PYTHON / DJCACHE_VENVS")
				return
			}
			cmd := exec.Command(python, script)
			cmd.Stdin = bytes.NewReader(input)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			stdout, err := cmd.Output()
			if err != nil {
				t.Fatalf("%s: %v\n%s", script, err, stderr.String())
			}
			var res djangoResult
			if err := json.Unmarshal(stdout, &res); err != nil {
				t.Fatalf("%s printed %q: %v", script, stdout, err)
			}
			t.Logf("Django %s", res.Version)
			compareKeys(t, rel.version, groups, res)
			compareHelpers(t, res)
		})
	}
}

func compareKeys(t *testing.T, version string, groups []keyGroup, res djangoResult) {
	ctx := context.Background()
	c := newLocmem(t)
	for gi, g := range groups {
		s := g.settingsFor(version)
		for ci, kc := range g.Cases {
			want := res.Groups[gi][ci]
			name := g.Name + "/" + kc.Name
			r := kc.request(t)
			opts := []Option{WithSettings(s), KeyPrefix(g.Prefix),
				Language(func(*http.Request) string {
					if kc.Language != nil {
						return *kc.Language
					}
					return ""
				}),
				TimeZone(func(*http.Request) string {
					if kc.TimeZone != nil {
						return *kc.TimeZone
					}
					return ""
				}),
			}
			k := newConfig(opts).keys()
			if got := k.absoluteURI(r); got != want.URI {
				t.Errorf("%s: absolute URI %q, Django %q", name, got, want.URI)
			}
			if got := k.headerKey(k.absoluteURI(r), k.suffix(r)); got != want.HeaderKey {
				t.Errorf("%s: header key\n got %q\nwant %q", name, got, want.HeaderKey)
			}
			if err := c.Clear(ctx); err != nil {
				t.Fatal(err)
			}
			before, err := GetCacheKey(ctx, c, r, "GET", opts...)
			if err != nil || before != "" || want.Before != nil {
				t.Errorf("%s: key before learning %q, %v (Django %v)", name, before, err, want.Before)
			}
			resp := http.Header{}
			if kc.Vary != nil {
				resp.Set("Vary", *kc.Vary)
			}
			learned, err := LearnCacheKey(ctx, c, r, resp, time.Minute, opts...)
			if err != nil {
				t.Fatal(err)
			}
			if learned != want.Learned {
				t.Errorf("%s: learned key\n got %q\nwant %q", name, learned, want.Learned)
			}
			for _, m := range []struct{ method, want string }{{"GET", want.Get}, {"HEAD", want.Head}} {
				got, err := GetCacheKey(ctx, c, r, m.method, opts...)
				if err != nil || got != m.want {
					t.Errorf("%s: %s key\n got %q, %v\nwant %q", name, m.method, got, err, m.want)
				}
			}
			var list []string
			if _, err := c.Get(ctx, want.HeaderKey, &list); err != nil {
				t.Fatal(err)
			}
			if strings.Join(list, "|") != strings.Join(want.List, "|") || len(list) != len(want.List) {
				t.Errorf("%s: header list %q, Django %q", name, list, want.List)
			}
			p, err := pickle.Marshal(list)
			if err != nil {
				t.Fatal(err)
			}
			if hex.EncodeToString(p) != want.Pickle {
				t.Errorf("%s: pickled header list %x, Django %s", name, p, want.Pickle)
			}
		}
	}
}

func compareHelpers(t *testing.T, res djangoResult) {
	for i, f := range fragmentCases {
		if got := MakeTemplateFragmentKey(f.name, f.args...); got != res.Fragments[i] {
			t.Errorf("MakeTemplateFragmentKey(%q, %v) = %q, Django %q", f.name, f.args, got, res.Fragments[i])
		}
	}
	for i, cc := range ccCases {
		h := http.Header{}
		if cc.Initial != nil {
			h.Set("Cache-Control", *cc.Initial)
		}
		PatchCacheControl(h, cc.Directives...)
		if got := h.Get("Cache-Control"); got != res.CacheControl[i] {
			t.Errorf("PatchCacheControl(%v, %q) = %q, Django %q", ptr(cc.Initial), cc.Directives, got, res.CacheControl[i])
		}
	}
	for i, initial := range neverCases {
		h := http.Header{}
		if initial != nil {
			h.Set("Cache-Control", *initial)
		}
		AddNeverCacheHeaders(h)
		if got := h.Get("Cache-Control"); got != res.Never[i] {
			t.Errorf("AddNeverCacheHeaders(%v) = %q, Django %q", ptr(initial), got, res.Never[i])
		}
	}
	for i, vc := range varyCases {
		h := http.Header{}
		if vc.Initial != nil {
			h.Set("Vary", *vc.Initial)
		}
		PatchVaryHeaders(h, vc.Names...)
		if got := h.Get("Vary"); got != res.Vary[i] {
			t.Errorf("PatchVaryHeaders(%v, %q) = %q, Django %q", ptr(vc.Initial), vc.Names, got, res.Vary[i])
		}
	}
	for i, cc := range maxAgeCases {
		h := http.Header{"Cache-Control": {cc}}
		got, ok := getMaxAge(h)
		want := res.MaxAge[i]
		if ok != (want != nil) || ok && got != *want {
			t.Errorf("get_max_age(%q) = %d, %v; Django %v", cc, got, ok, ptr64(want))
		}
	}
}

func ptr(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}

func ptr64(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

// djangoPython finds the interpreter of a release, or skips the test
// (fails it under CI).
func needDjango(t *testing.T, version, venv string) string {
	t.Helper()
	python := djangoPython(venv)
	out, err := exec.Command(python, "-c", "import django; print(django.get_version())").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), version+".") {
		testenv.Unavailable(t, "Django "+version+" at "+python, fmt.Sprintf("%v: %s", err, bytes.TrimSpace(out)),
			"run .ci/services (it installs Debian's python3-django and makes the virtual environments of Django 4.2 and 5.2), or set DJCACHE_PYTHON / DJCACHE_VENVS")
	}
	return python
}

// runPages runs testdata/django_pages.py with one document.
func runPages(t *testing.T, python string, doc map[string]any) (key *string, list []string, valueType *string) {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	input, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(python, filepath.Join(filepath.Dir(file), "testdata", "django_pages.py"))
	cmd.Stdin = bytes.NewReader(input)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("django_pages.py: %v\n%s", err, stderr.String())
	}
	var res struct {
		Key       *string  `json:"key"`
		List      []string `json:"list"`
		ValueType *string  `json:"value_type"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("django_pages.py printed %q: %v", out, err)
	}
	return res.Key, res.List, res.ValueType
}

// TestDjangoCachedPage shares a file-based cache with Django: Django's
// cache_page stores a page (a pickled HttpResponse), and the Go middleware,
// built from the same pasted settings, finds it under the same key, leaves
// it alone, purges it, and then stores its own page, whose header list
// Django reads.
func TestDjangoCachedPage(t *testing.T) {
	for _, rel := range djangoReleases {
		t.Run("django"+strings.ReplaceAll(rel.version, ".", ""), func(t *testing.T) {
			python := needDjango(t, rel.version, rel.venv)
			ctx := context.Background()
			dir := t.TempDir()
			pasted, _ := json.Marshal(map[string]any{
				"CACHES": map[string]any{"default": map[string]any{
					"BACKEND":  "django.core.cache.backends.filebased.FileBasedCache",
					"LOCATION": dir,
				}},
				"USE_I18N": false, "USE_TZ": false, "DJANGO_VERSION": rel.version,
			})
			s, err := ParseSettings(pasted)
			if err != nil {
				t.Fatal(err)
			}
			caches, err := djcache.NewCaches(s.Caches, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer caches.Close()
			m, err := NewFromSettings(caches, s, Logger(slog.New(slog.DiscardHandler)))
			if err != nil {
				t.Fatal(err)
			}
			doc := map[string]any{
				"dir": dir, "action": "render",
				"settings": map[string]any{"USE_I18N": false, "USE_TZ": false},
				"request": map[string]any{"path": "/page/", "query": "x=1", "host": "testserver",
					"headers": [][2]string{{"Accept-Encoding", "gzip"}}},
			}
			djKey, djList, djType := runPages(t, python, doc)
			if djKey == nil || djType == nil || *djType != "HttpResponse" {
				t.Fatalf("Django cached nothing: key %v, value %v", ptr(djKey), ptr(djType))
			}

			newReq := func() *http.Request {
				r := httptest.NewRequest("GET", "http://testserver/page/?x=1", nil)
				r.Header.Set("Accept-Encoding", "gzip")
				return r
			}
			// Find it.
			key, err := m.GetCacheKey(ctx, newReq(), "GET")
			if err != nil || key != *djKey {
				t.Fatalf("GetCacheKey = %q, %v; Django's key %q", key, err, *djKey)
			}
			c := m.Cache()
			if ok, err := c.Has(ctx, key); !ok || err != nil {
				t.Fatalf("Has(Django's page) = %v, %v", ok, err)
			}
			// Serving leaves it alone.
			h := &counting{}
			w := httptest.NewRecorder()
			m.Handler(h).ServeHTTP(w, newReq())
			if h.calls.Load() != 1 || m.Stats().Unreadable != 1 || m.Stats().Stores != 0 {
				t.Errorf("over Django's page: %d renders, %+v", h.calls.Load(), m.Stats())
			}
			if _, _, typ := runPages(t, python, map[string]any{"dir": dir, "action": "check", "settings": doc["settings"], "request": doc["request"]}); typ == nil || *typ != "HttpResponse" {
				t.Errorf("after the Go request, Django finds %v under its key, want its HttpResponse", ptr(typ))
			}
			// Purge it.
			if ok, err := m.Purge(ctx, newReq()); !ok || err != nil {
				t.Fatalf("Purge = %v, %v", ok, err)
			}
			if ok, _ := c.Has(ctx, key); ok {
				t.Fatal("Django's page survived Purge")
			}
			if k, _, _ := runPages(t, python, map[string]any{"dir": dir, "action": "check", "settings": doc["settings"], "request": doc["request"]}); k != nil {
				t.Errorf("after Purge, Django still finds a page under %q", *k)
			}
			// The Go page's header list is Django's.
			w = httptest.NewRecorder()
			m.Handler(&counting{fn: func(w http.ResponseWriter, r *http.Request, n int64) {
				w.Header().Set("Vary", "Accept-Encoding")
				io.WriteString(w, "rendered by Go")
			}}).ServeHTTP(w, newReq())
			if m.Stats().Stores != 1 {
				t.Fatalf("the Go page was not stored: %+v", m.Stats())
			}
			k, list, typ := runPages(t, python, map[string]any{"dir": dir, "action": "check", "settings": doc["settings"], "request": doc["request"]})
			if k == nil || *k != key || strings.Join(list, ",") != strings.Join(djList, ",") {
				t.Errorf("Django reads key %v and list %q from the Go page, want %q and %q", ptr(k), list, key, djList)
			}
			t.Logf("Django reads the Go page under its key as %v", ptr(typ))
		})
	}
}
