package ratelimit

import (
	"sync"
	"time"
)

// Keyed hands out one Bucket per key (client IP, API key, user id...) and
// forgets buckets that have been idle for longer than ttl.
type Keyed struct {
	mu      sync.Mutex
	rate    float64
	burst   int
	ttl     time.Duration
	buckets map[string]*entry
	clock   Clock
}

type entry struct {
	bucket   *Bucket
	lastSeen time.Time
}

// NewKeyed creates a keyed limiter; ttl <= 0 keeps buckets forever.
func NewKeyed(rate float64, burst int, ttl time.Duration) *Keyed {
	return &Keyed{rate: rate, burst: burst, ttl: ttl, buckets: make(map[string]*entry), clock: systemClock{}}
}

// Allow takes one token from the bucket of key.
func (k *Keyed) Allow(key string) bool {
	k.mu.Lock()
	now := k.clock.Now()
	e, ok := k.buckets[key]
	if !ok {
		e = &entry{bucket: newBucketWithClock(k.rate, k.burst, k.clock)}
		k.buckets[key] = e
	}
	e.lastSeen = now
	k.mu.Unlock()
	return e.bucket.Allow()
}

// Sweep drops idle buckets and returns how many were removed.
func (k *Keyed) Sweep() int {
	if k.ttl <= 0 {
		return 0
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	cutoff := k.clock.Now().Add(-k.ttl)
	removed := 0
	for key, e := range k.buckets {
		if e.lastSeen.Before(cutoff) {
			delete(k.buckets, key)
			removed++
		}
	}
	return removed
}

// Len is the number of tracked keys.
func (k *Keyed) Len() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.buckets)
}
