package driver

import "context"

// Sizer is a capability for tools, not an optimization: a Driver that can
// tell cheaply how many entries it holds, and how many bytes they take,
// implements it. Package djcache never calls it; the command-line tool's
// stats command does, through [djcache.Cache.Driver]. A Driver that cannot
// tell without reading every entry does not implement it, or reports -1.
//
// Size takes the [Scope] of the calling Cache, as Clear does, so that a
// driver on a shared server can count the Cache's keys only. It must not
// create anything (a table, a directory) to answer: storage that does not
// exist yet holds 0 entries.
type Sizer interface {
	Size(ctx context.Context, scope Scope) (Size, error)
}

// Size is what a [Sizer] reports. Sizer returns a struct, not two
// integers, so that a driver that can only count more than the Cache's
// entries (a whole memcached server, a whole Redis database) says so in
// Covers instead of passing those counts off as the Cache's.
type Size struct {
	// Entries is the number of entries, -1 if unknown. It may count
	// expired entries that the backend has not removed yet.
	Entries int64
	// Bytes is the size of the stored values in bytes (the backend's
	// stored form, with its own overhead or without, as the driver
	// documents), -1 if unknown.
	Bytes int64
	// Covers is "" when the counts are the Cache's own entries. Otherwise
	// it says what was counted, for people to read, such as "the whole
	// database" or "2 whole servers".
	Covers string
}

// UnknownSize is the Size of a driver that can tell neither count.
var UnknownSize = Size{Entries: -1, Bytes: -1}
