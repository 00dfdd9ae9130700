package djcache

import (
	"encoding/binary"
	"time"
)

// Entry metadata. GetOrSet's hot-key options need to know, for an entry,
// when its fresh life ends (Stale keeps it stored longer, to be served
// while a refresh runs), how long the fill that made it took (EarlyRefresh
// uses it), and whether it records an absence (a fill that returned
// ErrAbsent). These three facts travel with the value, inside the bytes the
// driver stores, so that they work on every backend with the driver's
// existing calls and cross processes with the entry. Entries written
// without those options (every Set, and GetOrSet without them) carry no
// metadata and stay byte-identical to Django's.
//
// Two layouts, one per serializer:
//
//   - djcache's own encoding: the tag byte 0x07, the fields, then the
//     value as it would be stored alone (its own tag and payload).
//   - pickle: the value's pickle, then the fields, then the four bytes
//     "\x00djM". Python's pickle.loads stops at the pickle's STOP opcode
//     and ignores what follows, so a Django application sharing the cache
//     reads the value itself. A pickle always ends with STOP ('.'), never
//     with the marker, so a plain pickle is never mistaken for one.
//
// The fields (metaFields bytes): a version byte (1), a flags byte (bit 0:
// absent), the end of the fresh life in Unix milliseconds (big-endian
// int64; 0 for an entry that never goes stale) and the fill's duration in
// microseconds (big-endian uint32, saturating at about 71 minutes).
const (
	metaTag     = 0x07
	metaVersion = 1
	metaFields  = 1 + 1 + 8 + 4
	metaAbsent  = 1 << 0
)

// metaMarker ends a pickled value that carries metadata.
const metaMarker = "\x00djM"

// entryMeta is the metadata of one entry.
type entryMeta struct {
	ok     bool          // the entry carries metadata
	fresh  time.Time     // end of the fresh life; zero: never stale
	fill   time.Duration // how long the fill that wrote it took
	absent bool          // the fill reported ErrAbsent
}

// appendMetaFields appends m's fields.
func appendMetaFields(b []byte, m entryMeta) []byte {
	var flags byte
	if m.absent {
		flags |= metaAbsent
	}
	var fresh int64
	if !m.fresh.IsZero() {
		fresh = max(m.fresh.UnixMilli(), 1)
	}
	us := m.fill.Microseconds()
	us = min(max(us, 0), 1<<32-1)
	b = append(b, metaVersion, flags)
	b = binary.BigEndian.AppendUint64(b, uint64(fresh))
	return binary.BigEndian.AppendUint32(b, uint32(us))
}

// parseMetaFields reads fields written by appendMetaFields.
func parseMetaFields(f []byte) (entryMeta, bool) {
	if len(f) != metaFields || f[0] != metaVersion {
		return entryMeta{}, false
	}
	m := entryMeta{ok: true, absent: f[1]&metaAbsent != 0}
	if ms := int64(binary.BigEndian.Uint64(f[2:10])); ms != 0 {
		m.fresh = time.UnixMilli(ms)
	}
	m.fill = time.Duration(binary.BigEndian.Uint32(f[10:14])) * time.Microsecond
	return m, true
}

// wrapMeta returns the stored form of an encoded value with metadata m, for
// a cache with the pickle serializer or not. In pickle mode enc must be a
// pickle (encodeHot makes sure of it).
func wrapMeta(enc []byte, m entryMeta, pickled bool) []byte {
	out := make([]byte, 0, len(enc)+metaFields+len(metaMarker)+1)
	if pickled {
		out = append(out, enc...)
		out = appendMetaFields(out, m)
		return append(out, metaMarker...)
	}
	out = append(out, metaTag)
	out = appendMetaFields(out, m)
	return append(out, enc...)
}

// splitMeta returns the encoded value inside a stored one and its metadata;
// a value without metadata is returned as it is, with m.ok false.
func splitMeta(v []byte) (inner []byte, m entryMeta) {
	switch {
	case len(v) >= 1+metaFields && v[0] == metaTag:
		if m, ok := parseMetaFields(v[1 : 1+metaFields]); ok {
			return v[1+metaFields:], m
		}
	case len(v) > metaFields+len(metaMarker) && v[0] == 0x80 && string(v[len(v)-len(metaMarker):]) == metaMarker:
		end := len(v) - len(metaMarker)
		if m, ok := parseMetaFields(v[end-metaFields : end]); ok {
			return v[:end-metaFields], m
		}
	}
	return v, entryMeta{}
}

// hasMeta reports, cheaply, whether v may carry metadata: the check every
// read makes before decoding.
func hasMeta(v []byte) bool {
	return len(v) > metaFields && (v[0] == metaTag || v[0] == 0x80 && string(v[len(v)-len(metaMarker):]) == metaMarker)
}
