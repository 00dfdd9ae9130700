package db

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/djcache/djcache"
)

func openURL(raw string) (*Driver, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	d, err := (&URLOpener{}).OpenDriverURL(context.Background(), u)
	if err != nil {
		return nil, err
	}
	return d.(*Driver), nil
}

// TestURLParams: our parameters and the documented driver parameters are
// accepted; anything else fails at Open, naming the parameter.
func TestURLParams(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		url  string
		want string // "" = no error; else a substring of the error
	}{
		{"sqlite://" + dir + "/a.db", ""},
		{"sqlite://" + dir + "/a.db?table=my_cache_table&max_entries=10&cull_frequency=0", ""},
		{"sqlite://" + dir + "/a.db?_pragma=cache_size(-2000)&_pragma=foreign_keys(1)&_txlock=immediate&mode=rwc", ""},
		{"sqlite://" + dir + "/a.db?table=test%20cache%20table", ""},
		{"sqlite://" + dir + "/a.db?tabel=x", `unknown URL parameter "tabel"`},
		{"sqlite://" + dir + "/a.db?_pragma=foreign_keys(1)%3BATTACH+%27x.db%27+AS+x", "_pragma"},
		{"sqlite://" + dir + "/a.db?_pragma=journal_size_limit%3D-1", ""},
		{"sqlite://" + dir + "/a.db?max_entries=many", "max_entries"},
		{"sqlite://" + dir + "/a.db?cull_frequency=-1", "cull_frequency"},
		{"sqlite://" + dir + "/a.db?table=x%22%3B+DROP+TABLE+y%3B+--", "table name"},
		{"sqlite://" + dir + "/a.db?table=", "empty"},
		{"sqlite://relative.db", "three slashes"},
		{"sqlite:relative.db", "three slashes"},
		{"sqlite:///", "absolute"},
		{"postgres://u:p@127.0.0.1:5432/test?sslmode=disable&application_name=x&search_path=public", ""},
		{"postgresql://127.0.0.1/test?connect_timeout=3&statement_cache_capacity=10", ""},
		{"postgres://127.0.0.1/test?sslmod=disable", `unknown URL parameter "sslmod"`},
		{"postgres://127.0.0.1/test?sslmode=bogus", "sslmode"},
		{"mysql://root@127.0.0.1:3306/test?parseTime=true&loc=Local&timeout=2s&tls=false&sql_mode=%27TRADITIONAL%27", ""},
		{"mysql://root@127.0.0.1/test?readTimeout=xyz", "invalid"},
		{"mysql://root@127.0.0.1/test?strict=true", `unknown URL parameter "strict"`},
		{"mysql://root@127.0.0.1/test?autocommit=0", `unknown URL parameter "autocommit"`},
		{"mysql://root@127.0.0.1/test?clientFoundRows=true", "clientFoundRows"},
		{"mysql://root@127.0.0.1/test?clientFoundRows=false", ""},
		{"mysql://root@127.0.0.1", "database name"},
		{"mysql:///test", "no host"},
		{"sqlite://" + dir + "/a.db?django_time_zone=Asia/Tokyo", ""},
		{"sqlite://" + dir + "/a.db?django_time_zone=UTC", ""},
		{"sqlite://" + dir + "/a.db?django_time_zone=Local", ""},
		{"sqlite://" + dir + "/a.db?django_time_zone=Asia/Tokio", `"Asia/Tokio"`},
		{"sqlite://" + dir + "/a.db?django_time_zone=", "django_time_zone is empty"},
		{"sqlite://" + dir + "/a.db?django_time_zone=UTC&django_time_zone=UTC", "given 2 times"},
		{"postgres://127.0.0.1/test?django_time_zone=America/Chicago&timezone=America/Chicago", ""},
		{"postgres://127.0.0.1/test?django_time_zone=Mars/Olympus", `"Mars/Olympus"`},
		{"mysql://root@127.0.0.1/test?django_time_zone=Europe/Paris", ""},
		{"mysql://root@127.0.0.1/test?django_time_zone=Europe/Paris&loc=Europe%2FParis&parseTime=true", ""},
		{"mysql://root@127.0.0.1/test?django_time_zone=Europe/Paris&loc=UTC", `loc="UTC" and django_time_zone="Europe/Paris"`},
		{"mysql://root@127.0.0.1/test?django_time_zone=Nowhere", `"Nowhere"`},
	} {
		d, err := openURL(tc.url)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.url, err)
		case tc.want != "" && err == nil:
			t.Errorf("%s: no error, want one about %q", tc.url, tc.want)
		case tc.want != "" && !strings.Contains(err.Error(), tc.want):
			t.Errorf("%s: %v, want an error about %q", tc.url, err, tc.want)
		}
		if d != nil {
			d.Close()
		}
	}
}

