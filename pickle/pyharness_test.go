package pickle

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
)

// pyScript is a small Python program the tests talk to over stdin/stdout,
// one JSON request per line:
//
//	{"op": "dump", "expr": E}            -> [hex of pickle.dumps(eval(E), p) for p in 0..5]
//	{"op": "load", "expr": E, "hex": H}  -> [canon(pickle.loads(H)) == canon(eval(E)), repr(loaded)]
//
// It defines stand-ins for pytz and django.utils.safestring (neither is
// installed here) whose pickles have the same shape as the real ones:
// pytz.utc reduces to pytz._UTC(), pytz zones to pytz._p(zone, utcoffset,
// dst, tzname), and SafeString is a str subclass pickled with NEWOBJ.
const pyScript = `
import sys, json, pickle, types
from datetime import datetime, date, time, timedelta, timezone, tzinfo
from decimal import Decimal
from collections import OrderedDict
from uuid import UUID, SafeUUID
import zoneinfo

pytz = types.ModuleType('pytz'); sys.modules['pytz'] = pytz
class _UTCclass(tzinfo):
    def utcoffset(self, dt): return timedelta(0)
    def tzname(self, dt): return 'UTC'
    def dst(self, dt): return timedelta(0)
    def __reduce__(self): return _UTC, ()
def _UTC(): return pytz_utc
_UTC.__module__ = 'pytz'
pytz._UTC = _UTC
pytz_utc = _UTCclass()
class _Dst(tzinfo):
    def __init__(self, zone, off, dst, name): self.zone, self.off, self.dstoff, self.name = zone, off, dst, name
    def utcoffset(self, dt): return timedelta(seconds=self.off)
    def dst(self, dt): return timedelta(seconds=self.dstoff)
    def tzname(self, dt): return self.name
    def __reduce__(self): return _p, (self.zone, self.off, self.dstoff, self.name)
def _p(*args): return _Dst(*args)
_p.__module__ = 'pytz'
pytz._p = _p
for name in ('django', 'django.utils', 'django.utils.safestring'):
    sys.modules[name] = types.ModuleType(name)
class SafeString(str):
    pass
SafeString.__module__ = 'django.utils.safestring'
sys.modules['django.utils.safestring'].SafeString = SafeString

def canon(v):
    t = type(v).__name__
    if isinstance(v, dict):
        return ('dict', sorted(((canon(k), canon(x)) for k, x in v.items()), key=repr))
    if isinstance(v, (set, frozenset)):
        return (t, sorted((canon(x) for x in v), key=repr))
    if isinstance(v, (list, tuple)):
        return (t, [canon(x) for x in v])
    if isinstance(v, float) and v != v:
        return (t, 'nan')
    if isinstance(v, (datetime, time)):
        return (t, v.isoformat(), v.utcoffset() if isinstance(v, datetime) else None)
    if isinstance(v, (str, bytes)):
        return (t, v)
    return (t, repr(v))

for line in sys.stdin:
    req = json.loads(line)
    try:
        if req['op'] == 'dump':
            v = eval(req['expr'])
            out = [pickle.dumps(v, p).hex() for p in range(6)]
        else:
            a = pickle.loads(bytes.fromhex(req['hex']))
            b = eval(req['expr'])
            out = [canon(a) == canon(b), repr(a)[:300]]
    except Exception as e:
        out = {'error': '%s: %s' % (type(e).__name__, e)}
    print(json.dumps(out), flush=True)
`

// pyProc is a running pyScript, shared by the tests of the package.
type pyProc struct {
	mu  sync.Mutex
	in  *bufio.Writer
	out *bufio.Scanner
}

var (
	pyOnce sync.Once
	pyP    *pyProc
	pyErr  string
)

// python returns the shared Python helper, skipping the test when python3
// is not installed (the checked-in vectors still run).
func python(t *testing.T) *pyProc {
	t.Helper()
	pyOnce.Do(func() {
		exe, err := exec.LookPath("python3")
		if err != nil {
			pyErr = "python3 not found: skipping the live CPython cross-checks (the checked-in vectors still run)"
			return
		}
		cmd := exec.Command(exe, "-c", pyScript)
		cmd.Stderr = os.Stderr
		stdin, err := cmd.StdinPipe()
		if err != nil {
			pyErr = err.Error()
			return
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			pyErr = err.Error()
			return
		}
		if err := cmd.Start(); err != nil {
			pyErr = "python3: " + err.Error()
			return
		}
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 64<<20)
		pyP = &pyProc{in: bufio.NewWriter(stdin), out: sc}
	})
	if pyP == nil {
		t.Skip(pyErr)
	}
	return pyP
}

func (p *pyProc) ask(t *testing.T, req map[string]any, resp any) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	b, _ := json.Marshal(req)
	p.in.Write(b)
	p.in.WriteByte('\n')
	if err := p.in.Flush(); err != nil {
		t.Fatalf("python3: %v", err)
	}
	if !p.out.Scan() {
		t.Fatalf("python3 exited: %v", p.out.Err())
	}
	line := p.out.Bytes()
	if strings.HasPrefix(string(line), `{"error"`) {
		t.Fatalf("python3 (%v): %s", req["expr"], line)
	}
	if err := json.Unmarshal(line, resp); err != nil {
		t.Fatalf("python3 reply %q: %v", line, err)
	}
}

// dumps returns the hex of pickle.dumps(eval(expr), p) for p = 0..5.
func (p *pyProc) dumps(t *testing.T, expr string) [6]string {
	var out [6]string
	p.ask(t, map[string]any{"op": "dump", "expr": expr}, &out)
	return out
}

// loadsEqual reports whether Python loads data to a value equal (same
// types, same contents) to eval(expr), and the repr of what it loaded.
func (p *pyProc) loadsEqual(t *testing.T, data []byte, expr string) (bool, string) {
	var out [2]any
	p.ask(t, map[string]any{"op": "load", "expr": expr, "hex": hexOf(data)}, &out)
	ok, _ := out[0].(bool)
	s, _ := out[1].(string)
	return ok, s
}
