//! Why a kernel cannot be built from the shapes it was given (they come from a model file).

/// Inconsistent layer shapes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KernelError {
    #[error("{what} has {found} values, expected {expected}")]
    Length { what: &'static str, found: usize, expected: usize },
    #[error("{what} must be at least 1, found {found:?}")]
    Zero { what: &'static str, found: Vec<usize> },
    #[error("{channels} {what} channels do not split into {groups} groups")]
    Groups { what: &'static str, channels: usize, groups: usize },
}