// TestURLSettings: what the URL turns into.
func TestURLSettings(t *testing.T) {
	d, err := openURL("sqlite:///tmp/x%20y/c.db?table=t1&max_entries=10&cull_frequency=0")
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	if d.table != "t1" || d.maxEntries != 10 || d.cullFreq != 0 || d.dialect != SQLite {
		t.Errorf("driver = table %q max %d cull %d %v", d.table, d.maxEntries, d.cullFreq, d.dialect)
	}

	u, _ := url.Parse("sqlite:///tmp/x%20y/c.db")
	dsn, _, busy, err := sqliteDSN(u, url.Values{})
	if err != nil || busy != 5*time.Second {
		t.Fatalf("sqliteDSN: %v, busy timeout %v; want 5s", err, busy)
	}
	for _, want := range []string{"file:/tmp/x%20y/c.db?", "busy_timeout%285000%29", "journal_mode%28WAL%29", "synchronous%28NORMAL%29"} {
		if !strings.Contains(dsn, want) {
			t.Errorf("SQLite DSN %q lacks %q", dsn, want)
		}
	}
	dsn, _, busy, _ = sqliteDSN(u, url.Values{"_pragma": {"busy_timeout(100)"}, "_journal_mode": {"DELETE"}})
	if strings.Contains(dsn, "5000") || strings.Contains(dsn, "WAL") || !strings.Contains(dsn, "busy_timeout%28100%29") || busy != 100*time.Millisecond {
		t.Errorf("SQLite DSN %q, busy timeout %v: the URL's own settings must replace the defaults", dsn, busy)
	}
	for _, q := range []url.Values{{"_busy_timeout": {"250"}}, {"_timeout": {"250"}}, {"_pragma": {"busy_timeout = 250"}}} {
		if _, _, busy, _ := sqliteDSN(u, q); busy != 250*time.Millisecond {
			t.Errorf("SQLite URL parameters %v: busy timeout %v, want 250ms", q, busy)
		}
	}

	u, _ = url.Parse("mysql://app:s3cret@db.example:3307/shop")
	cfg, err := mysqlConfig(u, url.Values{"loc": {"Europe/Paris"}})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Addr != "db.example:3307" || cfg.User != "app" || cfg.Passwd != "s3cret" || cfg.DBName != "shop" || !cfg.InterpolateParams || cfg.Loc.String() != "Europe/Paris" {
		t.Errorf("MySQL config = %+v", cfg)
	}
	u, _ = url.Parse("mysql://app@db.example/shop")
	if cfg, _ := mysqlConfig(u, url.Values{"interpolateParams": {"false"}}); cfg.Addr != "db.example:3306" || cfg.InterpolateParams {
		t.Errorf("MySQL defaults: addr %q interpolate %v", cfg.Addr, cfg.InterpolateParams)
	}
}

