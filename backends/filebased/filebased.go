package filebased

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/klauspost/compress/zlib"

	"github.com/djcache/djcache/driver"
)

// Options configures a Driver. A nil *Options means the defaults; New does
// not modify it.
type Options struct {
	// MaxEntries is the number of cache files at which a write culls the
	// directory (Django's MAX_ENTRIES). Zero means DefaultMaxEntries.
	MaxEntries int

	// CullFrequency sets the share of the files a cull removes: one in
	// CullFrequency, picked at random (Django's CULL_FREQUENCY). Zero means
	// DefaultCullFrequency. Django's CULL_FREQUENCY 0 is ClearWhenFull.
	CullFrequency int

	// ClearWhenFull makes a cull remove every cache file (Django's
	// CULL_FREQUENCY 0).
	ClearWhenFull bool

	// Sync makes every write durable before it returns: the file is
	// fsynced before it is renamed into place, and the directory after.
	// Django does not sync. Without Sync, a crash of the machine (not of a
	// process) can lose recent writes or leave empty files, which read as
	// misses.
	Sync bool

	// CompressionLevel is the zlib level of the values written: 1 (fastest)
	// to 9 (smallest), or NoCompression. Zero means DefaultCompressionLevel.
	// Django reads every level; djcache reads what Django writes (level 6).
	CompressionLevel int

	// AllowForeignFiles lets the directory hold files other than the
	// cache's, and be the user's home directory. By default, New refuses
	// the home directory, and the first call that touches the directory
	// lists it once: if it holds a name other than a cache entry
	// (md5hex(key) + ".djcache"), a temporary file of djcache or Django
	// ("tmp-djcache-*", or "tmp" and 8 characters) or lost+found, that call
	// and every later one fail with a *ForeignFilesError, so that a
	// mistyped directory is not filled with cache files. A directory shared
	// with Django passes: Django's FileBasedCache writes nothing else. The
	// root directory is refused whatever this option says.
	AllowForeignFiles bool
}

// Defaults of Options.
const (
	// DefaultMaxEntries is Django's MAX_ENTRIES default.
	DefaultMaxEntries = 300
	// DefaultCullFrequency is Django's CULL_FREQUENCY default: a cull
	// removes a third of the files.
	DefaultCullFrequency = 3
	// DefaultCompressionLevel is Django's (zlib's default, 6). Reads
	// outnumber writes in a cache, and level 6 makes files about a fifth
	// smaller than level 1, which inflate no slower; it costs a 100-KB
	// write about 0.3 ms more (see bench/filebased.md in the repository).
	DefaultCompressionLevel = 6
	// NoCompression writes values in zlib's stored blocks: still a zlib
	// stream that Django reads, with no compression work at all. It suits
	// values that are already compressed (images, gzip).
	NoCompression = -1
)

// numStripes is the number of in-process lock stripes of a Driver.
const numStripes = 64

// maxPooled is the largest buffer kept for reuse.
const maxPooled = 1 << 20

// tmpPrefix starts the names of temporary files. They never end with
// Suffix, so neither Django nor djcache counts, culls or clears them.
const tmpPrefix = "tmp-djcache-"

// Driver is a cache directory. It is safe for concurrent use, and any
// number of Drivers, in any number of processes, may share a directory.
type Driver struct {
	dir           string
	maxEntries    int64
	cullFrequency int // 0 clears
	rescanEvery   int64
	sync          bool

	// stripes are the in-process half of the per-key locks: a goroutine
	// holds its key's stripe (a one-slot semaphore, so that waiting honours
	// the context) before it takes the key file's flock, so that at most
	// one goroutine of a Driver waits in the kernel per stripe.
	stripes [numStripes]chan struct{}

	deflaters sync.Pool // of *deflater at the Driver's level

	// The approximate count of files (see cull.go).
	scanMu  sync.Mutex   // held by the goroutine that scans the directory
	known   atomic.Int64 // cache files at the last scan, less those culled; -1 before the first
	created atomic.Int64 // cache files this Driver created since the last scan
	scans   atomic.Int64 // directory scans so far, for tests

	getManySlow time.Duration // getManySlow; tests set it to 0

	// The check of the directory's files (see checkDir).
	dirMu  sync.Mutex            // held while the directory is checked
	dirErr atomic.Pointer[error] // nil before the check, then its outcome
}

var (
	_ driver.Driver        = (*Driver)(nil)
	_ driver.ExpiryReader  = (*Driver)(nil)
	_ driver.GetManyDriver = (*Driver)(nil)
)

