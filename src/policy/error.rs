//! Errors of loading and testing policies, each pointing at the file, line and column at fault.

use std::path::PathBuf;

/// Why a policy could not be loaded, or a test file could not be read.
///
/// `Display` is `file:line:column: message`, the shape editors and CI logs understand, so an
/// operator can jump straight to the mistake.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// A policy file or list has a syntax or validation error at a known place.
    #[error("{}:{line}:{column}: {message}", file.display())]
    Invalid {
        /// The file at fault.
        file: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column, in characters.
        column: usize,
        /// What is wrong, in plain words.
        message: String,
    },
    /// A file could not be read at all.
    #[error("{}:1:1: cannot read the file", file.display())]
    Io {
        /// The file that could not be read.
        file: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Writing the output of a CLI command failed.
    #[error("writing output")]
    Output(#[source] std::io::Error),
    /// The file watcher could not be started.
    #[error("{}:1:1: cannot watch policy files: {message}", file.display())]
    Watch {
        /// The folder that was to be watched.
        file: PathBuf,
        /// The watcher's error.
        message: String,
    },
}

impl PolicyError {
    /// Builds an [`PolicyError::Invalid`] from a byte offset into `text`.
    pub(crate) fn at_offset(
        file: &std::path::Path,
        text: &str,
        offset: usize,
        message: impl Into<String>,
    ) -> Self {
        let (line, column) = line_column(text, offset);
        PolicyError::Invalid {
            file: file.to_path_buf(),
            line,
            column,
            message: message.into(),
        }
    }

    /// Builds an [`PolicyError::Invalid`] for a given line (1-based) and column 1.
    pub(crate) fn at_line(file: &std::path::Path, line: usize, message: impl Into<String>) -> Self {
        PolicyError::Invalid {
            file: file.to_path_buf(),
            line,
            column: 1,
            message: message.into(),
        }
    }

    pub(crate) fn io(file: &std::path::Path, source: std::io::Error) -> Self {
        PolicyError::Io {
            file: file.to_path_buf(),
            source,
        }
    }
}

/// 1-based line and column (in characters) of a byte offset; offsets past the end point at the end.
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_column_counts_characters_not_bytes() {
        let text = "a = 1\nbé = [\n";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 6), (2, 1));
        // 'é' is two bytes; the space after it is the third character of line 2.
        assert_eq!(line_column(text, 9), (2, 3));
        assert_eq!(line_column(text, 999), (3, 1));
    }

    #[test]
    fn display_is_file_line_column_message() {
        let e = PolicyError::at_line(std::path::Path::new("p/default.toml"), 7, "bad");
        assert_eq!(e.to_string(), "p/default.toml:7:1: bad");
    }
}