// TestURLDjangoTimeZone: django_time_zone sets the zone of the naive
// expires times on SQLite and MySQL (and the driver's loc there), and on
// PostgreSQL only where Django's "never" lies.
func TestURLDjangoTimeZone(t *testing.T) {
	dir := t.TempDir()
	if _, err := time.LoadLocation("Asia/Tokyo"); err != nil {
		t.Skipf("no time zone database: %v", err)
	}
	for _, tc := range []struct {
		url      string
		loc      string // d.loc
		forever  string // the stored "never", as text
		driverTZ string // MySQL: the driver's loc
	}{
		{"sqlite://" + dir + "/a.db", "UTC", "9999-12-31 23:59:59", ""},
		{"sqlite://" + dir + "/a.db?django_time_zone=Asia/Tokyo", "Asia/Tokyo", "9999-12-31 23:59:59", ""},
		{"sqlite://" + dir + "/a.db?django_time_zone=Local", "Local", "9999-12-31 23:59:59", ""},
		{"postgres://127.0.0.1/test", "UTC", "9999-12-31 23:59:59 +0000 UTC", ""},
		// East of UTC: 9999-12-31 23:59:59 in Tokyo, earlier than in UTC.
		{"postgres://127.0.0.1/test?django_time_zone=Asia/Tokyo", "Asia/Tokyo", "9999-12-31 14:59:59 +0000 UTC", ""},
		// West of UTC: UTC's, the earlier one.
		{"postgresql://127.0.0.1/test?django_time_zone=America/Chicago", "America/Chicago", "9999-12-31 23:59:59 +0000 UTC", ""},
		{"mysql://root@127.0.0.1/test", "UTC", "9999-12-31 23:59:59", "UTC"},
		{"mysql://root@127.0.0.1/test?django_time_zone=Asia/Tokyo", "Asia/Tokyo", "9999-12-31 23:59:59", "Asia/Tokyo"},
		{"mysql://root@127.0.0.1/test?django_time_zone=Asia/Tokyo&loc=Asia/Tokyo", "Asia/Tokyo", "9999-12-31 23:59:59", "Asia/Tokyo"},
		{"mysql://root@127.0.0.1/test?loc=Asia/Tokyo", "Asia/Tokyo", "9999-12-31 23:59:59", "Asia/Tokyo"},
	} {
		d, err := openURL(tc.url)
		if err != nil {
			t.Errorf("%s: %v", tc.url, err)
			continue
		}
		d.Close()
		if got := d.loc.String(); got != tc.loc {
			t.Errorf("%s: location %s, want %s", tc.url, got, tc.loc)
		}
		if got := fmt.Sprint(d.timeArg(foreverUnix)); got != tc.forever {
			t.Errorf("%s: never stored as %s, want %s", tc.url, got, tc.forever)
		}
		if tc.driverTZ != "" {
			u, _ := url.Parse(tc.url)
			q := u.Query()
			if q.Has("django_time_zone") && !q.Has("loc") {
				q.Set("loc", q.Get("django_time_zone")) // what OpenDriverURL hands the driver
			}
			q.Del("django_time_zone")
			if cfg, err := mysqlConfig(u, q); err != nil || cfg.Loc.String() != tc.driverTZ {
				t.Errorf("%s: driver loc %v, %v; want %s", tc.url, cfg.Loc, err, tc.driverTZ)
			}
		}
	}
	// A naive time in the zone: 2040-01-02 03:04:05 UTC is 12:04:05 in
	// Tokyo.
	d, _ := openURL("sqlite://" + dir + "/a.db?django_time_zone=Asia/Tokyo")
	d.Close()
	exp := time.Date(2040, 1, 2, 3, 4, 5, 0, time.UTC)
	if got := d.timeArg(exp.Unix()); got != "2040-01-02 12:04:05" {
		t.Errorf("expiry %v stored as %v, want Tokyo's 2040-01-02 12:04:05", exp, got)
	}
	if got, err := d.parseExpires("2040-01-02 12:04:05"); err != nil || !got.Equal(exp) {
		t.Errorf("parseExpires(Tokyo's 2040-01-02 12:04:05) = %v, %v; want %v", got, err, exp)
	}
}