// New returns a Driver on dir, which must be an absolute path other than
// the root directory and (unless o.AllowForeignFiles) the user's home
// directory; o (nil means the defaults) sets the culling and writing
// options. New does no I/O: the directory, and any missing parent, is
// created (mode 0700) by the first write, and again by any write after
// someone deletes it. The first call that touches the directory checks
// that it holds no foreign files (see Options.AllowForeignFiles).
func New(dir string, o *Options) (*Driver, error) {
	var opt Options
	if o != nil {
		opt = *o
	}
	if dir == "" {
		return nil, errors.New("djcache: filebased: no directory given; use an absolute path such as /var/cache/myapp")
	}
	if !filepath.IsAbs(dir) {
		return nil, fmt.Errorf("djcache: filebased: directory %q is a relative path; use an absolute one", dir)
	}
	dir = filepath.Clean(dir)
	if err := checkRoots(dir, opt.AllowForeignFiles); err != nil {
		return nil, err
	}
	switch {
	case opt.MaxEntries < 0:
		return nil, fmt.Errorf("djcache: filebased: MaxEntries %d is negative", opt.MaxEntries)
	case opt.MaxEntries == 0:
		opt.MaxEntries = DefaultMaxEntries
	}
	switch {
	case opt.CullFrequency < 0:
		return nil, fmt.Errorf("djcache: filebased: CullFrequency %d is negative (use ClearWhenFull for Django's CULL_FREQUENCY 0)", opt.CullFrequency)
	case opt.CullFrequency == 0:
		opt.CullFrequency = DefaultCullFrequency
	}
	level := opt.CompressionLevel
	switch {
	case level == 0:
		level = DefaultCompressionLevel
	case level == NoCompression:
		level = zlib.NoCompression
	case level < 1 || level > 9:
		return nil, fmt.Errorf("djcache: filebased: CompressionLevel %d: want 1 to 9, or NoCompression", level)
	}
	d := &Driver{
		dir:           dir,
		maxEntries:    int64(opt.MaxEntries),
		cullFrequency: opt.CullFrequency,
		rescanEvery:   max(int64(opt.MaxEntries)/8, 1),
		sync:          opt.Sync,
		getManySlow:   getManySlow,
	}
	if opt.ClearWhenFull {
		d.cullFrequency = 0
	}
	for i := range d.stripes {
		d.stripes[i] = make(chan struct{}, 1)
	}
	d.deflaters.New = func() any {
		zw, _ := zlib.NewWriterLevel(nil, level) // level is valid
		return &deflater{zw: zw}
	}
	d.known.Store(-1)
	if opt.AllowForeignFiles {
		var none error
		d.dirErr.Store(&none)
	}
	return d, nil
}

// Dir returns the directory of the cache.
func (d *Driver) Dir() string { return d.dir }

// Path returns the file that holds the made key: the directory joined with
// md5hex(key) + ".djcache", where Django looks for it too. A key never
// becomes part of a path otherwise.
func (d *Driver) Path(key string) string {
	p, _ := d.keyPath(key)
	return p
}

// keyPath returns the file of key and its lock stripe.
func (d *Driver) keyPath(key string) (path string, stripe int) {
	sum := md5.Sum([]byte(key))
	b := make([]byte, 0, len(d.dir)+1+2*md5.Size+len(Suffix))
	b = append(b, d.dir...)
	b = append(b, filepath.Separator)
	b = hex.AppendEncode(b, sum[:])
	b = append(b, Suffix...)
	// b is not modified after this.
	return unsafe.String(unsafe.SliceData(b), len(b)), int(sum[0]) % numStripes
}

// state is what a read found in a key's file.
type state uint8

const (
	absent state = iota // no file
	live                // a live entry
	dead                // expired, empty or not a cache file: a miss, to remove
)

// reader reads cache files; it is reused through a sync.Pool.
type reader struct {
	raw []byte // the file's bytes
	inflater
	exp time.Time // the entry's expiry, after parse
	hdr int       // the length of the expiry pickle in raw
	end int       // the end of the zlib stream in raw (full parses only)
}

var readers = sync.Pool{New: func() any { return new(reader) }}

func getReader() *reader { return readers.Get().(*reader) }

func putReader(r *reader) {
	if cap(r.raw) > maxPooled {
		r.raw = nil
	}
	if r.out.Cap() > maxPooled {
		r.out = bytes.Buffer{}
	}
	readers.Put(r)
}

