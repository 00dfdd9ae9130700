package db

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Dialect is the SQL dialect of a database: which statements the Driver
// sends and how it stores expiry times.
type Dialect int

// The dialects djcache speaks.
const (
	// SQLite: expires holds Django's text "YYYY-MM-DD HH:MM:SS".
	SQLite Dialect = iota + 1
	// PostgreSQL: expires is a timestamp with time zone.
	PostgreSQL
	// MySQL covers MySQL and MariaDB: expires is a datetime(6).
	MySQL
)

// String returns the dialect's name, such as "postgresql".
func (d Dialect) String() string {
	switch d {
	case SQLite:
		return "sqlite"
	case PostgreSQL:
		return "postgresql"
	case MySQL:
		return "mysql"
	}
	return "Dialect(" + strconv.Itoa(int(d)) + ")"
}

func (d Dialect) valid() bool { return d >= SQLite && d <= MySQL }

// DefaultTable is the table of a Driver whose Options leave Table empty.
const DefaultTable = "djcache_table"

// maxTableLen keeps "<table>_expires", the index's name, within the
// identifier limits of PostgreSQL (63 bytes) and MySQL (64).
const maxTableLen = 55

// maxKeyLen is the size of the cache_key column, varchar(255), in
// characters.
const maxKeyLen = 255

// checkTable validates a table name. Names are always quoted in SQL, so
// spaces and capitals are kept exactly (Django's tests use "test cache
// table"); what could end a quoted identifier or confuse a server (quotes,
// backslashes, control characters, '?', which is a placeholder) is refused.
func checkTable(name string) error {
	if name == "" {
		return errors.New("djcache: db: the table name is empty")
	}
	if len(name) > maxTableLen {
		return fmt.Errorf("djcache: db: table name %q is longer than %d bytes (its index, %q, must fit in the 63 bytes PostgreSQL allows)", name, maxTableLen, name+"_expires")
	}
	if !utf8.ValidString(name) {
		return fmt.Errorf("djcache: db: table name %q is not valid UTF-8", name)
	}
	if strings.TrimSpace(name) != name {
		return fmt.Errorf("djcache: db: table name %q starts or ends with a space", name)
	}
	for _, r := range name {
		switch {
		case r == '_' || r == '-' || r == ' ' || r == '$':
		case unicode.IsLetter(r) || unicode.IsDigit(r):
		default:
			return fmt.Errorf("djcache: db: table name %q holds %q; use letters, digits, spaces and _ - $ only", name, r)
		}
	}
	return nil
}

// quote quotes an identifier already checked by checkTable (or one of the
// column names): no quote character can occur inside it.
func (d Dialect) quote(name string) string {
	if d == MySQL {
		return "`" + name + "`"
	}
	return `"` + name + `"`
}

// sqlText holds the fixed statements of one table, with ? placeholders
// already turned into the dialect's own.
type sqlText struct {
	get         string // now, key -> value, live
	getExp      string // key -> value, expires
	has         string // key, now -> 1
	set         string // key, value, exp
	add         string // key, value, exp, now [, now]
	del         string // key, now -> live (RETURNING); MySQL: key, now (live rows only)
	delExpired  string // key, now
	touch       string // exp, key, now
	touchCheck  string // key, exp, now -> 1 (MySQL only)
	incrLock    string // PG/MySQL: now, key -> value, live; SQLite: key, now
	incrUpdate  string // value, key
	count       string
	cullExpired string // now
	cullN       string // n
	clear       string
}

// Statement ids, indexes into Driver.stmts.
const (
	stGet = iota
	stGetExp
	stHas
	stSet
	stAdd
	stDel
	stDelExpired
	stTouch
	stTouchCheck
	stIncrLock
	stIncrUpdate
	numStmts
)