// TestDjangoTimeZoneStored: with django_time_zone, rows hold the naive
// local times a USE_TZ = False Django writes, and Django's rows read back
// as the same instants; on PostgreSQL, "never" is 9999-12-31 23:59:59 in
// the zone, what Django's session there reads.
func TestDjangoTimeZoneStored(t *testing.T) {
	if _, err := time.LoadLocation("Asia/Tokyo"); err != nil {
		t.Skipf("no time zone database: %v", err)
	}
	forEngine(t, func(t *testing.T, e engine) {
		ctx := t.Context()
		p := newPlace(t, e)
		c := p.cache(t, "&django_time_zone=Asia/Tokyo", nil)
		d := c.Driver().(*Driver)
		admin := p.admin(t)
		exp := time.Date(2040, 1, 2, 3, 4, 5, 0, time.UTC)
		if err := d.Set(ctx, ":1:k", []byte("v"), exp); err != nil {
			t.Fatal(err)
		}
		if err := d.Set(ctx, ":1:never", []byte("v"), time.Time{}); err != nil {
			t.Fatal(err)
		}
		_, raw, _ := rawRow(t, admin, e, p.table, ":1:k")
		want := "2040-01-02 12:04:05" // Tokyo's wall clock
		if e.dialect == PostgreSQL {
			want = "2040-01-02 03:04:05" // rawRow shows PostgreSQL's instants in UTC
		}
		if !strings.HasPrefix(raw, want) {
			t.Errorf("expires = %q, want %s", raw, want)
		}
		if _, got, _, err := d.GetWithExpiry(ctx, ":1:k"); err != nil || !got.Equal(exp) {
			t.Errorf("GetWithExpiry = %v, %v; want %v", got, err, exp)
		}
		if _, got, found, err := d.GetWithExpiry(ctx, ":1:never"); err != nil || !found || !got.IsZero() {
			t.Errorf("GetWithExpiry of never = %v, %v, %v; want a zero expiry", got, found, err)
		}
		if e.dialect == PostgreSQL {
			var never string
			q := `SELECT to_char("expires" AT TIME ZONE 'Asia/Tokyo', 'YYYY-MM-DD HH24:MI:SS') FROM ` + e.dialect.quote(p.table) + ` WHERE "cache_key" = $1`
			if err := admin.QueryRow(q, ":1:never").Scan(&never); err != nil || never != "9999-12-31 23:59:59" {
				t.Errorf("never in Tokyo = %q, %v; want 9999-12-31 23:59:59", never, err)
			}
		} else if _, raw, _ := rawRow(t, admin, e, p.table, ":1:never"); !strings.HasPrefix(raw, "9999-12-31 23:59:59") {
			t.Errorf("never stored as %q", raw)
		}
		// A row as Django writes it an hour from now, in Tokyo's time.
		ins := e.dialect.placeholders(fmt.Sprintf("INSERT INTO %s VALUES (?, ?, ?)", e.dialect.quote(p.table)))
		hour := time.Now().Add(time.Hour).Truncate(time.Second)
		var arg any = hour.In(d.loc).Format("2006-01-02 15:04:05")
		if e.dialect == PostgreSQL {
			arg = hour
		}
		if _, err := admin.Exec(ins, ":1:django", "gAVLKi4=", arg); err != nil {
			t.Fatal(err)
		}
		if _, got, found, err := d.GetWithExpiry(ctx, ":1:django"); err != nil || !found || !got.Equal(hour) {
			t.Errorf("GetWithExpiry of Django's row = %v, %v, %v; want %v", got, found, err, hour)
		}
	})
}

// TestOpenThroughDjcache: the schemes are registered with djcache.Open.
func TestOpenThroughDjcache(t *testing.T) {
	c, err := djcache.Open("sqlite://" + t.TempDir() + "/c.db?timeout=60&key_prefix=p&table=t")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Set(t.Context(), "k", "v"); err != nil {
		t.Fatal(err)
	}
	if d := c.Driver().(*Driver); d.Table() != "t" || d.Dialect() != SQLite || d.DB() == nil {
		t.Errorf("driver: table %q dialect %v", d.Table(), d.Dialect())
	}
	for _, s := range []string{"sqlite", "postgres", "postgresql", "mysql"} {
		if _, err := djcache.Open(s + "://x/y?bogus=1"); err == nil || strings.Contains(err.Error(), "no backend") {
			t.Errorf("djcache.Open(%s://): %v, want the backend's own error", s, err)
		}
	}
}

