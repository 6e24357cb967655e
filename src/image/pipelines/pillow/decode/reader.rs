//! The byte reader Pillow's plugins read through: Python's file object over the file's bytes,
//! with short reads at the end and never an error. Each plugin adds what it reads with it (a
//! JPEG marker segment, a PNG chunk) in its own `impl` block.

/// Reads like Python's file object over `bytes`: short reads at the end, never an error.
pub(super) struct Reader<'a> {
    pub(super) bytes: &'a [u8],
    pub(super) pos: usize,
}

impl<'a> Reader<'a> {
    /// `fp.read(n)`: at most `n` bytes, fewer at the end of the file.
    pub(super) fn read(&mut self, n: usize) -> &'a [u8] {
        let end = self.pos.saturating_add(n).min(self.bytes.len());
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        out
    }

    /// `fp.read(1)`, as a byte: `None` at the end of the file.
    pub(super) fn read_byte(&mut self) -> Option<u8> {
        self.read(1).first().copied()
    }
}