// read reads f from its current offset to its end into r.raw.
func (r *reader) read(f *os.File) error {
	b := r.raw[:0]
	if cap(b) < 512 {
		b = make([]byte, 0, 4096)
	}
	for {
		if len(b) == cap(b) {
			// Bigger than the buffer: grow it to the file's size at once.
			need := len(b) + 512
			if fi, err := f.Stat(); err == nil && fi.Size() < maxFile {
				need = max(need, int(fi.Size())+1)
			}
			nb := make([]byte, len(b), need)
			copy(nb, b)
			b = nb
		}
		n, err := f.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err != nil {
			r.raw = b
			if err == io.EOF {
				return nil
			}
			return err
		}
	}
}

// maxFile bounds the size hint taken from Stat.
const maxFile = 1 << 40

// parse parses r.raw at now: the expiry, then the value, inflated into
// r.out. A file that is empty, expired, or damaged anywhere is dead.
func (r *reader) parse(now time.Time) state {
	exp, n, err := parseHeader(r.raw)
	if err != nil || driver.Expired(exp, now) {
		return dead
	}
	used, err := r.inflate(r.raw[n:])
	if err != nil {
		return dead
	}
	r.exp, r.hdr, r.end = exp, n, n+used
	return live
}

// load reads and fully parses the file at path without any lock: renames
// make every file whole, so this is the hot path of Get.
func (r *reader) load(path string) (state, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return absent, nil
		}
		return absent, err
	}
	err = r.read(f)
	f.Close()
	if err != nil {
		return absent, err
	}
	return r.parse(time.Now()), nil
}

// value returns a copy of the value r inflated.
func (r *reader) value() []byte {
	return append(make([]byte, 0, r.out.Len()), r.out.Bytes()...)
}

// Get implements driver.Driver.
func (d *Driver) Get(ctx context.Context, key string) ([]byte, bool, error) {
	v, _, found, err := d.GetWithExpiry(ctx, key)
	return v, found, err
}

// GetWithExpiry implements driver.ExpiryReader: the expiry is the file's
// header, so IncrVersion keeps an entry's remaining lifetime.
func (d *Driver) GetWithExpiry(ctx context.Context, key string) ([]byte, time.Time, bool, error) {
	if err := d.checkDir(); err != nil {
		return nil, time.Time{}, false, err
	}
	r := getReader()
	defer putReader(r)
	return d.get(ctx, r, key)
}

// get reads key with r.
func (d *Driver) get(ctx context.Context, r *reader, key string) ([]byte, time.Time, bool, error) {
	path, stripe := d.keyPath(key)
	st, err := r.load(path)
	if err != nil || st == absent {
		return nil, time.Time{}, false, err
	}
	if st == live {
		return r.value(), r.exp, true, nil
	}
	// Expired, empty or damaged: look again under the key's lock (the file
	// may have been replaced, or be a Django touch half-written in place),
	// and remove it if it is still dead.
	l, err := d.lock(ctx, path, stripe)
	if err != nil {
		return nil, time.Time{}, false, err
	}
	defer l.unlock()
	if st, err = l.read(r); err != nil || st == absent {
		return nil, time.Time{}, false, err
	}
	if st == live {
		return r.value(), r.exp, true, nil
	}
	return nil, time.Time{}, false, l.remove()
}

// GetMany reads keys one after another while the reads are fast (a warm
// page cache: a few microseconds each), and shares the remaining keys
// among up to getManyWorkers goroutines once the first getManyProbe reads
// took over getManySlow each on average (the disk, or large values to
// inflate). Reads that wait for the disk do not wait for the CPU, so the
// bound does not depend on GOMAXPROCS; beyond 4 the benchmark showed no
// further gain.
const (
	getManyWorkers = 4
	getManyProbe   = 8
	getManySlow    = 20 * time.Microsecond // per read, on average
)

