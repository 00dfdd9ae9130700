package db_test

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/djcache/djcache"
	"github.com/djcache/djcache/backends/db"
)

// A cache in a SQLite file: the table is created at the first call.
func Example() {
	dir, err := os.MkdirTemp("", "djcache-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	c, err := djcache.Open("sqlite://" + filepath.ToSlash(filepath.Join(dir, "cache.db")) + "?table=my_cache_table&max_entries=1000")
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()

	if err := c.Set(ctx, "greeting", "hello"); err != nil {
		log.Fatal(err)
	}
	added, _ := c.Add(ctx, "greeting", "bonjour") // the key is taken
	var s string
	found, _ := c.Get(ctx, "greeting", &s)
	fmt.Println(s, found, added)

	c.Set(ctx, "hits", 41)
	n, _ := c.Incr(ctx, "hits", 1)
	fmt.Println(n)
	// Output:
	// hello true false
	// 42
}

// Django's createcachetable --dry-run, for PostgreSQL.
func ExampleCreateTableSQL() {
	stmts, err := db.CreateTableSQL(db.PostgreSQL, "my_cache_table")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(strings.Join(stmts, "\n"))
	// Output:
	// CREATE TABLE "my_cache_table" (
	//     "cache_key" varchar(255) NOT NULL PRIMARY KEY,
	//     "value" text NOT NULL,
	//     "expires" timestamp with time zone NOT NULL
	// );
	// CREATE INDEX "my_cache_table_expires" ON "my_cache_table" ("expires");
}

// A Driver over a *sql.DB the application already has (here PostgreSQL
// through pgx's database/sql adapter: import _ "github.com/jackc/pgx/v5/stdlib").
func ExampleNew() {
	sqlDB, err := sql.Open("pgx", "postgres://app@127.0.0.1:5432/app")
	if err != nil {
		log.Fatal(err)
	}
	defer sqlDB.Close() // the Driver does not close a *sql.DB it was given

	d, err := db.New(sqlDB, db.PostgreSQL, &db.Options{Table: "my_cache_table", MaxEntries: 10000})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := d.CreateTable(context.Background()); err != nil { // createcachetable
		log.Fatal(err)
	}
	c, err := djcache.New(d, &djcache.Options{KeyPrefix: "shop"})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
}
