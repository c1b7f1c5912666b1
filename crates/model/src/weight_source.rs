//! Where a weights file is read from. Natively the file is in memory ([`WeightBytes`]) and the
//! model's tensors are views into it. In the browser the verified file stays in JavaScript's
//! heap and the runtime copies one tensor at a time into wasm memory, which never gives memory
//! back: the whole file in wasm next to the packed weights the plan builds would double the
//! module's size for good. A source is read only while a session is created.

use crate::weights::WeightBytes;

/// Random-access reads of a weights file.
pub trait WeightSource {
    /// Size of the file in bytes.
    fn len(&self) -> usize;
    /// Whether the file is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Copies `out.len()` bytes starting at `offset` into `out`. Callers keep within
    /// [`WeightSource::len`]; the reason is reported when the source cannot deliver.
    fn read(&self, offset: usize, out: &mut [u8]) -> Result<(), String>;
    /// The file itself, when it is in memory: the loader then shares it instead of copying.
    fn resident(&self) -> Option<&WeightBytes> {
        None
    }
}

impl WeightSource for WeightBytes {
    fn len(&self) -> usize {
        <[u8]>::len(self)
    }

    fn read(&self, offset: usize, out: &mut [u8]) -> Result<(), String> {
        read_slice(self, offset, out)
    }

    fn resident(&self) -> Option<&WeightBytes> {
        Some(self)
    }
}

/// A borrowed file read through copies, never shared: a header read without taking the file,
/// and the browser's tensor-by-tensor path in native tests.
#[derive(Debug, Clone, Copy)]
pub struct SliceSource<'a>(pub &'a [u8]);

impl WeightSource for SliceSource<'_> {
    fn len(&self) -> usize {
        self.0.len()
    }

    fn read(&self, offset: usize, out: &mut [u8]) -> Result<(), String> {
        read_slice(self.0, offset, out)
    }
}

fn read_slice(file: &[u8], offset: usize, out: &mut [u8]) -> Result<(), String> {
    let range = offset.checked_add(out.len()).filter(|&end| end <= file.len()).map(|end| offset..end);
    let Some(range) = range else {
        return Err(format!("bytes {offset}..+{} are outside the {}-byte file", out.len(), file.len()));
    };
    out.copy_from_slice(&file[range]);
    Ok(())
}