func (s *sqlText) byID(id int) string {
	switch id {
	case stGet:
		return s.get
	case stGetExp:
		return s.getExp
	case stHas:
		return s.has
	case stSet:
		return s.set
	case stAdd:
		return s.add
	case stDel:
		return s.del
	case stDelExpired:
		return s.delExpired
	case stTouch:
		return s.touch
	case stTouchCheck:
		return s.touchCheck
	case stIncrLock:
		return s.incrLock
	case stIncrUpdate:
		return s.incrUpdate
	}
	panic("djcache: db: unknown statement id " + strconv.Itoa(id))
}

// placeholders rewrites the ? of a statement into $1, $2, ... for
// PostgreSQL. Identifiers never hold '?' (checkTable refuses it).
func (d Dialect) placeholders(s string) string {
	if d != PostgreSQL || !strings.Contains(s, "?") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// statements builds the fixed statements of table.
func (d Dialect) statements(table string) sqlText {
	t, k, v, e := d.quote(table), d.quote("cache_key"), d.quote("value"), d.quote("expires")
	r := strings.NewReplacer("{t}", t, "{k}", k, "{v}", v, "{e}", e)
	f := func(s string) string { return d.placeholders(r.Replace(s)) }
	s := sqlText{
		get:         f("SELECT {v}, {e} > ? FROM {t} WHERE {k} = ?"),
		getExp:      f("SELECT {v}, {e} FROM {t} WHERE {k} = ?"),
		has:         f("SELECT 1 FROM {t} WHERE {k} = ? AND {e} > ?"),
		delExpired:  f("DELETE FROM {t} WHERE {k} = ? AND {e} <= ?"),
		touch:       f("UPDATE {t} SET {e} = ? WHERE {k} = ? AND {e} > ?"),
		incrUpdate:  f("UPDATE {t} SET {v} = ? WHERE {k} = ?"),
		count:       f("SELECT COUNT(*) FROM {t}"),
		cullExpired: f("DELETE FROM {t} WHERE {e} <= ?"),
		clear:       f("DELETE FROM {t}"),
	}
	insert := "INSERT INTO {t} ({k}, {v}, {e}) VALUES (?, ?, ?)"
	switch d {
	case MySQL:
		s.set = f(insert + " ON DUPLICATE KEY UPDATE {v} = VALUES({v}), {e} = VALUES({e})")
		// The assignments run left to right: V's condition reads the old E,
		// and so does E's, since V's assignment does not change E.
		s.add = f(insert + " ON DUPLICATE KEY UPDATE {v} = IF({e} <= ?, VALUES({v}), {v}), {e} = IF({e} <= ?, VALUES({e}), {e})")
		s.del = f("DELETE FROM {t} WHERE {k} = ? AND {e} > ?")
		s.touchCheck = f("SELECT 1 FROM {t} WHERE {k} = ? AND {e} = ? AND {e} > ?")
		s.incrLock = f("SELECT {v}, {e} > ? FROM {t} WHERE {k} = ? FOR UPDATE")
		s.cullN = f("DELETE FROM {t} ORDER BY {e}, {k} LIMIT ?")
	default:
		s.set = f(insert + " ON CONFLICT ({k}) DO UPDATE SET {v} = excluded.{v}, {e} = excluded.{e}")
		s.add = f(insert + " ON CONFLICT ({k}) DO UPDATE SET {v} = excluded.{v}, {e} = excluded.{e} WHERE {t}.{e} <= ?")
		s.del = f("DELETE FROM {t} WHERE {k} = ? RETURNING {e} > ?")
		s.touchCheck = s.has // unused
		if d == SQLite {
			// A write first, so that the transaction holds SQLite's write
			// lock (waiting for it under busy_timeout) before it reads.
			s.incrLock = f("UPDATE {t} SET {e} = {e} WHERE {k} = ? RETURNING {v}, {e} > ?")
		} else {
			s.incrLock = f("SELECT {v}, {e} > ? FROM {t} WHERE {k} = ? FOR UPDATE")
		}
		s.cullN = f("DELETE FROM {t} WHERE {k} IN (SELECT {k} FROM {t} ORDER BY {e}, {k} LIMIT ?)")
	}
	return s
}

// inList appends "(?, ?, ...)" with n placeholders.
func inList(b *strings.Builder, n int) {
	b.WriteByte('(')
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('?')
	}
	b.WriteByte(')')
}

