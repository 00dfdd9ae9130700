package memcached

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/djcache/djcache/driver"
)

var _ driver.Pinger = (*Driver)(nil)

// Ping implements driver.Pinger: it sends the version command to every
// server at once, each over a new connection (dialled as the client dials,
// TLS included), and reports the servers that did not answer, each named.
// Each server has the client's timeout (Options.Timeout) for the dial and
// again for the reply, or less if ctx ends sooner. A Driver given a Client
// and no servers pings through the client (gomemcache's Ping, one server
// after another).
func (d *Driver) Ping(ctx context.Context) error {
	if err := d.start(ctx); err != nil {
		return err
	}
	if d.sel == nil {
		_, err := run(ctx, true, pingCall, call{c: d.client})
		return err
	}
	errs := make([]error, len(d.sel.nodes))
	var wg sync.WaitGroup
	for i, n := range d.sel.nodes {
		wg.Go(func() {
			if err := d.pingServer(ctx, n); err != nil {
				errs[i] = fmt.Errorf("server %s: %w", n.name, err)
			}
		})
	}
	wg.Wait()
	return joinErrors(errs)
}

// joinErrors is errors.Join on one line: the non-nil errors separated by
// "; ", each still found by errors.Is and errors.As.
func joinErrors(errs []error) error {
	var (
		format []string
		args   []any
	)
	for _, err := range errs {
		if err != nil {
			format = append(format, "%w")
			args = append(args, err)
		}
	}
	if len(args) == 0 {
		return nil
	}
	return fmt.Errorf(strings.Join(format, "; "), args...)
}

func pingCall(c call) (struct{}, error) { return struct{}{}, c.c.Ping() }

// pingServer sends "version" to one server and reads its "VERSION ..."
// reply.
func (d *Driver) pingServer(ctx context.Context, n node) error {
	dial := d.client.DialContext
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	dctx, cancel := context.WithTimeout(ctx, d.timeout)
	conn, err := dial(dctx, n.addr.Network(), n.addr.String())
	cancel()
	if err != nil {
		return ctxErr(ctx, err)
	}
	defer conn.Close()
	// The reply's deadline first, then the cut when ctx ends, which must
	// win over it.
	conn.SetDeadline(time.Now().Add(d.timeout))
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := conn.Write([]byte("version\r\n")); err != nil {
		return ctxErr(ctx, err)
	}
	line, err := bufio.NewReader(conn).ReadSlice('\n')
	if err != nil {
		return ctxErr(ctx, err)
	}
	if !bytes.HasPrefix(line, []byte("VERSION ")) {
		return fmt.Errorf("unexpected reply to version: %q", bytes.TrimRight(line, "\r\n"))
	}
	return nil
}
