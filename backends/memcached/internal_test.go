package memcached

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"math"
	"net"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/djcache/djcache/driver"
)

// TestExptime checks Django's memcached timeout rules on absolute expiry
// times.
func TestExptime(t *testing.T) {
	now := time.Unix(1_700_000_000, 250_000_000)
	for _, tc := range []struct {
		name    string
		exp     time.Time
		want    int32
		expired bool
	}{
		{"forever", time.Time{}, 0, false},
		{"passed", now.Add(-time.Second), -1, true},
		{"now", now, -1, true},
		{"sub-second rounds up to 1 s", now.Add(time.Millisecond), 1, false},
		{"half a second", now.Add(500 * time.Millisecond), 1, false},
		{"whole seconds", now.Add(300 * time.Second), 300, false},
		{"rounded up", now.Add(100*time.Second + time.Nanosecond), 101, false},
		{"30 days is relative", now.Add(30 * 24 * time.Hour), 2592000, false},
		{"over 30 days is absolute", now.Add(30*24*time.Hour + time.Second), int32(now.Add(30*24*time.Hour+time.Second).Unix()) + 1, false},
		{"absolute rounds up", time.Unix(1_800_000_000, 1), 1_800_000_001, false},
		{"absolute whole", time.Unix(1_800_000_000, 0), 1_800_000_000, false},
		{"beyond 2038 is capped", time.Unix(1<<40, 0), math.MaxInt32, false},
	} {
		got, expired := exptime(tc.exp, now)
		if got != tc.want || expired != tc.expired {
			t.Errorf("%s: exptime = %d, %v; want %d, %v", tc.name, got, expired, tc.want, tc.expired)
		}
	}
}

// TestFlags checks the flags and bytes stored for each kind, and that
// reading them back gives the encoded value again.
func TestFlags(t *testing.T) {
	for _, tc := range []struct {
		name    string
		encoded []byte
		flags   uint32
		stored  string // hex
	}{
		{"bytes", []byte("\x01raw"), FlagBytes, hex.EncodeToString([]byte("raw"))},
		{"empty bytes", []byte("\x01"), FlagBytes, ""},
		{"text", []byte("\x02Iñt"), FlagText, hex.EncodeToString([]byte("Iñt"))},
		{"int", []byte("42"), FlagInteger, hex.EncodeToString([]byte("42"))},
		{"negative int", []byte("-7"), FlagInteger, hex.EncodeToString([]byte("-7"))},
		{"codec", []byte("\x03{\"a\":1}"), FlagCodec, hex.EncodeToString([]byte(`{"a":1}`))},
		{"nil", []byte("\x06"), FlagPickle, "80054e2e"},
		{"true", []byte("\x051"), FlagPickle, "8005882e"},
		{"false", []byte("\x050"), FlagPickle, "8005892e"},
		{"float", []byte("\x041.5"), FlagPickle, "8005950a00000000000000473ff80000000000002e"}, // DJANGO.md: pickle.dumps(1.5, 5)
		{"float -0", []byte("\x04-0"), FlagPickle, "8005950a000000000000004780000000000000002e"},
		{"pickle", []byte("\x80\x05N."), FlagPickle, "80054e2e"},
		{"bad float", []byte("\x04nope"), FlagEncoded, hex.EncodeToString([]byte("\x04nope"))},
		{"bad bool", []byte("\x05x"), FlagEncoded, hex.EncodeToString([]byte("\x05x"))},
		{"numeric text", []byte("\x0212"), FlagEncoded, hex.EncodeToString([]byte("\x0212"))},
		{"numeric bytes", []byte("\x01 +7 apples"), FlagEncoded, hex.EncodeToString([]byte("\x01 +7 apples"))},
		{"numeric codec", []byte("\x0342"), FlagEncoded, hex.EncodeToString([]byte("\x0342"))},
		{"text with digits", []byte("\x0212abc"), FlagText, hex.EncodeToString([]byte("12abc"))},
		{"date", []byte("\x022024-01-02"), FlagText, hex.EncodeToString([]byte("2024-01-02"))},
		{"foreign", []byte("plain"), FlagEncoded, hex.EncodeToString([]byte("\x01plain"))},
	} {
		flags, payload := toItem(tc.encoded, false)
		if flags != tc.flags || hex.EncodeToString(payload) != tc.stored {
			t.Errorf("%s: toItem(%q) = %d %x, want %d %s", tc.name, tc.encoded, flags, payload, tc.flags, tc.stored)
			continue
		}
		back := fromItem(flags, append([]byte(nil), payload...))
		want := tc.encoded
		switch tc.name {
		case "pickle":
			want = []byte("\x06") // a pickled None reads as nil
		case "foreign":
			want = []byte("\x01plain") // foreign bytes read as bytes
		}
		if !bytes.Equal(back, want) {
			t.Errorf("%s: fromItem(toItem(%q)) = %q", tc.name, tc.encoded, back)
		}
	}
}

// TestFlagsWithPickle checks that with the pickle serializer, numbers as
// text or bytes keep pymemcache's flags, as Django stores them.
func TestFlagsWithPickle(t *testing.T) {
	for _, tc := range []struct {
		encoded []byte
		flags   uint32
		stored  string
	}{
		{[]byte("\x0212"), FlagText, "12"},
		{[]byte("\x01 +7 apples"), FlagBytes, " +7 apples"},
		{[]byte("-7"), FlagInteger, "-7"},
		{[]byte("\x80\x05\x88."), FlagPickle, "\x80\x05\x88."},
	} {
		flags, payload := toItem(tc.encoded, true)
		if flags != tc.flags || string(payload) != tc.stored {
			t.Errorf("toItem(%q, pickle) = %d %q, want %d %q", tc.encoded, flags, payload, tc.flags, tc.stored)
		}
	}
}

