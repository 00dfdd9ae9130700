package interop

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/djcache/djcache/internal/testenv"
	"github.com/djcache/djcache/pickle"
)

// A tag is a value in peer.py's tagged JSON: ["int", "42"], ["list", [...]].
type tag = []any

// peer runs Django through peer.py with one cache configuration. The
// process starts at the first request and lives until the test ends.
type peer struct {
	python    string
	cache     map[string]any // Django's CACHES["default"]
	databases map[string]any // Django's DATABASES, for DatabaseCache
	// timeZone: USE_TZ = False with this TIME_ZONE, and the process's TZ
	// set to it; "" for USE_TZ = True.
	timeZone string

	cmd    *exec.Cmd
	in     io.WriteCloser
	out    *bufio.Reader
	stderr bytes.Buffer
}

// op is one cache operation for peer.py.
type op map[string]any

// A djangoVersion is one Django release the tests run against: Debian's
// Django 3.2 under /usr/bin/python3, or Django 4.2 or 5.2 in a virtual
// environment that .ci/services makes from interop/requirements-*.txt.
type djangoVersion struct {
	name         string // the subtest's name: "django52"
	release      string // what django.get_version() starts with: "5.2"
	major, minor int
	// venv is the directory under DJCACHE_VENVS (default
	// /opt/djcache-venvs) of the virtual environment; "" for Debian's
	// /usr/bin/python3 (or DJCACHE_PYTHON).
	venv string
	// imports are the modules peer.py needs from the interpreter.
	imports string
	howTo   string

	once   sync.Once
	python string
	err    error
}

// djangoVersions are the releases the tests run against, oldest first.
var djangoVersions = []*djangoVersion{
	{name: "django32", release: "3.2", major: 3, minor: 2,
		imports: "django, django_redis, pymemcache, psycopg2, MySQLdb",
		howTo:   "run .ci/services (it installs Debian's python3-django, python3-django-redis, python3-pymemcache, python3-psycopg2 and python3-mysqldb), or set DJCACHE_PYTHON"},
	{name: "django42", release: "4.2", major: 4, minor: 2, venv: "django42",
		imports: "django, django_redis, redis, pymemcache, psycopg, pymysql",
		howTo:   "run .ci/services (it makes the virtual environment from interop/requirements-django42.txt), or set DJCACHE_VENVS"},
	{name: "django52", release: "5.2", major: 5, minor: 2, venv: "django52",
		imports: "django, django_redis, redis, pymemcache, psycopg, pymysql",
		howTo:   "run .ci/services (it makes the virtual environment from interop/requirements-django52.txt), or set DJCACHE_VENVS"},
}

// atLeast reports whether v is release major.minor or later.
func (v *djangoVersion) atLeast(major, minor int) bool {
	return v.major > major || v.major == major && v.minor >= minor
}

// interpreter returns the path of v's Python interpreter.
func (v *djangoVersion) interpreter() string {
	if v.venv == "" {
		if p := os.Getenv("DJCACHE_PYTHON"); p != "" {
			return p
		}
		// Debian's interpreter, where python3-django and its friends
		// live, whatever python3 comes first on PATH.
		return "/usr/bin/python3"
	}
	dir := os.Getenv("DJCACHE_VENVS")
	if dir == "" {
		dir = "/opt/djcache-venvs"
	}
	return filepath.Join(dir, v.venv, "bin", "python")
}

// needDjango returns the Python interpreter that has Django release v and
// its cache clients, or skips the test (fails it under CI).
func needDjango(t *testing.T, v *djangoVersion) string {
	t.Helper()
	v.once.Do(func() {
		v.python = v.interpreter()
		out, err := exec.Command(v.python, "-c", "import "+v.imports+"; print(django.get_version())").CombinedOutput()
		if err != nil {
			v.err = fmt.Errorf("%s cannot import Django and its cache clients: %v: %s", v.python, err, bytes.TrimSpace(out))
			return
		}
		if !strings.HasPrefix(string(out), v.release+".") && string(bytes.TrimSpace(out)) != v.release {
			v.err = fmt.Errorf("%s has Django %s, not %s", v.python, bytes.TrimSpace(out), v.release)
		}
	})
	if v.err != nil {
		testenv.Unavailable(t, "Django "+v.release, v.err.Error(), v.howTo)
	}
	return v.python
}

