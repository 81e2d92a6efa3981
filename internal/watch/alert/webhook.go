package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Webhook POSTs each alert as JSON, retrying with exponential backoff on
// network errors, 429 and 5xx. The bearer token is sent in the
// Authorization header and never appears in errors or logs.
type Webhook struct {
	url      string
	token    string
	client   *http.Client
	attempts int
	base     time.Duration
	maxWait  time.Duration
	stop     chan struct{}
}

// WebhookOptions configure a Webhook.
type WebhookOptions struct {
	URL   string
	Token string
	// Attempts is the number of tries per alert (default 6); Backoff the
	// first wait (default 1s), doubled after each failure up to MaxWait
	// (default 1 minute).
	Attempts int
	Backoff  time.Duration
	MaxWait  time.Duration
	Timeout  time.Duration
}

// NewWebhook checks the URL and returns the sink.
func NewWebhook(o WebhookOptions) (*Webhook, error) {
	u, err := url.Parse(o.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("webhook URL %q: want http:// or https:// and a host", redactURL(o.URL))
	}
	if u.User != nil {
		return nil, errors.New("webhook URL: put credentials in the token setting, not in the URL")
	}
	w := &Webhook{url: o.URL, token: o.Token, attempts: o.Attempts, base: o.Backoff, maxWait: o.MaxWait, stop: make(chan struct{})}
	if w.attempts <= 0 {
		w.attempts = 6
	}
	if w.base <= 0 {
		w.base = time.Second
	}
	if w.maxWait <= 0 {
		w.maxWait = time.Minute
	}
	t := o.Timeout
	if t <= 0 {
		t = 10 * time.Second
	}
	w.client = &http.Client{Timeout: t, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return w, nil
}

func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable)"
	}
	u.User = nil
	u.RawQuery = ""
	return u.String()
}

// Name is "webhook".
func (w *Webhook) Name() string { return "webhook" }

// Send posts a, retrying.
func (w *Webhook) Send(ctx context.Context, a *Alert) error {
	body, err := json.Marshal(a)
	if err != nil {
		return err
	}
	wait := w.base
	var last error
	for i := range w.attempts {
		if i > 0 {
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				return ctx.Err()
			case <-w.stop:
				return fmt.Errorf("webhook: agent stopping after %d attempts: %w", i, last)
			}
			wait = min(2*wait, w.maxWait)
		}
		retry, err := w.post(ctx, body, a.ID)
		if err == nil {
			return nil
		}
		last = err
		if !retry {
			return err
		}
	}
	return fmt.Errorf("webhook: gave up after %d attempts: %w", w.attempts, last)
}

func (w *Webhook) post(ctx context.Context, body []byte, id string) (retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return false, fmt.Errorf("webhook request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "kintsugi-watch")
	req.Header.Set("Idempotency-Key", id)
	if w.token != "" {
		req.Header.Set("Authorization", "Bearer "+w.token)
	}
	resp, err := w.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL may carry a query secret: do not repeat it
		}
		return true, fmt.Errorf("webhook %s: %w", redactURL(w.url), err)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return false, nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return true, fmt.Errorf("webhook %s: %s", redactURL(w.url), resp.Status)
	}
	return false, fmt.Errorf("webhook %s: %s (not retried)", redactURL(w.url), strconv.Quote(resp.Status))
}

// Close stops pending retries.
func (w *Webhook) Close() error {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	return nil
}
