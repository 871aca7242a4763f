package fakevpp

import "sync"

// outbox is an unbounded FIFO of encoded messages for one client. The
// engine pushes under its lock and never blocks; a writer goroutine owned
// by the connection drains it (VPP queues socket output the same way).
type outbox struct {
	mu     sync.Mutex
	queue  [][]byte
	dead   bool // nobody drains any more: drop
	notify chan struct{}
}

// kill makes push drop messages: the connection is gone.
func (o *outbox) kill() {
	o.mu.Lock()
	o.dead = true
	o.queue = nil
	o.mu.Unlock()
}

func newOutbox() *outbox { return &outbox{notify: make(chan struct{}, 1)} }

func (o *outbox) push(b []byte) {
	o.mu.Lock()
	if o.dead {
		o.mu.Unlock()
		return
	}
	o.queue = append(o.queue, b)
	o.mu.Unlock()
	select {
	case o.notify <- struct{}{}:
	default:
	}
}

// drain delivers messages in order until done is closed or deliver fails.
func (o *outbox) drain(done <-chan struct{}, deliver func([]byte) error) error {
	for {
		o.mu.Lock()
		batch := o.queue
		o.queue = nil
		o.mu.Unlock()
		for _, b := range batch {
			if err := deliver(b); err != nil {
				o.kill()
				return err
			}
		}
		if len(batch) > 0 {
			continue
		}
		select {
		case <-done:
			// Flush what was queued before the stop.
			o.mu.Lock()
			rest := o.queue
			o.queue = nil
			o.mu.Unlock()
			for _, b := range rest {
				if err := deliver(b); err != nil {
					return err
				}
			}
			return nil
		case <-o.notify:
		}
	}
}
