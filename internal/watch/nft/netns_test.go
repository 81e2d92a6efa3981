//go:build linux

package nft

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/kintsugi-ir/kintsugi/internal/watch/watchtest"
)

func listen(t *testing.T, ns, addr string)     { watchtest.Listen(t, ns, addr) }
func reach(t *testing.T, ns, addr string) bool { return watchtest.Reach(t, ns, addr) }

// TestIsolationInNamespace: inside a network namespace with a veth pair,
// isolation keeps the management port answering and drops everything
// else, in both directions; release restores it; blocking drops one
// source.
func TestIsolationInNamespace(t *testing.T) {
	p := watchtest.NewNetPair(t)
	n := NFT{Prefix: p.Exec(p.Host)}
	ctx := context.Background()
	listen(t, p.Host, p.HostAddr+":2222") // management (ssh, say)
	listen(t, p.Host, p.HostAddr+":8080") // a service
	listen(t, p.Peer, p.PeerAddr+":9000") // somewhere the host may call
	if !reach(t, p.Peer, p.HostAddr+":2222") || !reach(t, p.Peer, p.HostAddr+":8080") || !reach(t, p.Host, p.PeerAddr+":9000") {
		t.Fatal("the pair does not work before isolation")
	}
	mgmt, _ := ParseEndpoint(p.PeerAddr + ":2222")
	if err := n.Isolate(ctx, []Endpoint{mgmt}); err != nil {
		t.Fatal(err)
	}
	if ok, err := n.Isolated(ctx); !ok || err != nil {
		t.Fatalf("Isolated = %v %v", ok, err)
	}
	if !reach(t, p.Peer, p.HostAddr+":2222") {
		t.Error("management port dropped")
	}
	if reach(t, p.Peer, p.HostAddr+":8080") {
		t.Error("service still reachable while isolated")
	}
	if reach(t, p.Host, p.PeerAddr+":9000") {
		t.Error("host still reaches out while isolated")
	}
	// isolating again replaces the table (idempotent)
	if err := n.Isolate(ctx, []Endpoint{mgmt}); err != nil {
		t.Fatal(err)
	}
	if err := n.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if err := n.Release(ctx); err != nil {
		t.Fatalf("second release: %v", err)
	}
	if !reach(t, p.Peer, p.HostAddr+":8080") || !reach(t, p.Host, p.PeerAddr+":9000") {
		t.Error("release did not restore traffic")
	}
	// block the peer for a while
	if err := n.Block(ctx, netip.MustParseAddr(p.PeerAddr), time.Hour); err != nil {
		t.Fatal(err)
	}
	if reach(t, p.Peer, p.HostAddr+":2222") {
		t.Error("blocked source still connects")
	}
	if b, err := n.Blocked(ctx); err != nil || len(b) != 1 || b[0].String() != p.PeerAddr {
		t.Errorf("Blocked = %v %v", b, err)
	}
	if err := n.Block(ctx, netip.MustParseAddr("127.0.0.1"), time.Hour); err == nil {
		t.Error("loopback blocked")
	}
	if err := n.Unblock(ctx); err != nil {
		t.Fatal(err)
	}
	if !reach(t, p.Peer, p.HostAddr+":2222") {
		t.Error("unblock did not restore the source")
	}
}
