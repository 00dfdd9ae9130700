package httpcache

import (
	"encoding/binary"
	"errors"
	"net/http"
	"sort"
)

// pageMagic starts every page this package stores.
const pageMagic = "djcache-page\x01"

// A page is a cached response. Its stored form, written as a byte string
// (with the pickle serializer: a pickled bytes object), is
//
//	"djcache-page\x01"              magic and format version 1
//	uvarint status                  always 200 today
//	uvarint n, then n headers       sorted by name
//	  uvarint len, name             canonical form
//	  uvarint k, then k values      uvarint len, value
//	body                            the rest
type page struct {
	status int
	header http.Header
	body   []byte
}

var errNotPage = errors.New("httpcache: not a page stored by djcache")

// hopHeaders are never stored: they describe one connection.
var hopHeaders = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Proxy-Connection": true,
	"Transfer-Encoding": true, "Upgrade": true, "Trailer": true, "Te": true,
}

func (p *page) marshal() []byte {
	names := make([]string, 0, len(p.header))
	size := len(pageMagic) + 16 + len(p.body)
	for name, vals := range p.header {
		if hopHeaders[name] {
			continue
		}
		names = append(names, name)
		size += len(name) + 4
		for _, v := range vals {
			size += len(v) + 4
		}
	}
	sort.Strings(names)
	b := make([]byte, 0, size)
	b = append(b, pageMagic...)
	b = binary.AppendUvarint(b, uint64(p.status))
	b = binary.AppendUvarint(b, uint64(len(names)))
	for _, name := range names {
		b = appendString(b, name)
		vals := p.header[name]
		b = binary.AppendUvarint(b, uint64(len(vals)))
		for _, v := range vals {
			b = appendString(b, v)
		}
	}
	return append(b, p.body...)
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// unmarshalPage reads a stored page. The page does not share b's memory
// except for the body, which is b's tail.
func unmarshalPage(b []byte) (*page, error) {
	if len(b) < len(pageMagic) || string(b[:len(pageMagic)]) != pageMagic {
		return nil, errNotPage
	}
	r := pageReader{b: b[len(pageMagic):]}
	p := &page{status: int(r.uvarint())}
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		return nil, errNotPage
	}
	p.header = make(http.Header, n)
	for i := uint64(0); i < n && r.err == nil; i++ {
		name := r.string()
		k := r.uvarint()
		if k > uint64(len(r.b)) {
			return nil, errNotPage
		}
		vals := make([]string, 0, k)
		for j := uint64(0); j < k && r.err == nil; j++ {
			vals = append(vals, r.string())
		}
		p.header[name] = vals
	}
	if r.err != nil || p.status < 100 || p.status > 999 {
		return nil, errNotPage
	}
	p.body = r.b
	return p, nil
}

type pageReader struct {
	b   []byte
	err error
}

func (r *pageReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errNotPage
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *pageReader) string() string {
	n := r.uvarint()
	if r.err != nil || n > uint64(len(r.b)) {
		r.err = errNotPage
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}
