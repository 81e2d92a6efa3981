package alert

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kintsugi-ir/kintsugi/internal/incident"
)

func sample() *Alert {
	t := time.Date(2024, 3, 9, 2, 0, 0, 0, time.UTC)
	return &Alert{Schema: Schema, ID: NewID(t), Time: t, Host: "fs01", Kind: KindRansomware, Rule: "ransomware-behaviour",
		Severity: incident.Critical, Title: "Ransomware behaviour stopped", Summary: "lock (pid 4242) rewrote 2 files",
		Action: &Action{Stopped: true, Killed: true}, Process: &Process{Pid: 4242, PPid: 1, Exe: "/tmp/lock"}}
}

func TestJournal(t *testing.T) {
	p := filepath.Join(t.TempDir(), "state", "alerts.jsonl")
	j, err := OpenJournal(p)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := j.Send(context.Background(), sample()); err != nil {
			t.Fatal(err)
		}
	}
	j.Close()
	fi, _ := os.Stat(p)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("journal mode %v, want 0600", fi.Mode().Perm())
	}
	f, _ := os.Open(p)
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		var a Alert
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil || a.Process.Pid != 4242 || a.Schema != 1 {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		n++
	}
	if n != 3 {
		t.Fatalf("%d lines", n)
	}
}

func TestWebhookRetry(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		if r.Header.Get("Authorization") != "Bearer s3cret-token" || r.Header.Get("Content-Type") != "application/json" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var a Alert
		if err := json.NewDecoder(r.Body).Decode(&a); err != nil || a.Host != "fs01" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if n < 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	w, err := NewWebhook(WebhookOptions{URL: srv.URL + "/hook", Token: "s3cret-token", Backoff: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Send(context.Background(), sample()); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 3 {
		t.Errorf("%d calls, want 3 (two 503s, then success)", calls.Load())
	}
}

func TestWebhookErrorsKeepSecrets(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden)
	}))
	defer srv.Close()
	w, _ := NewWebhook(WebhookOptions{URL: srv.URL + "/hook?key=q-secret", Token: "s3cret-token", Backoff: time.Millisecond})
	err := w.Send(context.Background(), sample())
	if err == nil || strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "q-secret") || !strings.Contains(err.Error(), "403") {
		t.Fatalf("error %v: want a 403 without secrets", err)
	}
	// unreachable: retried, then given up, still without secrets
	w, _ = NewWebhook(WebhookOptions{URL: "http://127.0.0.1:1/hook?key=q-secret", Token: "s3cret-token", Attempts: 2, Backoff: time.Millisecond})
	err = w.Send(context.Background(), sample())
	if err == nil || strings.Contains(err.Error(), "q-secret") || !strings.Contains(err.Error(), "2 attempts") {
		t.Fatalf("error %v", err)
	}
	if _, err := NewWebhook(WebhookOptions{URL: "https://user:pw@example.net/x"}); err == nil || strings.Contains(err.Error(), "pw") {
		t.Fatalf("credentials in the URL: %v", err)
	}
}

// slowSink blocks until released.
type slowSink struct {
	release chan struct{}
	got     atomic.Int32
}

func (s *slowSink) Name() string { return "slow" }
func (s *slowSink) Send(context.Context, *Alert) error {
	<-s.release
	s.got.Add(1)
	return nil
}
func (s *slowSink) Close() error { return nil }

func TestDispatcherSlowSink(t *testing.T) {
	p := filepath.Join(t.TempDir(), "alerts.jsonl")
	j, _ := OpenJournal(p)
	slow := &slowSink{release: make(chan struct{})}
	var fast atomic.Int32
	d := NewDispatcher(slog.New(slog.NewTextHandler(io.Discard, nil)), j, slow, FuncSink{SinkName: "fast", Fn: func(context.Context, *Alert) error {
		fast.Add(1)
		return nil
	}})
	done := make(chan struct{})
	go func() {
		for range 5 {
			d.Send(context.Background(), sample())
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("a blocked sink delayed Send")
	}
	close(slow.release)
	d.Close()
	if slow.got.Load() != 5 || fast.Load() != 5 {
		t.Errorf("delivered slow=%d fast=%d, want 5 each", slow.got.Load(), fast.Load())
	}
	b, _ := os.ReadFile(p)
	if strings.Count(string(b), "\n") != 5 {
		t.Errorf("journal has %d lines", strings.Count(string(b), "\n"))
	}
	if l := Line(sample()); !strings.Contains(l, "stopped, killed") || !strings.Contains(l, "ransomware-behaviour") {
		t.Errorf("line = %q", l)
	}
}