// TestFlagsFromDjango checks values as Django's PyMemcacheCache writes them
// (DJANGO.md §6.2), and flags nobody defined.
func TestFlagsFromDjango(t *testing.T) {
	for _, tc := range []struct {
		flags uint32
		value string
		want  []byte
		kind  driver.Kind
	}{
		{0, "raw", []byte("\x01raw"), driver.KindBytes},
		{16, "bar", []byte("\x02bar"), driver.KindText},
		{2, "42", []byte("42"), driver.KindInt},
		{4, "43", []byte("43"), driver.KindInt},
		{2, "9 ", []byte("9"), driver.KindInt}, // decr's padding
		{2, "x", []byte("\x01x"), driver.KindBytes},
		{1, "\x80\x05\x88.", []byte("\x051"), driver.KindBool},
		{1, "\x80\x02\x89.", []byte("\x050"), driver.KindBool},
		{1, "\x80\x04\x95\x02\x00\x00\x00\x00\x00\x00\x00N.", []byte("\x06"), driver.KindNil},
		{1, "\x80\x05\x95\x07\x00\x00\x00\x00\x00\x00\x00\x8c\x03bar\x94.", []byte("\x80\x05\x95\x07\x00\x00\x00\x00\x00\x00\x00\x8c\x03bar\x94."), driver.KindPickle},
		{1, "\x80\x05\x95\x05\x00\x00\x00\x00\x00\x00\x00N.", []byte("\x80\x05\x95\x05\x00\x00\x00\x00\x00\x00\x00N."), driver.KindPickle}, // wrong frame length
		{8, "zlib", []byte("\x01zlib"), driver.KindBytes},
		{12345, "x", []byte("\x01x"), driver.KindBytes},
	} {
		got := fromItem(tc.flags, []byte(tc.value))
		if !bytes.Equal(got, tc.want) || driver.KindOf(got) != tc.kind {
			t.Errorf("fromItem(%d, %q) = %q (%v), want %q (%v)", tc.flags, tc.value, got, driver.KindOf(got), tc.want, tc.kind)
		}
	}
}

// TestJoinInPlace checks that fromItem reuses a value's spare capacity and
// copies otherwise.
func TestJoinInPlace(t *testing.T) {
	buf := make([]byte, 5, 7)
	copy(buf, "hello")
	got := fromItem(FlagText, buf)
	if string(got) != "\x02hello" || &got[0] != &buf[0] {
		t.Errorf("fromItem with spare capacity = %q (copied: %v)", got, &got[0] != &buf[0])
	}
	tight := []byte("hello")
	got = fromItem(FlagText, tight[:5:5])
	if string(got) != "\x02hello" || string(tight) != "hello" {
		t.Errorf("fromItem without spare capacity = %q, original now %q", got, tight)
	}
}

// TestNumeric checks which payloads memcached's incr takes for numbers
// (observed on memcached 1.6).
func TestNumeric(t *testing.T) {
	for in, want := range map[string]bool{
		"12": true, " 12": true, "+12": true, "12 ": true, "-0": true, "-5": true, "12 apples": true, "\t5": true,
		"": false, " ": false, "0x10": false, "1e3": false, "12abc": false, "abc": false, "+": false, "\x0212": false,
	} {
		if got := numeric([]byte(in)); got != want {
			t.Errorf("numeric(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestCheckKey(t *testing.T) {
	d, err := New([]string{"127.0.0.1:1"}, &Options{Namespace: "ns."})
	if err != nil {
		t.Fatal(err)
	}
	long := ":1:" + string(bytes.Repeat([]byte("k"), 245)) // 248 bytes, 251 with the namespace
	for _, tc := range []struct{ key, want string }{
		{":1:ok", ""},
		{":1:清", ""},
		{":1:a b", "Cache key contains characters that will cause errors if used with memcached: ':1:a b'"},
		{":1:tab\there", `Cache key contains characters that will cause errors if used with memcached: ':1:tab\there'`},
		{":1:\x7f", `Cache key contains characters that will cause errors if used with memcached: ':1:\x7f'`},
		{long, "Cache key will cause errors if used with memcached: 'ns." + long + "' (longer than 250)"},
	} {
		err := d.CheckKey(tc.key)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("CheckKey(%q): %v", tc.key, err)
		case tc.want != "" && (err == nil || err.Error() != tc.want):
			t.Errorf("CheckKey(%q) = %v, want %q", tc.key, err, tc.want)
		case tc.want != "" && !isInvalidKey(err):
			t.Errorf("CheckKey(%q) = %v, which does not wrap driver.ErrInvalidKey", tc.key, err)
		}
	}
}

func isInvalidKey(err error) bool {
	for err != nil {
		if err == driver.ErrInvalidKey {
			return true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}

// TestConnectTimeoutIsNetError: gomemcache's ConnectTimeoutError is not a
// net.Error, but it is a connection failure: a Set that meets it must not
// be reported as "server refused the value" (nor delete the entry).
func TestConnectTimeoutIsNetError(t *testing.T) {
	addr, _ := net.ResolveTCPAddr("tcp", "127.0.0.1:11211")
	if !netError(fmt.Errorf("set: %w", &memcache.ConnectTimeoutError{Addr: addr})) {
		t.Error("netError(ConnectTimeoutError) = false, want true")
	}
}
