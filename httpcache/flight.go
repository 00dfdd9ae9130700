package httpcache

import "sync"

// flightGroup collapses concurrent misses of one key in this process: the
// first request (the leader) renders the page, the others wait until the
// leader has stored it or found that it cannot be stored, then look in the
// cache again.
type flightGroup struct {
	mu sync.Mutex         // protects m
	m  map[string]*flight // the flights in progress, by key
}

// A flight is one leader's render.
type flight struct {
	key  string
	done chan struct{} // closed by release
	once sync.Once
}

// join returns the flight of key, and whether the caller leads it.
func (g *flightGroup) join(key string) (*flight, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if f, ok := g.m[key]; ok {
		return f, false
	}
	if g.m == nil {
		g.m = map[string]*flight{}
	}
	f := &flight{key: key, done: make(chan struct{})}
	g.m[key] = f
	return f, true
}

// release ends f and wakes its waiters; later calls do nothing.
func (g *flightGroup) release(f *flight) {
	f.once.Do(func() {
		g.mu.Lock()
		if g.m[f.key] == f {
			delete(g.m, f.key)
		}
		g.mu.Unlock()
		close(f.done)
	})
}
