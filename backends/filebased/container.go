package filebased

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"time"

	"github.com/klauspost/compress/zlib"
)

// Django's container, byte for byte (DJANGO.md §3.4 and §6.2): a file is
// pickle.dumps(expiry, 5), where expiry is a float Unix time or None,
// immediately followed by a zlib stream of the value bytes. The value bytes
// are djcache's encoded bytes (driver.Kind); once a pickle codec writes
// pickles, they are exactly what Django stores.

// Suffix ends the name of every cache file: Django counts, culls and clears
// only the files whose names end with it.
const Suffix = ".djcache"

// The two expiry pickles Django writes (protocol 5).
var (
	// noneHeader is pickle.dumps(None, 5): PROTO 5, NONE, STOP.
	noneHeader = [...]byte{0x80, 0x05, 0x4e, 0x2e}
	// floatHeaderPrefix starts pickle.dumps(float, 5): PROTO 5, FRAME of
	// 10 bytes, BINFLOAT; 8 big-endian bytes of the float and STOP follow.
	floatHeaderPrefix = [...]byte{0x80, 0x05, 0x95, 0x0a, 0, 0, 0, 0, 0, 0, 0, 0x47}
)

// floatHeaderLen is the length of a float expiry pickle.
const floatHeaderLen = len(floatHeaderPrefix) + 8 + 1

// maxHeaderLen is the longest expiry pickle the parser accepts.
const maxHeaderLen = 32

// appendHeader appends the expiry pickle of exp: Django's None form for a
// zero exp (never), its float form (seconds since the Unix epoch) otherwise.
func appendHeader(b []byte, exp time.Time) []byte {
	if exp.IsZero() {
		return append(b, noneHeader[:]...)
	}
	f := float64(exp.Unix()) + float64(exp.Nanosecond())/1e9
	b = append(b, floatHeaderPrefix[:]...)
	b = binary.BigEndian.AppendUint64(b, math.Float64bits(f))
	return append(b, 0x2e)
}

// errCorrupt reports a file that is not Django's container. Readers treat it
// as a miss and remove the file; it never reaches a caller.
var errCorrupt = errors.New("not a cache file")

// errEmpty reports an empty file, which Django treats as expired.
var errEmpty = errors.New("empty cache file")

// The pickle opcodes of an expiry.
const (
	opProto    = 0x80
	opFrame    = 0x95
	opNone     = 0x4e
	opBinFloat = 0x47
	opBinInt1  = 0x4b
	opBinInt2  = 0x4d
	opBinInt   = 0x4a
	opStop     = 0x2e
)

// parseHeader reads the expiry pickle at the start of b and returns the
// expiry (zero for None) and the pickle's length. It accepts what Django's
// pickle.load would return for an expiry written by any Python 3 pickler at
// protocol 2 or later: None, a float, or a small int (a Unix time in
// seconds), optionally framed. Anything else is errCorrupt; an empty b is
// errEmpty.
func parseHeader(b []byte) (exp time.Time, n int, err error) {
	if len(b) == 0 {
		return time.Time{}, 0, errEmpty
	}
	// Fast path: exactly what Django (and djcache) write.
	if len(b) >= floatHeaderLen && [len(floatHeaderPrefix)]byte(b[:len(floatHeaderPrefix)]) == floatHeaderPrefix && b[floatHeaderLen-1] == opStop {
		f := math.Float64frombits(binary.BigEndian.Uint64(b[len(floatHeaderPrefix):]))
		return floatTime(f), floatHeaderLen, nil
	}
	if len(b) >= len(noneHeader) && [len(noneHeader)]byte(b[:len(noneHeader)]) == noneHeader {
		return time.Time{}, len(noneHeader), nil
	}
	// General path: PROTO v (2..5), an optional FRAME, one value, STOP.
	if len(b) > maxHeaderLen {
		b = b[:maxHeaderLen]
	}
	if len(b) < 2 || b[0] != opProto || b[1] < 2 || b[1] > 5 {
		return time.Time{}, 0, errCorrupt
	}
	i := 2
	if i < len(b) && b[i] == opFrame {
		i += 9
	}
	if i >= len(b) {
		return time.Time{}, 0, errCorrupt
	}
	op := b[i]
	i++
	size := argSize(op)
	if size < 0 || i+size >= len(b) || b[i+size] != opStop {
		return time.Time{}, 0, errCorrupt
	}
	arg := b[i : i+size]
	n = i + size + 1
	switch op {
	case opNone:
		return time.Time{}, n, nil
	case opBinFloat:
		return floatTime(math.Float64frombits(binary.BigEndian.Uint64(arg))), n, nil
	case opBinInt1:
		return time.Unix(int64(arg[0]), 0), n, nil
	case opBinInt2:
		return time.Unix(int64(binary.LittleEndian.Uint16(arg)), 0), n, nil
	default: // opBinInt
		return time.Unix(int64(int32(binary.LittleEndian.Uint32(arg))), 0), n, nil
	}
}

// argSize is the size of the argument of an expiry's value opcode, or -1
// for an opcode an expiry cannot have.
func argSize(op byte) int {
	switch op {
	case opNone:
		return 0
	case opBinInt1:
		return 1
	case opBinInt2:
		return 2
	case opBinInt:
		return 4
	case opBinFloat:
		return 8
	}
	return -1
}

// floatTime converts Django's float expiry to a time. Django compares it
// with time.time() (exp < now means expired), so NaN and +Inf never expire
// (zero time), and -Inf, or anything before 1970, has expired long ago.
func floatTime(f float64) time.Time {
	const far = 1 << 62 // seconds: beyond any real expiry
	switch {
	case math.IsNaN(f) || f >= far:
		return time.Time{}
	case f <= 0:
		return time.Unix(0, 0)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(math.Round(frac*1e9)))
}

// inflater decompresses zlib streams; it is reused through a sync.Pool.
type inflater struct {
	br  bytes.Reader
	zr  io.ReadCloser // a zlib reader, nil until first use
	out bytes.Buffer  // the last value inflated
}

// inflate decompresses the zlib stream at the start of body into f.out and
// returns the number of bytes of body the stream used: what follows it (the
// stale tail Django's touch leaves) is ignored. A stream that is cut short
// or fails its checksum is errCorrupt.
func (f *inflater) inflate(body []byte) (used int, err error) {
	f.br.Reset(body)
	if f.zr == nil {
		f.zr, err = zlib.NewReader(&f.br)
	} else {
		err = f.zr.(zlib.Resetter).Reset(&f.br, nil)
	}
	if err != nil {
		f.zr = nil
		return 0, errCorrupt
	}
	f.out.Reset()
	// flate reads a bytes.Reader (an io.ByteReader) one byte at a time as it
	// needs them, so the reader's position is the end of the stream.
	if _, err := f.out.ReadFrom(f.zr); err != nil {
		return 0, errCorrupt
	}
	return len(body) - f.br.Len(), nil
}

// deflater compresses values; it is reused through a sync.Pool of one
// Driver, whose compression level it keeps.
type deflater struct {
	zw  *zlib.Writer
	buf bytes.Buffer // header + zlib stream: a whole file
}

// file returns Django's container for value with the given header bytes.
// The slice is f's buffer, valid until f is reused.
func (f *deflater) file(header, value []byte) []byte {
	f.buf.Reset()
	f.buf.Write(header)
	f.zw.Reset(&f.buf)
	f.zw.Write(value) // writes to a bytes.Buffer do not fail
	f.zw.Close()
	return f.buf.Bytes()
}
