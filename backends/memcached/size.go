package memcached

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/djcache/djcache/driver"
)

var _ driver.Sizer = (*Driver)(nil)

// Size implements driver.Sizer with memcached's "stats" command on every
// server: Entries is the sum of curr_items and Bytes the sum of bytes (the
// items' memory, keys and headers included). memcached counts every item of
// every application on a server and cannot count one cache's keys without
// listing them all, so the counts are the whole servers', and Covers says
// so; expired items not yet reclaimed are included. Size needs the server
// list (see Options.Client) and costs one round trip per server, on a
// connection of its own.
func (d *Driver) Size(ctx context.Context, _ driver.Scope) (driver.Size, error) {
	if err := d.start(ctx); err != nil {
		return driver.Size{}, err
	}
	if d.sel == nil {
		return driver.UnknownSize, nil
	}
	var (
		mu   sync.Mutex // protects s
		s    = driver.Size{Covers: "the whole server"}
		errs = make([]error, len(d.sel.nodes))
		wg   sync.WaitGroup
	)
	if len(d.sel.nodes) > 1 {
		s.Covers = fmt.Sprintf("%d whole servers", len(d.sel.nodes))
	}
	for i, n := range d.sel.nodes {
		wg.Go(func() {
			items, bytes, err := d.serverStats(ctx, n)
			if err != nil {
				errs[i] = fmt.Errorf("server %s: %w", n.name, err)
				return
			}
			mu.Lock()
			s.Entries += items
			s.Bytes += bytes
			mu.Unlock()
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return driver.Size{}, err
	}
	return s, nil
}

// serverStats returns curr_items and bytes of one server's "stats".
func (d *Driver) serverStats(ctx context.Context, n node) (items, bytes int64, err error) {
	dial := d.client.DialContext
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	dctx, cancel := context.WithTimeout(ctx, d.timeout)
	conn, err := dial(dctx, n.addr.Network(), n.addr.String())
	cancel()
	if err != nil {
		return 0, 0, ctxErr(ctx, err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	conn.SetDeadline(time.Now().Add(d.timeout))
	if _, err := conn.Write([]byte("stats\r\n")); err != nil {
		return 0, 0, ctxErr(ctx, err)
	}
	items, bytes = -1, -1
	r := bufio.NewReader(conn)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return 0, 0, ctxErr(ctx, err)
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "END" {
			break
		}
		f := strings.Fields(line)
		if len(f) < 3 || f[0] != "STAT" {
			return 0, 0, fmt.Errorf("unexpected reply to stats: %q", line)
		}
		switch f[1] {
		case "curr_items":
			items, err = strconv.ParseInt(f[2], 10, 64)
		case "bytes":
			bytes, err = strconv.ParseInt(f[2], 10, 64)
		}
		if err != nil {
			return 0, 0, fmt.Errorf("stats %s: %w", f[1], err)
		}
	}
	if items < 0 || bytes < 0 {
		return 0, 0, errors.New("stats reply without curr_items or bytes")
	}
	return items, bytes, nil
}