// TestNewErrors: New validates its arguments.
func TestNewErrors(t *testing.T) {
	d, _ := openURL("sqlite://" + t.TempDir() + "/c.db")
	defer d.Close()
	for _, tc := range []struct {
		dialect Dialect
		o       *Options
	}{
		{Dialect(0), nil},
		{SQLite, &Options{MaxEntries: -1}},
		{SQLite, &Options{CullFrequency: -1}},
		{SQLite, &Options{Table: "a;b"}},
	} {
		if _, err := New(d.db, tc.dialect, tc.o); err == nil {
			t.Errorf("New(%v, %+v): no error", tc.dialect, tc.o)
		}
	}
	if _, err := New(nil, SQLite, nil); err == nil {
		t.Errorf("New(nil): no error")
	}
}

// TestPasswordNotInErrors: a URL's password shows in no error, from Open
// or from a call.
func TestPasswordNotInErrors(t *testing.T) {
	const pw = "Sup3r$ecret/pw"
	esc := url.QueryEscape(pw)
	for _, raw := range []string{
		"postgres://postgres:" + esc + "@127.0.0.1:5432/test?sslmode=bogus",
		"postgres://postgres:" + esc + "@127.0.0.1:5432/test?bogus=1",
		"mysql://root:" + esc + "@127.0.0.1:3306/test?readTimeout=bogus",
		"mysql://root:" + esc + "@127.0.0.1:3306/test?bogus=1",
	} {
		_, err := openURL(raw)
		if err == nil {
			t.Errorf("%s: no error", raw)
			continue
		}
		if strings.Contains(err.Error(), pw) || strings.Contains(err.Error(), esc) {
			t.Errorf("Open error shows the password: %v", err)
		}
	}
	// A wrong password: the server refuses it at the first call.
	for _, e := range engines[1:] {
		t.Run(e.name, func(t *testing.T) {
			e.need(t)
			u, _ := url.Parse(e.base())
			u.User = url.UserPassword(u.User.Username(), pw)
			u.RawQuery = "connect_timeout=5"
			if e.dialect == MySQL {
				u.RawQuery = "timeout=5s"
				u.User = url.UserPassword("djcache_nobody", pw)
			} else {
				u.User = url.UserPassword("djcache_nobody", pw)
			}
			d, err := openURL(u.String())
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			_, _, err = d.Get(ctx, ":1:k")
			if err == nil {
				t.Fatal("Get as an unknown user: no error")
			}
			if strings.Contains(err.Error(), pw) || strings.Contains(err.Error(), esc) {
				t.Errorf("call error shows the password: %v", err)
			}
		})
	}
}

// TestRedact: the redaction keeps the error's identity.
func TestRedact(t *testing.T) {
	d := &Driver{secret: "p@ss word"}
	base := context.DeadlineExceeded
	for _, msg := range []string{"p@ss word", "p%40ss+word", "p%40ss%20word"} {
		err := d.redact(&wrapped{msg: "connect to u:" + msg + "@h failed", err: base})
		if strings.Contains(err.Error(), msg) || !strings.Contains(err.Error(), "xxxxx") {
			t.Errorf("redact(%q) = %q", msg, err)
		}
		if err.(interface{ Unwrap() error }).Unwrap().(*wrapped).err != base {
			t.Errorf("redact lost the wrapped error")
		}
	}
	if err := d.redact(base); err != base {
		t.Errorf("redact of an error without the password changed it: %v", err)
	}
}

type wrapped struct {
	msg string
	err error
}

func (w *wrapped) Error() string { return w.msg }
func (w *wrapped) Unwrap() error { return w.err }