// GetMany implements driver.GetManyDriver. Reads that turn out slow are
// spread over a few goroutines, so that reads from the disk overlap: a cold
// GetMany of 100 keys takes about half the time of 100 Gets, and a warm one
// as long. The first error ends the call.
func (d *Driver) GetMany(ctx context.Context, keys []string) (map[string][]byte, error) {
	if err := d.checkDir(); err != nil {
		return nil, err
	}
	m := make(map[string][]byte, len(keys))
	r := getReader()
	defer putReader(r)
	start := time.Now()
	i := 0
	for ; i < len(keys); i++ {
		if i == getManyProbe && len(keys)-i >= getManyProbe && time.Since(start) > getManyProbe*d.getManySlow {
			break
		}
		v, _, found, err := d.get(ctx, r, keys[i])
		if err != nil {
			return nil, err
		}
		if found {
			m[keys[i]] = v
		}
	}
	if i == len(keys) {
		return m, nil
	}
	rest := keys[i:]
	vals := make([][]byte, len(rest))
	found := make([]bool, len(rest))
	var (
		next     atomic.Int64
		firstErr error
		errOnce  sync.Once
		wg       sync.WaitGroup
	)
	for range min(getManyWorkers, (len(rest)+7)/8) {
		wg.Go(func() {
			r := getReader()
			defer putReader(r)
			for {
				j := int(next.Add(1) - 1)
				if j >= len(rest) {
					return
				}
				v, _, ok, err := d.get(ctx, r, rest[j])
				if err != nil {
					errOnce.Do(func() { firstErr = err })
					next.Store(int64(len(rest))) // stop the others
					return
				}
				vals[j], found[j] = v, ok
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	for j, k := range rest {
		if found[j] {
			m[k] = vals[j]
		}
	}
	return m, nil
}

// Set implements driver.Driver.
func (d *Driver) Set(ctx context.Context, key string, value []byte, exp time.Time) error {
	if err := d.checkDir(); err != nil {
		return err
	}
	path, stripe := d.keyPath(key)
	if driver.Expired(exp, time.Now()) {
		l, err := d.lock(ctx, path, stripe)
		if err != nil {
			return err
		}
		defer l.unlock()
		return l.remove()
	}
	w := d.deflaters.Get().(*deflater)
	var hb [floatHeaderLen]byte
	tmp, err := d.prepare(ctx, w.file(appendHeader(hb[:0], exp), value))
	d.putDeflater(w)
	if err != nil {
		return err
	}
	for {
		l, err := d.lock(ctx, path, stripe)
		if err != nil {
			os.Remove(tmp)
			return err
		}
		err = l.install(tmp)
		l.unlock()
		if err != errRetry {
			return err
		}
	}
}

// Add implements driver.Driver.
func (d *Driver) Add(ctx context.Context, key string, value []byte, exp time.Time) (bool, error) {
	if err := d.checkDir(); err != nil {
		return false, err
	}
	path, stripe := d.keyPath(key)
	r := getReader()
	defer putReader(r)
	// A live entry loses at once, without a lock or a write.
	if st, err := r.load(path); err != nil || st == live {
		return false, err
	}
	expired := driver.Expired(exp, time.Now())
	var tmp string
	if !expired {
		w := d.deflaters.Get().(*deflater)
		var hb [floatHeaderLen]byte
		var err error
		tmp, err = d.prepare(ctx, w.file(appendHeader(hb[:0], exp), value))
		d.putDeflater(w)
		if err != nil {
			return false, err
		}
	}
	for {
		l, err := d.lock(ctx, path, stripe)
		if err != nil {
			removeTemp(tmp)
			return false, err
		}
		st, err := l.read(r)
		switch {
		case err != nil || st == live:
			l.unlock()
			removeTemp(tmp)
			return false, err
		case expired:
			// Nothing may stay visible; a dead file goes.
			err = l.remove()
			l.unlock()
			return err == nil, err
		}
		err = l.install(tmp)
		l.unlock()
		if err != errRetry {
			return err == nil, err
		}
	}
}

// Touch implements driver.Driver: under the key's lock, it writes a new
// file with the new expiry and the old zlib stream (without the stale
// tail a Django touch may have left) and renames it into place.
func (d *Driver) Touch(ctx context.Context, key string, exp time.Time) (bool, error) {
	if err := d.checkDir(); err != nil {
		return false, err
	}
	path, stripe := d.keyPath(key)
	l, err := d.lock(ctx, path, stripe)
	if err != nil {
		return false, err
	}
	defer l.unlock()
	r := getReader()
	defer putReader(r)
	st, err := l.read(r)
	if err != nil || st == absent {
		return false, err
	}
	if st == dead {
		return false, l.remove()
	}
	if driver.Expired(exp, time.Now()) {
		return true, l.remove()
	}
	w := d.deflaters.Get().(*deflater)
	defer d.putDeflater(w)
	w.buf.Reset()
	var hb [floatHeaderLen]byte
	w.buf.Write(appendHeader(hb[:0], exp))
	w.buf.Write(r.raw[r.hdr:r.end])
	tmp, err := d.writeTemp(w.buf.Bytes())
	if err != nil {
		return false, err
	}
	return true, l.install(tmp)
}

// Incr implements driver.Driver: under the key's lock, it reads the value,
// adds delta, and renames a new file with the same expiry bytes into place.
func (d *Driver) Incr(ctx context.Context, key string, delta int64) (int64, error) {
	if err := d.checkDir(); err != nil {
		return 0, err
	}
	path, stripe := d.keyPath(key)
	l, err := d.lock(ctx, path, stripe)
	if err != nil {
		return 0, err
	}
	defer l.unlock()
	r := getReader()
	defer putReader(r)
	st, err := l.read(r)
	switch {
	case err != nil:
		return 0, err
	case st == absent:
		return 0, driver.ErrNotFound
	case st == dead:
		if err := l.remove(); err != nil {
			return 0, err
		}
		return 0, driver.ErrNotFound
	}
	nv, sum, err := driver.AddInt(r.out.Bytes(), delta)
	if err != nil {
		return 0, err
	}
	w := d.deflaters.Get().(*deflater)
	defer d.putDeflater(w)
	tmp, err := d.writeTemp(w.file(r.raw[:r.hdr], nv))
	if err != nil {
		return 0, err
	}
	if err := l.install(tmp); err != nil {
		return 0, err
	}
	return sum, nil
}

// Delete implements driver.Driver.
func (d *Driver) Delete(ctx context.Context, key string) (bool, error) {
	if err := d.checkDir(); err != nil {
		return false, err
	}
	path, stripe := d.keyPath(key)
	l, err := d.lock(ctx, path, stripe)
	if err != nil {
		return false, err
	}
	defer l.unlock()
	r := getReader()
	defer putReader(r)
	// A full read, so that a file whose value is damaged (a miss for Get)
	// is not reported as a live entry.
	st, err := l.read(r)
	if err != nil || st == absent {
		return false, err
	}
	return st == live, l.remove()
}

// Clear implements driver.Driver: it removes every file of the directory
// whose name ends with ".djcache", as Django does, each under its lock; it
// keeps the directory and any other file. scope is not needed: the
// directory belongs to the cache.
func (d *Driver) Clear(ctx context.Context, _ driver.Scope) error {
	if err := d.checkDir(); err != nil {
		return err
	}
	names, _, err := d.list()
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	for _, name := range names {
		if err := d.removeFile(ctx, name); err != nil {
			return err
		}
	}
	d.known.Store(0)
	d.created.Store(0)
	return nil
}

// Close implements driver.Driver. A Driver holds no open file between
// calls, so Close has nothing to release; calls after it still work.
func (d *Driver) Close() error { return nil }

func (d *Driver) putDeflater(w *deflater) {
	if w.buf.Cap() > maxPooled {
		w.buf = bytes.Buffer{}
	}
	d.deflaters.Put(w)
}

// prepare culls if the directory may be full (before the write, as Django
// does) and writes content to a temporary file.
func (d *Driver) prepare(ctx context.Context, content []byte) (tmp string, err error) {
	if err := d.maybeCull(ctx); err != nil {
		return "", err
	}
	return d.writeTemp(content)
}

// writeTemp writes content to a new temporary file in the directory (mode
// 0600, a name that does not end with ".djcache"), creating the directory
// if it is missing, and returns the file's path.
func (d *Driver) writeTemp(content []byte) (string, error) {
	f, err := os.CreateTemp(d.dir, tmpPrefix+"*")
	if errors.Is(err, fs.ErrNotExist) {
		if err = mkdirAll(d.dir); err == nil {
			f, err = os.CreateTemp(d.dir, tmpPrefix+"*")
		}
	}
	if err != nil {
		return "", err
	}
	_, err = f.Write(content)
	if err == nil && d.sync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

func removeTemp(tmp string) {
	if tmp != "" {
		os.Remove(tmp)
	}
}

// mkdirAll creates dir and its missing parents with mode 0700, whatever
// the umask (Django: makedirs under umask 0o077), and leaves existing
// levels as they are.
func mkdirAll(dir string) error {
	fi, err := os.Stat(dir)
	if err == nil {
		if !fi.IsDir() {
			return &fs.PathError{Op: "mkdir", Path: dir, Err: errors.New("not a directory")}
		}
		return nil
	}
	if parent := filepath.Dir(dir); parent != dir {
		if err := mkdirAll(parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil // made by someone else meanwhile
		}
		return err
	}
	return os.Chmod(dir, 0o700)
}

// syncDir makes the directory's entries (a rename) durable.
func (d *Driver) syncDir() error {
	f, err := os.Open(d.dir)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// errRetry reports that another writer created the key's file after the
// lock found none: the lock must be taken again, on that file.
var errRetry = errors.New("retry")

// keyLock is a held per-key lock: the Driver's stripe and, if the key has a
// file, that file open and flocked. Every rename over, or removal of, a
// key's file happens under it (creation needs none: it is a link, which
// fails if a file exists).
type keyLock struct {
	d      *Driver
	stripe int
	path   string
	f      *os.File // the key's file, or nil if it had none
}

// lock takes the lock of the key whose file is path.
func (d *Driver) lock(ctx context.Context, path string, stripe int) (keyLock, error) {
	sem := d.stripes[stripe]
	select {
	case sem <- struct{}{}:
	default:
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return keyLock{}, ctx.Err()
		}
	}
	l := keyLock{d: d, stripe: stripe, path: path}
	for {
		f, err := os.Open(path)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return l, nil
			}
			<-sem
			return keyLock{}, err
		}
		same := false
		if err = flockFile(ctx, f); err == nil {
			same, err = sameFile(f, path)
		}
		if err != nil {
			f.Close()
			<-sem
			return keyLock{}, err
		}
		if same {
			l.f = f
			return l, nil
		}
		f.Close() // replaced or removed while we waited: lock the new one
	}
}

// unlock releases the lock.
func (l *keyLock) unlock() {
	if l.f != nil {
		l.f.Close()
		l.f = nil
	}
	<-l.d.stripes[l.stripe]
}

// read reads and parses the locked file into r: absent if the key has no
// file.
func (l *keyLock) read(r *reader) (state, error) {
	if l.f == nil {
		return absent, nil
	}
	if err := r.read(l.f); err != nil {
		return absent, err
	}
	return r.parse(time.Now()), nil
}

// remove removes the key's file, if it has one.
func (l *keyLock) remove() error {
	if l.f == nil {
		return nil
	}
	if closeBeforeReplace {
		l.f.Close()
		l.f = nil
	}
	err := os.Remove(l.path)
	if errors.Is(err, fs.ErrNotExist) {
		err = nil
	}
	return err
}

// install puts the temporary file tmp in place as the key's file. Over an
// existing file it renames; otherwise it links tmp to the key's name,
// which fails if another writer created the file meanwhile (errRetry: take
// the lock again). On any other error, tmp is removed.
func (l *keyLock) install(tmp string) error {
	d := l.d
	if l.f != nil {
		if closeBeforeReplace {
			l.f.Close()
			l.f = nil
		}
		if err := os.Rename(tmp, l.path); err != nil {
			os.Remove(tmp)
			return err
		}
		return d.synced()
	}
	err := os.Link(tmp, l.path)
	switch {
	case err == nil:
		os.Remove(tmp)
	case errors.Is(err, fs.ErrExist):
		return errRetry
	case errors.Is(err, fs.ErrNotExist):
		os.Remove(tmp)
		return err // the directory went away during the write
	default:
		// No hard links here (some FUSE and network file systems): create
		// the file empty, lock it, and rename over it. An empty file reads
		// as a miss, which is what the key is until the rename.
		if err = l.placeholder(); err == nil {
			err = os.Rename(tmp, l.path)
		}
		if err == errRetry {
			return err // tmp is kept for the next try
		}
		if err != nil {
			os.Remove(tmp)
			return err
		}
	}
	d.created.Add(1)
	return d.synced()
}

// placeholder creates the key's file empty and locks it (install on file
// systems without hard links).
func (l *keyLock) placeholder() error {
	f, err := os.OpenFile(l.path, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return errRetry
		}
		return err
	}
	same := false
	if err = flockFile(context.Background(), f); err == nil {
		same, err = sameFile(f, l.path)
	}
	if err == nil && !same {
		err = errRetry // removed by a Django process meanwhile
	}
	if err != nil {
		f.Close()
		return err
	}
	l.f = f
	if closeBeforeReplace {
		l.f.Close()
		l.f = nil
	}
	return nil
}

// synced syncs the directory if the Driver syncs.
func (d *Driver) synced() error {
	if d.sync {
		return d.syncDir()
	}
	return nil
}
