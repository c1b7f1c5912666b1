//! Reader for the MNIST IDX files (gzip-compressed), with errors that name the file.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use flate2::read::GzDecoder;

const IMAGES_MAGIC: u32 = 2051;
const LABELS_MAGIC: u32 = 2049;

/// Why an IDX file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum IdxError {
    /// Opening or decompressing failed.
    #[error("{path}: cannot read ({source})")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The magic number is not the one for this kind of file.
    #[error("{path}: wrong magic number {found} (expected {expected}); is this the right MNIST file?")]
    Magic {
        /// The file.
        path: PathBuf,
        /// What the file has.
        found: u32,
        /// What it should have.
        expected: u32,
    },
    /// The header promises more data than the file has, or has trailing bytes.
    #[error("{path}: {detail}")]
    Truncated {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
}

/// Images as rows of `rows * cols` bytes.
#[derive(Debug)]
pub struct Images {
    /// Pixel bytes, image after image.
    pub pixels: Vec<u8>,
    /// Number of images.
    pub count: usize,
    /// Height of each image.
    pub rows: usize,
    /// Width of each image.
    pub cols: usize,
}

fn read_gz(path: &Path) -> Result<Vec<u8>, IdxError> {
    let io = |source| IdxError::Io { path: path.to_path_buf(), source };
    let mut bytes = Vec::new();
    GzDecoder::new(File::open(path).map_err(io)?)
        .read_to_end(&mut bytes)
        .map_err(|source| IdxError::Io { path: path.to_path_buf(), source })?;
    Ok(bytes)
}

fn header(path: &Path, bytes: &[u8], magic: u32, dims: usize) -> Result<Vec<usize>, IdxError> {
    let need = 4 + 4 * dims;
    if bytes.len() < need {
        return Err(IdxError::Truncated {
            path: path.to_path_buf(),
            detail: format!("only {} bytes, shorter than the {need}-byte header", bytes.len()),
        });
    }
    let word = |i: usize| u32::from_be_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    if word(0) != magic {
        return Err(IdxError::Magic { path: path.to_path_buf(), found: word(0), expected: magic });
    }
    Ok((0..dims).map(|d| word(4 + 4 * d) as usize).collect())
}

fn body(path: &Path, bytes: Vec<u8>, start: usize, len: usize) -> Result<Vec<u8>, IdxError> {
    if bytes.len() != start + len {
        return Err(IdxError::Truncated {
            path: path.to_path_buf(),
            detail: format!("header promises {len} data bytes but the file has {}", bytes.len() - start),
        });
    }
    Ok(bytes[start..].to_vec())
}

/// Reads an `idx3-ubyte.gz` image file.
pub fn read_images(path: &Path) -> Result<Images, IdxError> {
    let bytes = read_gz(path)?;
    let dims = header(path, &bytes, IMAGES_MAGIC, 3)?;
    let (count, rows, cols) = (dims[0], dims[1], dims[2]);
    let pixels = body(path, bytes, 16, count * rows * cols)?;
    Ok(Images { pixels, count, rows, cols })
}

/// Reads an `idx1-ubyte.gz` label file.
pub fn read_labels(path: &Path) -> Result<Vec<u8>, IdxError> {
    let bytes = read_gz(path)?;
    let count = header(path, &bytes, LABELS_MAGIC, 1)?[0];
    body(path, bytes, 8, count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::GzEncoder;
    use std::io::Write;

    fn gz(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let path = dir.join(name);
        let mut enc = GzEncoder::new(File::create(&path).unwrap(), flate2::Compression::fast());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap();
        path
    }

    #[test]
    fn reads_a_small_image_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = vec![0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 1];
        bytes.extend([1, 2, 3, 4]);
        let images = read_images(&gz(dir.path(), "i.gz", &bytes)).unwrap();
        assert_eq!((images.count, images.rows, images.cols), (2, 2, 1));
        assert_eq!(images.pixels, vec![1, 2, 3, 4]);
    }

    #[test]
    fn wrong_magic_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = gz(dir.path(), "labels.gz", &[0, 0, 8, 3, 0, 0, 0, 0]);
        let err = read_labels(&path).unwrap_err().to_string();
        assert!(err.contains("labels.gz") && err.contains("wrong magic number 2051"), "{err}");
    }

    #[test]
    fn truncated_body_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = gz(dir.path(), "l.gz", &[0, 0, 8, 1, 0, 0, 0, 5, 1, 2]);
        let err = read_labels(&path).unwrap_err().to_string();
        assert!(err.contains("l.gz") && err.contains("promises 5 data bytes but the file has 2"), "{err}");
    }

    #[test]
    fn not_gzip_is_an_io_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plain.gz");
        std::fs::write(&path, b"not gzip at all").unwrap();
        let err = read_labels(&path).unwrap_err().to_string();
        assert!(err.starts_with(&format!("{}: cannot read", path.display())), "{err}");
    }

    #[test]
    fn missing_file_names_the_file() {
        let err = read_images(Path::new("/nonexistent/x.gz")).unwrap_err().to_string();
        assert!(err.contains("/nonexistent/x.gz"), "{err}");
    }
}
