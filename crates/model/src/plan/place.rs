//! Where a tensor of the plan lives: a range of one buffer per example. Most tensors fill their
//! own buffer; the inputs of a channel concatenation are written straight into their range of
//! the concatenation's buffer, so the concatenation costs nothing.

/// Per example `n`, values `offset + n * stride ..` (`len` of them) of buffer `slot`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Place {
    pub slot: usize,
    pub offset: usize,
    pub stride: usize,
    pub len: usize,
}

impl Place {
    /// A whole buffer of `len` values per example.
    pub fn whole(slot: usize, len: usize) -> Self {
        Self { slot, offset: 0, stride: len, len }
    }

    /// Whether the tensor is its buffer (a batch of it is one contiguous run).
    pub fn is_whole(&self) -> bool {
        self.offset == 0 && self.stride == self.len
    }

    /// Example `n` in `buffer`.
    pub fn of<'a>(&self, buffer: &'a [f32], n: usize) -> &'a [f32] {
        &buffer[self.offset + n * self.stride..][..self.len]
    }

    /// Example `n` in `buffer`, to write.
    pub fn of_mut<'a>(&self, buffer: &'a mut [f32], n: usize) -> &'a mut [f32] {
        &mut buffer[self.offset + n * self.stride..][..self.len]
    }

    /// The whole batch, when the tensor is its buffer.
    pub fn batch<'a>(&self, buffer: &'a [f32], batch: usize) -> &'a [f32] {
        debug_assert!(self.is_whole());
        &buffer[..batch * self.len]
    }
}
