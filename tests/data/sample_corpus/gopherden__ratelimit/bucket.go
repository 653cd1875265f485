// Package ratelimit provides a token bucket and a keyed limiter built on it.
package ratelimit

import (
	"sync"
	"time"
)

// Clock lets tests control time.
type Clock interface {
	Now() time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// Bucket is a token bucket: it holds up to Burst tokens and refills at Rate
// tokens per second. It is safe for concurrent use.
type Bucket struct {
	mu       sync.Mutex
	rate     float64
	burst    float64
	tokens   float64
	lastFill time.Time
	clock    Clock
}

// NewBucket returns a full bucket.
func NewBucket(rate float64, burst int) *Bucket {
	return newBucketWithClock(rate, burst, systemClock{})
}

func newBucketWithClock(rate float64, burst int, clock Clock) *Bucket {
	if rate <= 0 || burst <= 0 {
		panic("ratelimit: rate and burst must be positive")
	}
	return &Bucket{
		rate:     rate,
		burst:    float64(burst),
		tokens:   float64(burst),
		lastFill: clock.Now(),
		clock:    clock,
	}
}

// refill adds the tokens earned since the last call. Callers hold mu.
func (b *Bucket) refill(now time.Time) {
	elapsed := now.Sub(b.lastFill).Seconds()
	if elapsed <= 0 {
		return
	}
	b.tokens += elapsed * b.rate
	if b.tokens > b.burst {
		b.tokens = b.burst
	}
	b.lastFill = now
}

// AllowN reports whether n tokens are available and takes them if so.
func (b *Bucket) AllowN(n int) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refill(b.clock.Now())
	if b.tokens < float64(n) {
		return false
	}
	b.tokens -= float64(n)
	return true
}

// Allow is AllowN(1).
func (b *Bucket) Allow() bool { return b.AllowN(1) }

// Wait returns how long the caller must wait before n tokens are available.
func (b *Bucket) Wait(n int) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refill(b.clock.Now())
	missing := float64(n) - b.tokens
	if missing <= 0 {
		return 0
	}
	return time.Duration(missing / b.rate * float64(time.Second))
}
