package djcache

import (
	"context"
	"errors"
	"io"
	"reflect"
	"testing"
	"time"

	"github.com/djcache/djcache/driver"
)

// TestWithContext: a backend's I/O error caused by a deadline is reported
// with the context's error, so that errors.Is finds it, once.
func TestWithContext(t *testing.T) {
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	ioErr := errors.New("read tcp 127.0.0.1:1: i/o timeout")
	err := withContext(ctx, ioErr)
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, ioErr) {
		t.Errorf("withContext(expired, %v) = %v; want both errors", ioErr, err)
	}
	if again := withContext(ctx, err); again != err {
		t.Errorf("withContext twice = %v; want %v unchanged", again, err)
	}
	if err := withContext(context.Background(), ioErr); err != ioErr {
		t.Errorf("withContext(live, %v) = %v; want it unchanged", ioErr, err)
	}
	if err := withContext(ctx, nil); err != nil {
		t.Errorf("withContext(expired, nil) = %v, want nil", err)
	}
}

// TestDecodePointers decodes each of djcache's own kinds into pointers, as
// the pickle serializer receives them from Redis and memcached (which keep
// integers, and on memcached text and bytes, outside pickle), and with the
// native serializer.
func TestDecodePointers(t *testing.T) {
	for _, pickled := range []bool{false, true} {
		c := &Cache{set: settings{codec: JSON, pickle: pickled}}
		text := append([]byte{tag(driver.KindText)}, "hi"...)
		for _, tc := range []struct {
			data []byte
			dst  any
			want any
		}{
			{[]byte("42"), new(*int), 42},
			{[]byte("42"), new(*int8), int8(42)},
			{[]byte("42"), new(*uint), uint(42)},
			{[]byte("42"), new(*string), "42"},
			{text, new(*string), "hi"},
			{text, new(*[]byte), []byte("hi")},
			{[]byte{tag(driver.KindFloat), '1', '.', '5'}, new(*float64), 1.5},
			{[]byte{tag(driver.KindBool), '1'}, new(*bool), true},
			{text, new(*any), any("hi")},
		} {
			if err := c.decode(tc.data, tc.dst); err != nil {
				t.Errorf("pickle=%v: decode(%q) into %T: %v", pickled, tc.data, tc.dst, err)
				continue
			}
			p := reflect.ValueOf(tc.dst).Elem()
			if p.IsNil() || !reflect.DeepEqual(p.Elem().Interface(), tc.want) {
				t.Errorf("pickle=%v: decode(%q) into %T gives %v, want a pointer to %#v", pickled, tc.data, tc.dst, p, tc.want)
			}
		}

		// Any depth, and a stored nil is a nil pointer at the top.
		var ppp ***int
		if err := c.decode([]byte("7"), &ppp); err != nil || ppp == nil || **ppp == nil || ***ppp != 7 {
			t.Errorf("pickle=%v: decode(7) into ****int: %v", pickled, err)
		}
		if err := c.decode([]byte{tag(driver.KindNil)}, &ppp); err != nil || ppp != nil {
			t.Errorf("pickle=%v: decode(nil) into ****int = %v, %v; want a nil pointer", pickled, ppp, err)
		}

		// A mismatch names the caller's type and leaves the pointer alone.
		old := 1
		p := &old
		err := c.decode(text, &p)
		var de *DecodeError
		if !errors.As(err, &de) || de.Type != reflect.TypeFor[**int]() || de.Stored != "text" {
			t.Errorf("pickle=%v: decode(text) into **int: %v; want a *DecodeError for text into **int", pickled, err)
		}
		if p != &old || old != 1 {
			t.Errorf("pickle=%v: a failed decode into **int changed the pointer or its target", pickled)
		}
	}
}

// TestDecodeCodecPointers: structured values decode into pointers with
// either codec, and a stored nil pointer (JSON's null) gives a nil pointer.
func TestDecodeCodecPointers(t *testing.T) {
	type point struct{ X, Y int }
	for _, codec := range []Codec{JSON, Gob} {
		c := &Cache{set: settings{codec: codec}}
		b, err := c.encode(nil, point{1, 2})
		if err != nil {
			t.Fatal(err)
		}
		var pp **point
		if err := c.decode(b, &pp); err != nil || pp == nil || *pp == nil || **pp != (point{1, 2}) {
			t.Errorf("%T: decode(point) into ***point: %v", codec, err)
		}
	}
	c := &Cache{set: settings{codec: JSON}}
	b, err := c.encode(nil, (*point)(nil))
	if err != nil {
		t.Fatal(err)
	}
	p := &point{9, 9}
	if err := c.decode(b, &p); err != nil || p != nil {
		t.Errorf("decode(JSON null) into **point = %v, %v; want a nil pointer", p, err)
	}
}

// TestManyDecodeErrorUnwrap: errors.Is and errors.As reach every key's
// error through the *OpError and the *ManyDecodeError.
func TestManyDecodeErrorUnwrap(t *testing.T) {
	inner := io.ErrUnexpectedEOF
	de := &DecodeError{Stored: "codec", Type: reflect.TypeFor[*int](), Err: inner}
	err := error(&OpError{Op: "get_many", Backend: "locmem", Err: &ManyDecodeError{Keys: []string{"k"}, Errs: []error{de}, Found: 2}})
	if !errors.Is(err, inner) {
		t.Errorf("errors.Is(%v, %v) = false", err, inner)
	}
	var got *DecodeError
	if !errors.As(err, &got) || got != de {
		t.Errorf("errors.As(%v, *DecodeError) did not find the key's error", err)
	}
	if want := `djcache: locmem: get_many: 1 of 2 values did not decode: "k": cannot decode stored codec value into *int: unexpected EOF`; err.Error() != want {
		t.Errorf("Error() = %q, want %q", err, want)
	}
}
