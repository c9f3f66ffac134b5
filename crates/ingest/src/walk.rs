//! Recursive directory walk.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Every file under `root` (or `root` itself when it is a file), in a stable sorted
/// order. Hidden files and folders (names starting with `.`) are skipped; symlinks are
/// not followed. A folder that cannot be read yields an error for that folder and the
/// walk goes on.
pub fn walk(root: &Path) -> impl Iterator<Item = Result<PathBuf>> {
    walkdir::WalkDir::new(root)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'))
        .filter_map(|entry| match entry {
            Ok(e) if e.file_type().is_file() => Some(Ok(e.into_path())),
            Ok(_) => None,
            Err(err) => {
                let path = err.path().map_or_else(PathBuf::new, Path::to_path_buf);
                let source = err
                    .into_io_error()
                    .unwrap_or_else(|| std::io::Error::other("filesystem loop"));
                Some(Err(Error::Io { path, source }))
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_recursively_sorted_and_skips_hidden() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        std::fs::create_dir_all(p.join("sub/deeper")).unwrap();
        std::fs::create_dir_all(p.join(".git")).unwrap();
        for f in [
            "b.txt",
            "a.md",
            "sub/c.txt",
            "sub/deeper/d.md",
            ".hidden",
            ".git/x",
        ] {
            std::fs::write(p.join(f), "x").unwrap();
        }
        let found: Vec<_> = walk(p)
            .map(|r| {
                r.unwrap()
                    .strip_prefix(p)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        assert_eq!(found, ["a.md", "b.txt", "sub/c.txt", "sub/deeper/d.md"]);
    }

    #[test]
    fn missing_root_is_an_io_error_with_path() {
        let errs: Vec<_> = walk(Path::new("/no/such/dir")).collect();
        assert_eq!(errs.len(), 1);
        assert!(errs[0]
            .as_ref()
            .unwrap_err()
            .to_string()
            .contains("/no/such/dir"));
    }
}