// run sends ops to peer.py and returns one result per op. A result that is
// an error ({"error": "..."}) is returned as it is, for the test to judge.
func (p *peer) run(t *testing.T, ops ...op) []any {
	t.Helper()
	if p.cmd == nil {
		p.start(t)
	}
	req, err := json.Marshal(map[string]any{"ops": ops})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.in.Write(append(req, '\n')); err != nil {
		t.Fatalf("peer.py: %v\n%s", err, p.stderr.String())
	}
	line, err := p.out.ReadBytes('\n')
	if err != nil {
		t.Fatalf("peer.py: %v\n%s", err, p.stderr.String())
	}
	var reply struct{ Results []any }
	if err := json.Unmarshal(line, &reply); err != nil {
		t.Fatalf("peer.py replied %q: %v\n%s", line, err, p.stderr.String())
	}
	if len(reply.Results) != len(ops) {
		t.Fatalf("peer.py gave %d results for %d ops", len(reply.Results), len(ops))
	}
	return reply.Results
}

// start starts peer.py and sends it the configuration. The process ends
// with t.
func (p *peer) start(t *testing.T) {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	p.cmd = exec.Command(p.python, filepath.Join(filepath.Dir(file), "peer.py"))
	p.cmd.Stderr = &p.stderr
	config := map[string]any{"cache": p.cache, "databases": p.databases, "use_tz": true}
	if p.timeZone != "" {
		// settings.configure() leaves the process's zone alone, where a
		// settings module (manage.py, WSGI) sets TZ to TIME_ZONE: do that.
		p.cmd.Env = append(os.Environ(), "TZ="+p.timeZone)
		config["use_tz"], config["time_zone"] = false, p.timeZone
	}
	in, err := p.cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting peer.py: %v", err)
	}
	p.in, p.out = in, bufio.NewReader(out)
	t.Cleanup(func() {
		p.in.Close()
		if err := p.cmd.Wait(); err != nil {
			t.Errorf("peer.py: %v\n%s", err, p.stderr.String())
		}
	})
	line, err := json.Marshal(config)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.in.Write(append(line, '\n')); err != nil {
		t.Fatalf("peer.py: %v\n%s", err, p.stderr.String())
	}
}

// one runs a single op and fails the test if Django raised.
func (p *peer) one(t *testing.T, o op) any {
	t.Helper()
	r := p.run(t, o)[0]
	if m, ok := r.(map[string]any); ok && m["error"] != nil {
		t.Fatalf("Django %v: %v", o, m["error"])
	}
	return r
}

// --------------------------------------------------------- tags and Go values

