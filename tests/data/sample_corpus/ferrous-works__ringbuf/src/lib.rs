//! Fixed-capacity ring buffer backed by an array; never allocates.
#![cfg_attr(not(test), no_std)]

mod iter;

pub use iter::Iter;

use core::mem::MaybeUninit;

/// A ring buffer holding at most `N` values of `T`.
pub struct RingBuf<T, const N: usize> {
    slots: [MaybeUninit<T>; N],
    head: usize,
    len: usize,
}

impl<T, const N: usize> RingBuf<T, N> {
    const EMPTY: MaybeUninit<T> = MaybeUninit::uninit();

    pub const fn new() -> Self {
        Self { slots: [Self::EMPTY; N], head: 0, len: 0 }
    }

    pub const fn capacity(&self) -> usize {
        N
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn is_full(&self) -> bool {
        self.len == N
    }

    fn slot(&self, offset: usize) -> usize {
        (self.head + offset) % N
    }

    /// Append `value`, or hand it back if the buffer is full.
    pub fn try_push(&mut self, value: T) -> Result<(), T> {
        if self.is_full() {
            return Err(value);
        }
        let idx = self.slot(self.len);
        self.slots[idx].write(value);
        self.len += 1;
        Ok(())
    }

    /// Append `value`, dropping and returning the oldest element when full.
    pub fn push_overwrite(&mut self, value: T) -> Option<T> {
        let evicted = if self.is_full() { self.pop() } else { None };
        let _ = self.try_push(value);
        evicted
    }

    /// Remove and return the oldest element.
    pub fn pop(&mut self) -> Option<T> {
        if self.is_empty() {
            return None;
        }
        // SAFETY: slots [head, head + len) are initialised.
        let value = unsafe { self.slots[self.head].assume_init_read() };
        self.head = self.slot(1);
        self.len -= 1;
        Some(value)
    }

    pub fn iter(&self) -> Iter<'_, T, N> {
        Iter::new(self)
    }

    pub(crate) fn get(&self, offset: usize) -> Option<&T> {
        if offset >= self.len {
            return None;
        }
        // SAFETY: offset < len, so the slot is initialised.
        Some(unsafe { self.slots[self.slot(offset)].assume_init_ref() })
    }
}

impl<T, const N: usize> Drop for RingBuf<T, N> {
    fn drop(&mut self) {
        while self.pop().is_some() {}
    }
}

impl<T, const N: usize> Default for RingBuf<T, N> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overwrite_evicts_oldest() {
        let mut rb: RingBuf<u8, 3> = RingBuf::new();
        for v in 1..=3 {
            assert!(rb.try_push(v).is_ok());
        }
        assert_eq!(rb.push_overwrite(4), Some(1));
        assert_eq!(rb.iter().copied().collect::<Vec<_>>(), vec![2, 3, 4]);
    }

    #[test]
    fn try_push_on_full_returns_value() {
        let mut rb: RingBuf<&str, 1> = RingBuf::new();
        rb.try_push("a").unwrap();
        assert_eq!(rb.try_push("b"), Err("b"));
    }
}
