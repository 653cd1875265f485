package ratelimit

import (
	"testing"
	"time"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time          { return c.t }
func (c *fakeClock) Advance(d time.Duration) { c.t = c.t.Add(d) }

func TestBucketRefillsOverTime(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1700000000, 0)}
	b := newBucketWithClock(2, 2, clock)
	if !b.Allow() || !b.Allow() {
		t.Fatal("a full bucket should allow its burst")
	}
	if b.Allow() {
		t.Fatal("an empty bucket should refuse")
	}
	clock.Advance(500 * time.Millisecond)
	if !b.Allow() {
		t.Fatal("half a second at 2/s should give one token")
	}
}

func TestWaitReportsMissingTime(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1700000000, 0)}
	b := newBucketWithClock(4, 1, clock)
	b.Allow()
	if got := b.Wait(1); got != 250*time.Millisecond {
		t.Fatalf("Wait(1) = %v, want 250ms", got)
	}
}

func TestKeyedSweepDropsIdleKeys(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1700000000, 0)}
	k := NewKeyed(1, 1, time.Minute)
	k.clock = clock
	k.Allow("10.0.0.5")
	clock.Advance(2 * time.Minute)
	k.Allow("192.168.1.20")
	if removed := k.Sweep(); removed != 1 {
		t.Fatalf("Sweep removed %d keys, want 1", removed)
	}
	if k.Len() != 1 {
		t.Fatalf("Len = %d, want 1", k.Len())
	}
}