// fromTag returns the Go value djcache writes for a tagged Python value:
// the types of package pickle's mapping (int64 or *big.Int, []any,
// pickle.Tuple, map[string]any or map[any]any, pickle.Set, time.Time, ...).
func fromTag(t *testing.T, v any) any {
	t.Helper()
	tg, ok := v.([]any)
	if !ok || len(tg) == 0 {
		t.Fatalf("not a tag: %#v", v)
	}
	arg := func() any {
		if len(tg) < 2 {
			t.Fatalf("tag %v has no value", tg)
		}
		return tg[1]
	}
	str := func() string { s, _ := arg().(string); return s }
	items := func() []any { s, _ := arg().([]any); return s }
	switch tg[0] {
	case "none":
		return nil
	case "bool":
		return arg().(bool)
	case "int":
		n, ok := new(big.Int).SetString(str(), 10)
		if !ok {
			t.Fatalf("bad int tag %v", tg)
		}
		if n.IsInt64() {
			return n.Int64()
		}
		return n
	case "float":
		b, err := hex.DecodeString(str())
		if err != nil || len(b) != 8 {
			t.Fatalf("bad float tag %v", tg)
		}
		return math.Float64frombits(binary.BigEndian.Uint64(b))
	case "str":
		return str()
	case "bytes":
		b, err := base64.StdEncoding.DecodeString(str())
		if err != nil {
			t.Fatalf("bad bytes tag %v", tg)
		}
		return b
	case "list":
		out := []any{}
		for _, x := range items() {
			out = append(out, fromTag(t, x))
		}
		return out
	case "tuple":
		out := pickle.Tuple{}
		for _, x := range items() {
			out = append(out, fromTag(t, x))
		}
		return out
	case "dict":
		strKeys := map[string]any{}
		anyKeys := map[any]any{}
		allStr := true
		for _, kv := range items() {
			pair := kv.([]any)
			k, v := hashable(t, pair[0]), fromTag(t, pair[1])
			if s, ok := k.(string); ok {
				strKeys[s] = v
			} else {
				allStr = false
			}
			anyKeys[k] = v
		}
		if allStr {
			return strKeys
		}
		return anyKeys
	case "set", "frozenset":
		s := map[any]struct{}{}
		for _, x := range items() {
			s[hashable(t, x)] = struct{}{}
		}
		if tg[0] == "set" {
			return pickle.Set(s)
		}
		return pickle.FrozenSet(s)
	case "datetime":
		s := str()
		for _, layout := range []string{"2006-01-02T15:04:05.999999-07:00", "2006-01-02T15:04:05.999999"} {
			loc := time.Local // naive: the local wall clock, as package pickle reads it
			if tt, err := time.ParseInLocation(layout, s, loc); err == nil {
				if strings.Contains(layout, "07:00") && tt.Location() != time.UTC {
					_, off := tt.Zone()
					if off == 0 {
						tt = tt.UTC()
					}
				}
				return tt
			}
		}
		t.Fatalf("bad datetime tag %v", tg)
	case "date":
		d, err := time.Parse("2006-01-02", str())
		if err != nil {
			t.Fatalf("bad date tag %v", tg)
		}
		return pickle.DateOf(d)
	case "time":
		d, err := time.Parse("15:04:05.999999", str())
		if err != nil {
			t.Fatalf("bad time tag %v", tg)
		}
		return pickle.TimeOf(d)
	case "timedelta":
		p := items()
		days, secs, us := p[0].(float64), p[1].(float64), p[2].(float64)
		return time.Duration(days)*24*time.Hour + time.Duration(secs)*time.Second + time.Duration(us)*time.Microsecond
	case "decimal":
		return pickle.Decimal(str())
	case "uuid":
		u, err := pickle.ParseUUID(str())
		if err != nil {
			t.Fatalf("bad uuid tag %v", tg)
		}
		return u
	}
	t.Fatalf("unknown tag %v", tg)
	return nil
}

// hashable is fromTag for dict keys and set elements: a tuple becomes an
// array [n]any, as package pickle decodes tuple keys, so that it can be a
// Go map key.
func hashable(t *testing.T, v any) any {
	t.Helper()
	x := fromTag(t, v)
	if tu, ok := x.(pickle.Tuple); ok {
		a := reflect.New(reflect.ArrayOf(len(tu), reflect.TypeFor[any]())).Elem()
		for i, e := range tu {
			a.Index(i).Set(reflect.ValueOf(&e).Elem())
		}
		return a.Interface()
	}
	return x
}

