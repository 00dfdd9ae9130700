package filebased

import (
	"encoding/hex"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestHeaderBytes compares the expiry pickles with Django 3.2's observed
// bytes (DJANGO.md §3.4).
func TestHeaderBytes(t *testing.T) {
	for _, tc := range []struct {
		exp  time.Time
		want string
	}{
		{time.Time{}, "80054e2e"},
		{time.Unix(1700000000, 0), "8005950a000000000000004741d954fc400000002e"},
		{time.Unix(4102444800, 5e8), "8005950a000000000000004741ee90cae01000002e"},
	} {
		got := hex.EncodeToString(appendHeader(nil, tc.exp))
		if got != tc.want {
			t.Errorf("appendHeader(%v) = %s, want Django's %s", tc.exp, got, tc.want)
		}
		exp, n, err := parseHeader(append(appendHeader(nil, tc.exp), 0x78, 0x9c))
		if err != nil || n != len(tc.want)/2 || !exp.Equal(tc.exp) {
			t.Errorf("parseHeader(appendHeader(%v)) = %v, %d, %v", tc.exp, exp, n, err)
		}
	}
	// Sub-second expiries survive the float to within a microsecond.
	exp := time.Unix(1800000000, 123456789)
	got, _, err := parseHeader(appendHeader(nil, exp))
	if err != nil || got.Sub(exp).Abs() > time.Microsecond {
		t.Errorf("round trip of %v = %v, %v", exp, got, err)
	}
}

// TestFloatTime: Django's comparison exp < now decides what odd floats
// mean.
func TestFloatTime(t *testing.T) {
	for _, tc := range []struct {
		f     float64
		never bool
		past  bool
	}{
		{math.NaN(), true, false},
		{math.Inf(1), true, false},
		{1e300, true, false},
		{math.Inf(-1), false, true},
		{-5, false, true},
		{0, false, true},
	} {
		got := floatTime(tc.f)
		if got.IsZero() != tc.never || (tc.past && got.After(time.Unix(1, 0))) {
			t.Errorf("floatTime(%v) = %v; want never=%v past=%v", tc.f, got, tc.never, tc.past)
		}
	}
}

// TestFileName checks Django's names (DJANGO.md §3.4).
func TestFileName(t *testing.T) {
	d, err := New("/cache", nil)
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{
		":1:foo":            "9fe685f2d059d8a11303e9e64be4cc7b.djcache",
		"cacheprefix:1:foo": "e50b57a773326e1387dc48641cb1aebf.djcache",
		":2:foo":            "bee304f3f6e8a4a96d1992c6ad818eac.djcache",
		"../../etc/passwd":  "", // any key: a hash, never a path
	} {
		p, stripe := d.keyPath(key)
		if filepath.Dir(p) != "/cache" || len(filepath.Base(p)) != 32+len(Suffix) || (want != "" && filepath.Base(p) != want) {
			t.Errorf("keyPath(%q) = %q, want /cache/%s", key, p, want)
		}
		if stripe < 0 || stripe >= numStripes {
			t.Errorf("keyPath(%q): stripe %d", key, stripe)
		}
	}
}

// TestScanFrequency: the directory is listed a bounded number of times,
// not on every write, and overwrites never trigger a listing.
func TestScanFrequency(t *testing.T) {
	ctx := t.Context()
	d, err := New(filepath.Join(t.TempDir(), "c"), &Options{MaxEntries: 80})
	if err != nil {
		t.Fatal(err)
	}
	v := []byte("\x02value")
	for i := range 1000 {
		if err := d.Set(ctx, fmt.Sprint("k", i), v, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	if n := d.scans.Load(); n > 1000/5 {
		t.Errorf("%d directory scans for 1000 new keys; want at most 200", n)
	}
	names, _, err := d.list()
	if err != nil {
		t.Fatal(err)
	}
	if len(names) > 80 {
		t.Errorf("%d files, more than max_entries 80", len(names))
	}
	// Overwrite existing files: no creation, no scan.
	for i := range 10 {
		if err := d.Set(ctx, fmt.Sprint("o", i), v, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	before := d.scans.Load()
	for i := range 1000 {
		if err := d.Set(ctx, fmt.Sprint("o", i%10), v, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	// The ten creations above may make one refresh due.
	if n := d.scans.Load() - before; n > 1 {
		t.Errorf("%d scans for 1000 overwrites; want at most 1", n)
	}
}

// TestGetManyParallel drives GetMany's parallel path (taken when reads
// are slow) with live, expired, damaged and missing keys.
func TestGetManyParallel(t *testing.T) {
	ctx := t.Context()
	d, err := New(filepath.Join(t.TempDir(), "c"), nil)
	if err != nil {
		t.Fatal(err)
	}
	d.getManySlow = 0 // every GetMany of 16 keys or more fans out
	var keys []string
	want := map[string]string{}
	for i := range 100 {
		key := fmt.Sprint(":1:k", i)
		keys = append(keys, key)
		switch i % 3 {
		case 0:
			v := fmt.Sprint("\x02v", i)
			if err := d.Set(ctx, key, []byte(v), time.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			want[key] = v
		case 1:
			if err := os.WriteFile(d.Path(key), []byte("damaged"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	for range 3 {
		got, err := d.GetMany(ctx, keys)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Errorf("GetMany found %d keys, want %d", len(got), len(want))
		}
		for k, v := range want {
			if string(got[k]) != v {
				t.Errorf("GetMany[%q] = %q, want %q", k, got[k], v)
			}
		}
	}
	// An error (a directory where a file should be) ends the call.
	if err := os.Mkdir(d.Path(keys[50]), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := d.GetMany(ctx, keys); err == nil {
		t.Error("GetMany over an unreadable file: no error")
	}
}

// FuzzParse: no file content makes a reader panic or report a value it
// cannot hold.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"",
		"80054e2e789c6b609dcace00013dcc49894553f4001d2003a8",
		"8005950a000000000000004741ee90cae01000002e789c6b609dcace00013dcc49894553f4001d2003a8",
		"80024a00f153652e",
		"8005950a0000000000000047",
		"8005",
	} {
		b, _ := hex.DecodeString(s)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r := new(reader)
		r.raw = b
		if r.parse(time.Unix(0, 0)) == live && (r.hdr > r.end || r.end > len(b)) {
			t.Errorf("live with header %d, end %d of %d bytes", r.hdr, r.end, len(b))
		}
	})
}
