package migrate

import (
	"context"
	"sync"
	"time"
)

// limiter is a token bucket shared by all workers: --bwlimit caps the rate
// at which bytes are handed to the destination. The bucket holds at most
// one second of tokens, so a pause is not followed by a burst.
type limiter struct {
	mu     sync.Mutex
	rate   float64 // bytes per second
	tokens float64
	last   time.Time
}

func newLimiter(bytesPerSecond int64) *limiter {
	if bytesPerSecond <= 0 {
		return nil
	}
	return &limiter{rate: float64(bytesPerSecond), tokens: float64(bytesPerSecond), last: time.Now()}
}

// wait blocks until n bytes may pass.
func (l *limiter) wait(ctx context.Context, n int) error {
	if l == nil {
		return nil
	}
	for n > 0 {
		take := min(float64(n), l.rate)
		l.mu.Lock()
		now := time.Now()
		l.tokens = min(l.rate, l.tokens+now.Sub(l.last).Seconds()*l.rate)
		l.last = now
		l.tokens -= take
		var delay time.Duration
		if l.tokens < 0 {
			delay = time.Duration(-l.tokens / l.rate * float64(time.Second))
		}
		l.mu.Unlock()
		if delay > 0 {
			t := time.NewTimer(delay)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
		}
		n -= int(take)
	}
	return nil
}
