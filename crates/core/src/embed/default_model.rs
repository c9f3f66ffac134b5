//! Where the embedding model is looked for when none is named.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The environment variable naming the model directory used when none is given.
pub const MODEL_ENV: &str = "TRAWL_MODEL";

/// The model directory looked for under the current directory when neither
/// [`MODEL_ENV`] nor an installed model names one: where `models/fetch.sh` puts
/// all-MiniLM-L6-v2 in a checkout.
pub const DEFAULT_MODEL_DIR: &str = "models/all-MiniLM-L6-v2";

/// The model directory to use when none is given, the first of:
///
/// 1. `$TRAWL_MODEL` ([`MODEL_ENV`]), when set and not empty, whether or not the
///    directory exists (loading it then fails with an error that names it);
/// 2. `installed`, when it is a directory: weights installed with the caller (the
///    Python package passes the model directory of its `model` extra);
/// 3. [`DEFAULT_MODEL_DIR`] under the current directory, when it is a directory.
///
/// `None` when none of them applies. A model given explicitly comes before all of
/// these: [`CollectionBuilder::open`](crate::CollectionBuilder::open) calls this only
/// for a new collection given no model directory, embedder, `keyword_only` or
/// `dimension`; an existing collection reopens with the model it was created with.
#[must_use]
pub fn default_model_dir(installed: Option<&Path>) -> Option<PathBuf> {
    pick(
        std::env::var_os(MODEL_ENV),
        installed,
        Path::new(DEFAULT_MODEL_DIR),
    )
}

/// [`default_model_dir`] with the environment's value and the local directory given.
fn pick(env: Option<OsString>, installed: Option<&Path>, local: &Path) -> Option<PathBuf> {
    if let Some(dir) = env.filter(|value| !value.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    installed
        .filter(|dir| dir.is_dir())
        .or_else(|| Some(local).filter(|dir| dir.is_dir()))
        .map(Path::to_path_buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_comes_first_even_when_missing() {
        let dir = tempfile::tempdir().unwrap();
        let got = pick(Some("/no/such/model".into()), Some(dir.path()), dir.path());
        assert_eq!(got, Some(PathBuf::from("/no/such/model")));
    }

    #[test]
    fn an_empty_environment_value_is_unset() {
        let dir = tempfile::tempdir().unwrap();
        let got = pick(Some(OsString::new()), None, dir.path());
        assert_eq!(got.as_deref(), Some(dir.path()));
    }

    #[test]
    fn the_installed_model_comes_before_the_local_one() {
        let installed = tempfile::tempdir().unwrap();
        let local = tempfile::tempdir().unwrap();
        let got = pick(None, Some(installed.path()), local.path());
        assert_eq!(got.as_deref(), Some(installed.path()));
    }

    #[test]
    fn missing_directories_are_passed_over() {
        let local = tempfile::tempdir().unwrap();
        let missing = local.path().join("missing");
        assert_eq!(
            pick(None, Some(&missing), local.path()).as_deref(),
            Some(local.path())
        );
        assert_eq!(pick(None, Some(&missing), &missing), None);
        assert_eq!(pick(None, None, &missing), None);
    }
}
