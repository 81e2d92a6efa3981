package bufpool

import "testing"

func TestGetPut(t *testing.T) {
	p := New(1 << 20)
	b := p.Get(5000)
	if len(b) != 5000 || cap(b) != 8192 {
		t.Fatalf("Get(5000): len %d cap %d, want 5000 and 8192", len(b), cap(b))
	}
	b[0] = 42
	p.Put(b)
	c := p.Get(6000)
	if len(c) != 6000 || &c[0] != &b[0] {
		t.Fatalf("Get(6000) after Put: did not reuse the 8 KiB buffer")
	}
	if d := p.Get(6000); &d[0] == &b[0] {
		t.Fatalf("one buffer handed out twice")
	}
}

func TestClasses(t *testing.T) {
	for _, tc := range []struct{ n, cap int }{
		{0, 4096}, {1, 4096}, {4096, 4096}, {4097, 8192}, {1 << 20, 1 << 20}, {1<<20 + 1, 2 << 20},
	} {
		if b := New(0).Get(tc.n); len(b) != tc.n || cap(b) != tc.cap {
			t.Errorf("Get(%d): len %d cap %d, want cap %d", tc.n, len(b), cap(b), tc.cap)
		}
	}
}

func TestLimit(t *testing.T) {
	p := New(12 << 10)
	a, b := p.Get(8<<10), p.Get(8<<10)
	p.Put(a)
	p.Put(b) // over the limit: dropped
	if p.held != 8<<10 {
		t.Fatalf("held %d bytes, want %d", p.held, 8<<10)
	}
	p.Put(make([]byte, 5000)) // not a pool size: ignored
	if p.held != 8<<10 {
		t.Fatalf("foreign buffer kept: held %d", p.held)
	}
}

func TestHuge(t *testing.T) {
	p := New(1 << 30)
	b := p.Get(200 << 20) // beyond the largest class: plain allocation
	if len(b) != 200<<20 {
		t.Fatalf("len %d", len(b))
	}
	p.Put(b)
	if p.held != 0 {
		t.Fatalf("kept a buffer beyond the largest class")
	}
}

func TestNil(t *testing.T) {
	var p *Pool
	if b := p.Get(10); len(b) != 10 {
		t.Fatalf("nil pool Get: len %d", len(b))
	}
	p.Put(make([]byte, 4096))
}
