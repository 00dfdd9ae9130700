package memcached

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/djcache/djcache/driver"
)

// clearPasses bounds the listings of one server by Clear: a first listing
// and deletion, then listings until one finds nothing of the cache left.
// memcached's crawler skips an item that another thread holds at that
// instant (and, walking the LRU lists of servers that cannot walk the hash
// table, one the LRU maintainer moves behind it); the next listing finds
// it.
const clearPasses = 4

// deleteBatch is how many deletes Clear writes before it reads their
// replies.
const deleteBatch = 256

// Clear implements driver.Driver. In ClearScan mode (the default) it lists
// every server's keys with "lru_crawler metadump hash" (or "all") and deletes the keys
// of the calling cache: those that start with the namespace and, for a
// Cache with Django's key function, continue with scope.Prefix + ":" +
// version + ":". In ClearFlushAll mode it sends flush_all to every server.
// See the package documentation for the trade-offs.
func (d *Driver) Clear(ctx context.Context, scope driver.Scope) error {
	if err := d.start(ctx); err != nil {
		return err
	}
	if d.clear == ClearFlushAll {
		_, err := run(ctx, d.detach(ctx, true), flushCall, call{c: d.client})
		return err
	}
	match, err := d.matcher(scope)
	if err != nil {
		return err
	}
	if d.sel == nil {
		return errors.New("Clear lists each server's keys and needs the server list: pass the servers to memcached.New with Options.Client, or choose Options.Clear = ClearFlushAll")
	}
	errs := make([]error, len(d.sel.nodes))
	var wg sync.WaitGroup
	for i, n := range d.sel.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := d.clearServer(ctx, n, match); err != nil {
				errs[i] = fmt.Errorf("server %s: %w", n.name, err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// matcher returns the test of the keys Clear deletes.
func (d *Driver) matcher(scope driver.Scope) (func(string) bool, error) {
	ns := d.ns
	if !scope.DefaultKeyFunc {
		if ns == "" {
			return nil, errors.New("Clear cannot tell this cache's keys from other applications' with a custom KeyFunc: give the driver a namespace (Options.Namespace, URL parameter namespace), which Clear then empties, or choose clear=flush to flush the servers")
		}
		return func(k string) bool { return strings.HasPrefix(k, ns) }, nil
	}
	head := ns + scope.Prefix + ":"
	return func(k string) bool {
		rest, ok := strings.CutPrefix(k, head)
		if !ok {
			return false
		}
		// Django's default key: prefix ":" version ":" key.
		rest = strings.TrimPrefix(rest, "-")
		i := 0
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		return i > 0 && i < len(rest) && rest[i] == ':'
	}, nil
}

// clearServer deletes the keys match accepts on one server, over a
// connection of its own, which a cancelled ctx closes at once.
func (d *Driver) clearServer(ctx context.Context, n node, match func(string) bool) error {
	dial := d.client.DialContext
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	dctx, cancel := context.WithTimeout(ctx, d.timeout)
	conn, err := dial(dctx, n.addr.Network(), n.addr.String())
	cancel()
	if err != nil {
		return err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	c := &rawConn{ctx: ctx, conn: conn, timeout: d.timeout, rw: bufio.NewReadWriter(bufio.NewReader(conn), bufio.NewWriter(conn)), dump: "hash"}
	for range clearPasses {
		keys, err := c.metadump(match)
		if err != nil {
			return ctxErr(ctx, err)
		}
		if len(keys) == 0 {
			return nil
		}
		if err := c.deleteAll(keys); err != nil {
			return ctxErr(ctx, err)
		}
	}
	return nil
}

// ctxErr prefers ctx's error to the I/O error it caused.
func ctxErr(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	return err
}

// rawConn speaks memcached's text protocol on one connection for the
// commands gomemcache lacks.
type rawConn struct {
	ctx     context.Context
	conn    net.Conn
	rw      *bufio.ReadWriter
	timeout time.Duration
	// dump is what metadump lists: "hash", the hash table (recent 1.6
	// releases), which holds every item however the LRU lists move, or
	// "all", the LRU lists, where the server does not know "hash".
	dump string
}

// listingTimeout is the least time Clear waits for each piece of a
// listing. memcached's crawler is a background thread that pauses between
// slices of its walk (lru_crawler_sleep), so on a busy machine a listing
// can stall for far longer than a command's reply takes.
const listingTimeout = 10 * time.Second

// extend moves the connection's deadline d ahead, unless ctx has ended (its
// AfterFunc has then set a past deadline, which must stay).
func (c *rawConn) extend(d time.Duration) error {
	c.conn.SetDeadline(time.Now().Add(d))
	return c.ctx.Err()
}

// busyWait bounds how long Clear waits for memcached's crawler to be free
// when ctx has no deadline.
const busyWait = 30 * time.Second

// metadump lists the server's keys (memcached 1.5.4 or later, LRU crawler
// enabled, which is the default) and returns those match accepts. While
// another crawl runs, the server answers BUSY and metadump tries again.
// A server that does not know "metadump hash" is asked for "all".
func (c *rawConn) metadump(match func(string) bool) ([]string, error) {
	giveUp := time.Now().Add(busyWait)
	pause := 5 * time.Millisecond
	for {
		keys, busy, err := c.metadumpOnce(match)
		if err != nil || !busy {
			return keys, err
		}
		if _, ok := c.ctx.Deadline(); !ok && time.Now().After(giveUp) {
			return nil, fmt.Errorf("lru_crawler metadump: the crawler stayed busy for %v", busyWait)
		}
		t := time.NewTimer(pause)
		select {
		case <-t.C:
		case <-c.ctx.Done():
			t.Stop()
			return nil, c.ctx.Err()
		}
		pause = min(2*pause, 200*time.Millisecond)
	}
}

func (c *rawConn) metadumpOnce(match func(string) bool) (keys []string, busy bool, err error) {
	wait := max(c.timeout, listingTimeout)
	if err := c.extend(wait); err != nil {
		return nil, false, err
	}
	if _, err := c.rw.WriteString("lru_crawler metadump " + c.dump + "\r\n"); err != nil {
		return nil, false, err
	}
	if err := c.rw.Flush(); err != nil {
		return nil, false, err
	}
	for lines := 0; ; lines++ {
		if lines%256 == 0 {
			if err := c.extend(wait); err != nil {
				return nil, false, err
			}
		}
		line, err := c.rw.ReadSlice('\n')
		if err != nil {
			return nil, false, err
		}
		switch {
		case bytes.HasPrefix(line, []byte("key=")):
			enc := line[len("key="):]
			if i := bytes.IndexByte(enc, ' '); i >= 0 {
				enc = enc[:i]
			}
			k, err := url.PathUnescape(string(bytes.TrimRight(enc, "\r\n")))
			if err == nil && match(k) {
				keys = append(keys, k)
			}
		case bytes.Equal(line, []byte("END\r\n")):
			return keys, false, nil
		case bytes.HasPrefix(line, []byte("BUSY")):
			return nil, true, nil
		case c.dump == "hash" && lines == 0 && bytes.Contains(line, []byte("ERROR")):
			c.dump = "all" // an older memcached
			return c.metadumpOnce(match)
		default:
			return nil, false, fmt.Errorf("lru_crawler metadump answered %q: Clear needs memcached 1.5.4 or later with the LRU crawler enabled (or choose clear=flush)", bytes.TrimSpace(line))
		}
	}
}

// deleteAll deletes keys, writing them in batches before reading the
// replies.
func (c *rawConn) deleteAll(keys []string) error {
	for len(keys) > 0 {
		batch := keys[:min(len(keys), deleteBatch)]
		keys = keys[len(batch):]
		if err := c.extend(c.timeout); err != nil {
			return err
		}
		for _, k := range batch {
			c.rw.WriteString("delete ")
			c.rw.WriteString(k)
			c.rw.WriteString("\r\n")
		}
		if err := c.rw.Flush(); err != nil {
			return err
		}
		for range batch {
			line, err := c.rw.ReadSlice('\n')
			if err != nil {
				return err
			}
			if !bytes.Equal(line, []byte("DELETED\r\n")) && !bytes.Equal(line, []byte("NOT_FOUND\r\n")) {
				return fmt.Errorf("delete answered %q", bytes.TrimSpace(line))
			}
		}
	}
	return nil
}