// getManySQL selects n keys: args now, key1..keyn.
func (d Dialect) getManySQL(table string, n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "SELECT %s, %s, %s > ? FROM %s WHERE %s IN ", d.quote("cache_key"), d.quote("value"), d.quote("expires"), d.quote(table), d.quote("cache_key"))
	inList(&b, n)
	return d.placeholders(b.String())
}

// deleteManySQL deletes n keys: args key1..keyn, or with expiredOnly,
// now, key1..keyn and only the rows expired at now.
func (d Dialect) deleteManySQL(table string, n int, expiredOnly bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "DELETE FROM %s WHERE ", d.quote(table))
	if expiredOnly {
		fmt.Fprintf(&b, "%s <= ? AND ", d.quote("expires"))
	}
	fmt.Fprintf(&b, "%s IN ", d.quote("cache_key"))
	inList(&b, n)
	return d.placeholders(b.String())
}

// setManySQL upserts n rows: args key, value, exp for each.
func (d Dialect) setManySQL(table string, n int) string {
	k, v, e := d.quote("cache_key"), d.quote("value"), d.quote("expires")
	var b strings.Builder
	fmt.Fprintf(&b, "INSERT INTO %s (%s, %s, %s) VALUES ", d.quote(table), k, v, e)
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(?, ?, ?)")
	}
	if d == MySQL {
		fmt.Fprintf(&b, " ON DUPLICATE KEY UPDATE %s = VALUES(%s), %s = VALUES(%s)", v, v, e, e)
	} else {
		fmt.Fprintf(&b, " ON CONFLICT (%s) DO UPDATE SET %s = excluded.%s, %s = excluded.%s", k, v, v, e, e)
	}
	return d.placeholders(b.String())
}

// escapeMark starts an escape in a stored key. U+FFFF is a Unicode
// noncharacter: text never holds it.
const escapeMark = '\uFFFF'

// storedKey returns the cache_key under which key is stored. SQLite
// stores any bytes. PostgreSQL cannot store NUL or invalid UTF-8 in a
// varchar, and MySQL refuses (or, outside strict mode, replaces) invalid
// UTF-8; for them a key holding NUL, invalid UTF-8 or U+FFFF is escaped
// (U+FFFF "0" for NUL, U+FFFF "x" HEX HEX for an invalid byte, U+FFFF
// U+FFFF for U+FFFF), which keeps distinct keys distinct. Every other key
// is stored as it is, as Django stores it.
func (d Dialect) storedKey(key string) string {
	if d == SQLite || !needsEscape(key) {
		return key
	}
	var b strings.Builder
	b.Grow(len(key) + 8)
	for i := 0; i < len(key); {
		r, size := utf8.DecodeRuneInString(key[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			const hex = "0123456789abcdef"
			b.WriteRune(escapeMark)
			b.WriteByte('x')
			b.WriteByte(hex[key[i]>>4])
			b.WriteByte(hex[key[i]&15])
		case r == 0:
			b.WriteRune(escapeMark)
			b.WriteByte('0')
		case r == escapeMark:
			b.WriteRune(escapeMark)
			b.WriteRune(escapeMark)
		default:
			b.WriteString(key[i : i+size])
		}
		i += size
	}
	return b.String()
}

func needsEscape(key string) bool {
	if strings.IndexByte(key, 0) >= 0 || !utf8.ValidString(key) {
		return true
	}
	// U+FFFF is EF BF BF in UTF-8.
	return strings.Contains(key, "\uFFFF")
}
