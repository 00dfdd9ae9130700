package locmem

// NewPrivate returns a Driver on a store of its own, bounded by o (nil
// means the defaults): no name reaches it and no other Driver shares it.
// Package tiered keeps a cache's process-local tier (L1) in one. Unlike a
// named store, which lives as long as the process, a private store goes
// with its Driver: Close empties it and stops its background expiry work.
func NewPrivate(o *Options) (*Driver, error) {
	b, err := o.bounds()
	if err != nil {
		return nil, err
	}
	s, err := newStore("", b)
	if err != nil {
		return nil, err
	}
	s.private = true
	return &Driver{s: s}, nil
}
