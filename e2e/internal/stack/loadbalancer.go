package stack

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// loadBalancer is a TCP (layer 4) round-robin balancer in front of the
// gateways, as a cloud load balancer with TLS passthrough would be: each
// new connection goes to the next gateway, TLS (and SNI) pass through
// untouched. It gives the replicas the one public URL agents know them by.
type loadBalancer struct {
	ln      net.Listener
	next    atomic.Uint64
	targets atomic.Pointer[[]string]

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

func startLoadBalancer(t testing.TB) *loadBalancer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("stack: load balancer: %v", err)
	}
	lb := &loadBalancer{ln: ln, conns: map[net.Conn]struct{}{}}
	lb.targets.Store(&[]string{})
	lb.wg.Go(lb.serve)
	t.Cleanup(lb.close)
	return lb
}

// Addr is host:port of the balancer.
func (lb *loadBalancer) Addr() string { return lb.ln.Addr().String() }

func (lb *loadBalancer) setTargets(addrs []string) { lb.targets.Store(&addrs) }

func (lb *loadBalancer) serve() {
	for {
		c, err := lb.ln.Accept()
		if err != nil {
			return
		}
		if !lb.track(c) {
			_ = c.Close()
			return
		}
		lb.wg.Go(func() { lb.proxy(c) })
	}
}

// track registers c so close can cut it; false once closed.
func (lb *loadBalancer) track(c net.Conn) bool {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	if lb.closed {
		return false
	}
	lb.conns[c] = struct{}{}
	return true
}

func (lb *loadBalancer) untrack(c net.Conn) {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	delete(lb.conns, c)
}

func (lb *loadBalancer) proxy(client net.Conn) {
	defer lb.untrack(client)
	defer client.Close()
	targets := *lb.targets.Load()
	if len(targets) == 0 {
		return
	}
	addr := targets[int(lb.next.Add(1)-1)%len(targets)]
	backend, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return
	}
	if !lb.track(backend) {
		_ = backend.Close()
		return
	}
	defer lb.untrack(backend)
	defer backend.Close()
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		// Half-close so the other side sees EOF; a full close ends both.
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		done <- struct{}{}
	}
	go pipe(backend, client)
	go pipe(client, backend)
	<-done
	<-done
}

func (lb *loadBalancer) close() {
	_ = lb.ln.Close()
	lb.mu.Lock()
	lb.closed = true
	for c := range lb.conns {
		_ = c.Close()
	}
	lb.mu.Unlock()
	lb.wg.Wait()
}