// toTag returns the tagged form of a value djcache decoded into an *any.
// A Go type outside package pickle's mapping gives ["unknown", type].
func toTag(v any) any {
	switch x := v.(type) {
	case nil:
		return tag{"none"}
	case bool:
		return tag{"bool", x}
	case int64:
		return tag{"int", fmt.Sprint(x)}
	case *big.Int:
		return tag{"int", x.String()}
	case float64:
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], math.Float64bits(x))
		return tag{"float", hex.EncodeToString(b[:])}
	case string:
		return tag{"str", x}
	case []byte:
		return tag{"bytes", base64.StdEncoding.EncodeToString(x)}
	case []any:
		return tag{"list", tagAll(x)}
	case pickle.Tuple:
		return tag{"tuple", tagAll(x)}
	case map[string]any:
		pairs := []any{}
		for k, v := range x {
			pairs = append(pairs, []any{toTag(k), toTag(v)})
		}
		return tag{"dict", pairs}
	case map[any]any:
		pairs := []any{}
		for k, v := range x {
			pairs = append(pairs, []any{toTag(k), toTag(v)})
		}
		return tag{"dict", pairs}
	case pickle.Set:
		return tag{"set", tagKeys(x)}
	case pickle.FrozenSet:
		return tag{"frozenset", tagKeys(x)}
	case time.Time:
		s := x.Format("2006-01-02T15:04:05")
		if us := x.Nanosecond() / 1000; us != 0 {
			s += fmt.Sprintf(".%06d", us)
		}
		if x.Location() != time.Local {
			s += x.Format("-07:00")
		}
		return tag{"datetime", s}
	case pickle.Date:
		return tag{"date", x.String()}
	case pickle.Time:
		return tag{"time", x.String()}
	case time.Duration:
		us := x.Microseconds()
		days := math.Floor(float64(us) / 86400e6)
		rest := us - int64(days)*86400e6
		return tag{"timedelta", []any{days, float64(rest / 1e6), float64(rest % 1e6)}}
	case pickle.Decimal:
		return tag{"decimal", string(x)}
	case pickle.UUID:
		return tag{"uuid", x.String()}
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Array {
		items := make([]any, rv.Len())
		for i := range items {
			items[i] = rv.Index(i).Interface()
		}
		return tag{"tuple", tagAll(items)}
	}
	return tag{"unknown", fmt.Sprintf("%T", v)}
}

func tagAll(xs []any) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = toTag(x)
	}
	return out
}

func tagKeys[M ~map[any]struct{}](m M) []any {
	out := []any{}
	for k := range m {
		out = append(out, toTag(k))
	}
	return out
}

// canon returns a tag's canonical JSON: dict entries and set elements
// sorted, so that two tags of equal Python values compare equal as strings
// (Python keeps insertion order, Go maps have none).
func canon(v any) string {
	b, err := json.Marshal(canonical(v))
	if err != nil {
		return fmt.Sprintf("unencodable %#v", v)
	}
	return string(b)
}

func canonical(v any) any {
	tg, ok := v.([]any)
	if !ok || len(tg) < 2 {
		return v
	}
	switch tg[0] {
	case "list", "tuple":
		items, _ := tg[1].([]any)
		out := make([]any, len(items))
		for i, x := range items {
			out[i] = canonical(x)
		}
		return []any{tg[0], out}
	case "set", "frozenset", "dict":
		items, _ := tg[1].([]any)
		out := make([]any, len(items))
		for i, x := range items {
			if pair, ok := x.([]any); ok && tg[0] == "dict" && len(pair) == 2 {
				out[i] = []any{canonical(pair[0]), canonical(pair[1])}
			} else {
				out[i] = canonical(x)
			}
		}
		sort.Slice(out, func(i, j int) bool {
			a, _ := json.Marshal(out[i])
			b, _ := json.Marshal(out[j])
			return string(a) < string(b)
		})
		return []any{tg[0], out}
	}
	return v
}

// short abbreviates a canonical tag for messages.
func short(s string) string {
	if len(s) > 300 {
		return s[:300] + fmt.Sprintf("... (%d bytes)", len(s))
	}
	return s
}

// TestTags checks the test's own tag conversions on the fixture: every
// tag peer.py gives survives fromTag and toTag unchanged. (Without it, a
// bug in the conversions could hide a bug in djcache.)
func TestTags(t *testing.T) {
	for _, v := range djangoVersions {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			p := &peer{python: needDjango(t, v), cache: map[string]any{"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
			if got := p.one(t, op{"op": "version"}); !strings.HasPrefix(fmt.Sprint(got), v.release+".") {
				t.Errorf("peer.py runs Django %v; want %s", got, v.release)
			}
			fixture := p.one(t, op{"op": "fixture"}).([]any)
			if len(fixture) < 40 {
				t.Fatalf("fixture has %d values", len(fixture))
			}
			for _, kv := range fixture {
				pair := kv.([]any)
				want := canon(pair[1])
				if got := canon(toTag(fromTag(t, pair[1]))); got != want {
					t.Errorf("%s: tag %s came back as %s", pair[0], short(want), short(got))
				}
			}
		})
	}
}
