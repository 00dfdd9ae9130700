package filebased

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/djcache/djcache"
	"github.com/djcache/djcache/driver"
	"github.com/djcache/djcache/internal/urlparam"
)

// Scheme is the URL scheme of this backend.
const Scheme = "file"

func init() { djcache.Register(Scheme, &URLOpener{}) }

// URLOpener opens URLs like
// "file:///var/cache/myapp?max_entries=1000&cull_frequency=3". The path
// (percent-encoded where needed, "file:///C:/cache" on Windows) is the
// cache directory and must be absolute: "file://dir" (a host) and
// "file:dir" are errors. Parameters, besides djcache's portable ones
// (timeout, key_prefix, version):
//
//   - max_entries: the number of cache files at which a write culls the
//     directory (default 300).
//   - cull_frequency: a cull removes a random 1/cull_frequency of the files
//     (default 3); 0 removes them all, as in Django.
//   - fsync: true makes each write durable before it returns (the file and
//     the directory are fsynced); default false, as Django.
//   - compress_level: the zlib level of the values written, from 1
//     (fastest) to 9 (smallest), default 6 (Django's), or 0 for no
//     compression. Django reads them all.
//   - allow_foreign_files: true lets the directory hold files other than
//     Django's and djcache's, or be the home directory
//     ([Options].AllowForeignFiles); default false. In Django's CACHES,
//     OPTIONS {"ALLOW_FOREIGN_FILES": True} sets it.
//
// The root directory is refused. Any other parameter is an error.
type URLOpener struct{}

// OpenDriverURL implements djcache.DriverURLOpener.
func (*URLOpener) OpenDriverURL(_ context.Context, u *url.URL) (driver.Driver, error) {
	dir, err := urlDir(u)
	if err != nil {
		return nil, err
	}
	r := urlparam.New("filebased", u)
	o := &Options{
		MaxEntries:        r.Int("max_entries", DefaultMaxEntries, 1, 1<<40),
		CullFrequency:     r.Int("cull_frequency", DefaultCullFrequency, 0, 1<<30),
		Sync:              r.Bool("fsync", false),
		CompressionLevel:  r.Int("compress_level", DefaultCompressionLevel, 0, 9),
		AllowForeignFiles: r.Bool("allow_foreign_files", false),
	}
	if err := r.Done(); err != nil {
		return nil, err
	}
	if o.CullFrequency == 0 {
		o.ClearWhenFull = true
	}
	if o.CompressionLevel == 0 {
		o.CompressionLevel = NoCompression
	}
	return New(dir, o)
}

// urlDir returns the directory a file URL names.
func urlDir(u *url.URL) (string, error) {
	const want = "use an absolute one, such as file:///var/cache/myapp"
	if u.Opaque != "" {
		return "", fmt.Errorf("djcache: filebased: URL %q names the relative path %q; %s", u.Redacted(), u.Opaque, want)
	}
	if u.Host != "" && !strings.EqualFold(u.Host, "localhost") {
		return "", fmt.Errorf("djcache: filebased: URL %q has the host %q, so its path is read as relative; %s (three slashes)", u.Redacted(), u.Host, want)
	}
	p := u.Path
	if runtime.GOOS == "windows" && len(p) >= 3 && p[0] == '/' && p[2] == ':' {
		p = p[1:] // file:///C:/dir
	}
	if p == "" {
		return "", fmt.Errorf("djcache: filebased: URL %q names no directory; %s", u.Redacted(), want)
	}
	p = filepath.FromSlash(p)
	if !filepath.IsAbs(p) {
		return "", fmt.Errorf("djcache: filebased: URL %q names the relative path %q; %s", u.Redacted(), p, want)
	}
	return p, nil
}
