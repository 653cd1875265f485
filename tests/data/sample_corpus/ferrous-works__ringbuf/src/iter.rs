use crate::RingBuf;

/// Borrowing iterator from the oldest to the newest element.
pub struct Iter<'a, T, const N: usize> {
    buf: &'a RingBuf<T, N>,
    front: usize,
    back: usize,
}

impl<'a, T, const N: usize> Iter<'a, T, N> {
    pub(crate) fn new(buf: &'a RingBuf<T, N>) -> Self {
        Self { buf, front: 0, back: buf.len() }
    }
}

impl<'a, T, const N: usize> Iterator for Iter<'a, T, N> {
    type Item = &'a T;

    fn next(&mut self) -> Option<Self::Item> {
        if self.front == self.back {
            return None;
        }
        let item = self.buf.get(self.front);
        self.front += 1;
        item
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let remaining = self.back - self.front;
        (remaining, Some(remaining))
    }
}

impl<'a, T, const N: usize> DoubleEndedIterator for Iter<'a, T, N> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.front == self.back {
            return None;
        }
        self.back -= 1;
        self.buf.get(self.back)
    }
}

impl<'a, T, const N: usize> ExactSizeIterator for Iter<'a, T, N> {}
