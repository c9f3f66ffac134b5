//! Recursive directory walk with the `ignore` crate: `.gitignore`, `.ignore` and hidden
//! files are respected; a symlink to a file is read, a symlink to a folder is not
//! followed (no loops).

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Every file under `root` (or `root` itself when it is a file), in a stable sorted
/// order. Hidden files and folders (names starting with `.`) are skipped, and so is what
/// `.gitignore`, `.ignore` and `.git/info/exclude` files exclude (also outside a git
/// repository). A symlink to a file counts as a file (under its own path); symlinked
/// folders are not entered. A folder that cannot be read yields an error for that
/// folder and the walk goes on.
pub fn walk(root: &Path) -> impl Iterator<Item = Result<PathBuf>> {
    let mut builder = ignore::WalkBuilder::new(root);
    builder
        .hidden(true)
        .ignore(true)
        .git_ignore(true)
        .git_exclude(true)
        .git_global(false)
        .parents(true)
        .require_git(false)
        .follow_links(false)
        .sort_by_file_name(std::cmp::Ord::cmp);
    let root = root.to_owned();
    builder.build().filter_map(move |entry| match entry {
        Ok(e) if e.file_type().is_some_and(|t| t.is_file()) => Some(Ok(e.into_path())),
        Ok(e) if e.path_is_symlink() && std::fs::metadata(e.path()).is_ok_and(|m| m.is_file()) => {
            Some(Ok(e.into_path()))
        }
        Ok(_) => None,
        Err(err) => Some(Err(io_error(err, &root))),
    })
}

fn io_error(err: ignore::Error, root: &Path) -> Error {
    let mut path = root.to_owned();
    let mut e = &err;
    loop {
        match e {
            ignore::Error::WithPath { path: p, err } => {
                path.clone_from(p);
                e = err;
            }
            ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
                e = err;
            }
            _ => break,
        }
    }
    let message = e.to_string();
    let source = err
        .into_io_error()
        .unwrap_or_else(|| std::io::Error::other(message));
    Error::Io { path, source }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(p: &Path) -> Vec<String> {
        walk(p)
            .map(|r| {
                r.unwrap()
                    .strip_prefix(p)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect()
    }

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
        assert_eq!(found(p), ["a.md", "b.txt", "sub/c.txt", "sub/deeper/d.md"]);
    }

    #[test]
    fn gitignore_and_ignore_files_are_respected_without_a_repository() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        std::fs::create_dir_all(p.join("build")).unwrap();
        std::fs::create_dir_all(p.join("docs")).unwrap();
        std::fs::write(p.join(".gitignore"), "build/\n*.log\n").unwrap();
        std::fs::write(p.join("docs/.ignore"), "draft.md\n").unwrap();
        for f in [
            "keep.md",
            "run.log",
            "build/out.txt",
            "docs/draft.md",
            "docs/final.md",
        ] {
            std::fs::write(p.join(f), "x").unwrap();
        }
        assert_eq!(found(p), ["docs/final.md", "keep.md"]);
    }

    #[cfg(unix)]
    #[test]
    fn a_symlinked_file_is_read_and_a_symlinked_folder_is_not_entered() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        std::fs::create_dir_all(p.join("docs")).unwrap();
        std::fs::write(p.join("docs/a.md"), "x").unwrap();
        std::os::unix::fs::symlink(p.join("docs/a.md"), p.join("linked.md")).unwrap();
        std::os::unix::fs::symlink(p.join("docs"), p.join("loop")).unwrap();
        std::os::unix::fs::symlink(p.join("gone.md"), p.join("dangling.md")).unwrap();
        assert_eq!(found(p), ["docs/a.md", "linked.md"]);
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