// TestFirstCallErrors: a database that cannot be used fails the first call
// with an error naming it.
func TestFirstCallErrors(t *testing.T) {
	d, err := openURL("sqlite:///nonexistent-djcache-dir/sub/c.db?table=t1")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	_, err = d.Add(t.Context(), ":1:k", []byte("v"), time.Time{})
	if err == nil || !strings.Contains(err.Error(), "/nonexistent-djcache-dir/sub/c.db") || !strings.Contains(err.Error(), `"t1"`) {
		t.Errorf("Add on an unopenable SQLite file: %v, want an error naming the file and table", err)
	}
}

// TestSQLiteURLForms: three slashes and four (dj-database-url's and
// SQLAlchemy's form) name the same absolute file; every other malformed
// SQLite URL fails at Open with an error that says what is wrong, in
// djcache's words (before, sqlite:////tmp/c.db failed at the first call
// with SQLite's "invalid uri authority: tmp").
func TestSQLiteURLForms(t *testing.T) {
	for _, tc := range []struct {
		url  string
		path string // the file, if the URL is good
		err  string // a substring of the error, if not
	}{
		{url: "sqlite:///tmp/c.db", path: "/tmp/c.db"},
		{url: "sqlite:////tmp/c.db", path: "/tmp/c.db"},
		{url: "sqlite:////tmp/x%20y/c.db?table=t", path: "/tmp/x y/c.db"},
		{url: "sqlite:////c.db", path: "/c.db"},
		{url: "sqlite://///tmp/c.db", err: "more than four slashes"},
		{url: "sqlite://tmp/c.db", err: `has a host, "tmp"`},
		{url: "sqlite://:5/tmp/c.db", err: "has a host"},
		{url: "sqlite:c.db", err: `relative path, "c.db"`},
		{url: "sqlite:///", err: "no absolute file path"},
		{url: "sqlite:////", err: "no absolute file path"},
		{url: "sqlite://", err: "no absolute file path"},
		{url: "sqlite://user@/tmp/c.db", err: "user information"},
		{url: "sqlite://user:pw@/tmp/c.db", err: "user information"},
		{url: "sqlite:///tmp/c.db#frag", err: "fragment"},
		{url: "sqlite:///tmp/dir/", err: "names a directory"},
		{url: "sqlite:////tmp/dir/", err: "names a directory"},
		{url: "sqlite:///tmp/a%00b.db", err: "NUL"},
	} {
		d, err := openURL(tc.url)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%s: %v", tc.url, err)
		case tc.err != "" && err == nil:
			t.Errorf("%s: no error, want one about %q", tc.url, tc.err)
		case tc.err != "" && (!strings.Contains(err.Error(), tc.err) || !strings.HasPrefix(err.Error(), "djcache: db: SQLite URL ")):
			t.Errorf("%s: %v, want djcache's error about %q", tc.url, err, tc.err)
		}
		if d == nil {
			continue
		}
		d.Close()
		if d.file != tc.path {
			t.Errorf("%s: file %q, want %q", tc.url, d.file, tc.path)
		}
		u, _ := url.Parse(tc.url)
		q := u.Query()
		q.Del("table")
		if dsn, _, _, err := sqliteDSN(u, q); err != nil || !strings.HasPrefix(dsn, "file:"+(&url.URL{Path: tc.path}).EscapedPath()+"?") {
			t.Errorf("%s: DSN %q, %v; want the file %s", tc.url, dsn, err, tc.path)
		}
	}

	// Four slashes, end to end.
	dir := t.TempDir()
	c, err := djcache.Open("sqlite:///" + dir + "/four.db")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Set(t.Context(), "k", "v"); err != nil {
		t.Fatalf("Set through sqlite:////ABSOLUTE/PATH: %v", err)
	}
	if _, err := os.Stat(dir + "/four.db"); err != nil {
		t.Errorf("sqlite:///%s/four.db: %v", dir, err)
	}
}
