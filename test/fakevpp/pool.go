package fakevpp

// pool allocates indexes like vppinfra's pools (src/vppinfra/pool.h):
// a freed index is reused before the vector grows, most recently freed
// first.
type pool[T any] struct {
	used []bool
	free []uint32
}

func (p *pool[T]) get() uint32 {
	if n := len(p.free); n > 0 {
		idx := p.free[n-1]
		p.free = p.free[:n-1]
		p.used[idx] = true
		return idx
	}
	p.used = append(p.used, true)
	return uint32(len(p.used) - 1)
}

func (p *pool[T]) put(idx uint32) {
	if int(idx) < len(p.used) && p.used[idx] {
		p.used[idx] = false
		p.free = append(p.free, idx)
	}
}

// isFree reports whether idx is not allocated.
func (p *pool[T]) isFree(idx uint32) bool {
	return int(idx) >= len(p.used) || !p.used[idx]
}

// bitmap allocates the lowest clear bit, as clib_bitmap_next_clear does
// (used for tap/tun ids, src/vnet/devices/tap/tap.c).
type bitmap map[uint32]bool

func (b bitmap) lowestClear() uint32 {
	for i := uint32(0); ; i++ {
		if !b[i] {
			return i
		}
	}
}
