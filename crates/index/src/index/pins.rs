//! Pinned commits: a commit kept readable after later ones, for readers that must see
//! one fixed state (a shard set's published generation) while a writer goes on.
//!
//! A pin is a copy of the store's `meta.json` at one commit, kept as
//! `pins/<opstamp>.json` beside the store. The store's directory refuses to delete a
//! file that a pinned commit still uses: tantivy keeps such a file in its list of
//! managed files and deletes it at a later garbage collection, once no pin needs it.
//! A handle opened at a pin reads the pinned `meta.json` instead of the current one,
//! so it sees that commit's segments and deletes, and nothing later.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;
use tantivy::directory::error::{DeleteError, LockError, OpenReadError, OpenWriteError};
use tantivy::directory::{
    Directory, DirectoryLock, FileHandle, Lock, MmapDirectory, WatchCallback, WatchHandle, WritePtr,
};

use crate::error::{Error, Result};
use crate::vector_log::sync_dir;

/// The folder of pins, inside the index folder.
pub(super) const PINS_DIR: &str = "pins";
const META_FILE: &str = "meta.json";

/// The store's directory: memory-mapped files, deletes that spare what pins need, and
/// optionally a pinned `meta.json` read in place of the current one.
#[derive(Clone, Debug)]
pub(super) struct StoreDirectory {
    inner: MmapDirectory,
    pins: PathBuf,
    /// The pinned commit's metadata this handle reads (a read-only handle).
    meta: Option<Arc<Vec<u8>>>,
}

impl StoreDirectory {
    pub(super) fn new(inner: MmapDirectory, pins: PathBuf, meta: Option<Vec<u8>>) -> Self {
        StoreDirectory {
            inner,
            pins,
            meta: meta.map(Arc::new),
        }
    }
}

impl Directory for StoreDirectory {
    fn get_file_handle(&self, path: &Path) -> Result<Arc<dyn FileHandle>, OpenReadError> {
        self.inner.get_file_handle(path)
    }

    fn delete(&self, path: &Path) -> Result<(), DeleteError> {
        let refuse = |why: &str| DeleteError::IoError {
            io_error: Arc::new(io::Error::other(why.to_owned())),
            filepath: path.to_owned(),
        };
        if self.meta.is_some() {
            return Err(refuse("a handle opened at a pinned commit deletes nothing"));
        }
        match pinned_files(&self.pins) {
            Ok(pinned) if pinned.keeps(path) => Err(refuse("a pinned commit uses it")),
            Ok(_) => self.inner.delete(path),
            // Pins that cannot be read might need any file: keep them all.
            Err(_) => Err(refuse("the pins could not be read")),
        }
    }

    fn exists(&self, path: &Path) -> Result<bool, OpenReadError> {
        self.inner.exists(path)
    }

    fn open_write(&self, path: &Path) -> Result<WritePtr, OpenWriteError> {
        self.inner.open_write(path)
    }

    fn atomic_read(&self, path: &Path) -> Result<Vec<u8>, OpenReadError> {
        match &self.meta {
            Some(meta) if path == Path::new(META_FILE) => Ok(meta.to_vec()),
            _ => self.inner.atomic_read(path),
        }
    }

    fn atomic_write(&self, path: &Path, data: &[u8]) -> io::Result<()> {
        if self.meta.is_some() && path == Path::new(META_FILE) {
            return Err(io::Error::other(
                "a handle opened at a pinned commit does not commit",
            ));
        }
        self.inner.atomic_write(path, data)
    }

    fn sync_directory(&self) -> io::Result<()> {
        self.inner.sync_directory()
    }

    fn acquire_lock(&self, lock: &Lock) -> Result<DirectoryLock, LockError> {
        self.inner.acquire_lock(lock)
    }

    fn watch(&self, watch_callback: WatchCallback) -> tantivy::Result<WatchHandle> {
        self.inner.watch(watch_callback)
    }
}

/// The store files the pinned commits use: per segment (its id as in file names), the
/// opstamp of its delete file in each pin that holds it (`None`: no deletes).
#[derive(Default)]
struct Pinned(HashMap<String, Vec<Option<u64>>>);

impl Pinned {
    fn keeps(&self, path: &Path) -> bool {
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            return false;
        };
        let mut parts = name.split('.');
        let Some(stamps) = parts.next().and_then(|segment| self.0.get(segment)) else {
            return false;
        };
        let rest: Vec<&str> = parts.collect();
        match rest.as_slice() {
            // `<segment>.<opstamp>.del`: only the delete file a pin reads.
            [opstamp, "del"] => opstamp
                .parse::<u64>()
                .is_ok_and(|o| stamps.contains(&Some(o))),
            _ => true,
        }
    }
}

/// Reads every pin in `dir` (none when the folder does not exist).
fn pinned_files(dir: &Path) -> io::Result<Pinned> {
    let mut pinned = Pinned::default();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(pinned),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let path = entry?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let meta: Value = serde_json::from_slice(&std::fs::read(&path)?)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        for segment in meta["segments"].as_array().into_iter().flatten() {
            let Some(id) = segment["segment_id"].as_str() else {
                continue;
            };
            pinned
                .0
                .entry(id.replace('-', ""))
                .or_default()
                .push(segment["deletes"]["opstamp"].as_u64());
        }
    }
    Ok(pinned)
}

/// The opstamp recorded in a `meta.json`.
pub(super) fn opstamp_of(meta: &[u8]) -> Option<u64> {
    serde_json::from_slice::<Value>(meta).ok()?["opstamp"].as_u64()
}

/// Writes `meta` as the pin of its commit under `index` and returns the commit's
/// opstamp. The file is complete or absent (written aside, synced, then renamed).
pub(super) fn write_pin(index: &Path, meta: &[u8]) -> Result<u64> {
    let dir = index.join(PINS_DIR);
    let opstamp = opstamp_of(meta).ok_or_else(|| Error::Corrupt {
        path: index.to_owned(),
        reason: "the store's meta.json has no opstamp".into(),
    })?;
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| Error::Io { path, source }
    };
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    let target = dir.join(format!("{opstamp}.json"));
    let tmp = dir.join(format!("{opstamp}.json.tmp"));
    write_synced(&tmp, meta).map_err(io(&tmp))?;
    std::fs::rename(&tmp, &target).map_err(io(&target))?;
    sync_dir(&dir).map_err(io(&dir))?;
    Ok(opstamp)
}

/// The pinned `meta.json` of commit `opstamp` under `index`.
pub(super) fn read_pin(index: &Path, opstamp: u64) -> Result<Vec<u8>> {
    let path = index.join(PINS_DIR).join(format!("{opstamp}.json"));
    match std::fs::read(&path) {
        Ok(bytes) => Ok(bytes),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(Error::NotPinned {
            path: index.to_owned(),
            commit: opstamp,
        }),
        Err(source) => Err(Error::Io { path, source }),
    }
}

/// The opstamps pinned under `index`, in increasing order.
pub(super) fn list_pins(index: &Path) -> Result<Vec<u64>> {
    let dir = index.join(PINS_DIR);
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(Error::Io { path: dir, source }),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| Error::Io {
            path: dir.clone(),
            source,
        })?;
        let name = entry.file_name();
        if let Some(stamp) = name
            .to_str()
            .and_then(|n| n.strip_suffix(".json"))
            .and_then(|n| n.parse::<u64>().ok())
        {
            out.push(stamp);
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// Removes the pin of commit `opstamp` under `index` (nothing when there is none). Its
/// files are deleted by the writer's next garbage collection, unless another pin or
/// the current commit uses them.
pub(super) fn remove_pin(index: &Path, opstamp: u64) -> Result<()> {
    let path = index.join(PINS_DIR).join(format!("{opstamp}.json"));
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(Error::Io { path, source }),
    }
}

fn write_synced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write as _;
    let mut file = std::fs::File::create(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pin_keeps_its_segments_and_only_its_delete_file() {
        let dir = tempfile::tempdir().unwrap();
        let pins = dir.path().join(PINS_DIR);
        std::fs::create_dir_all(&pins).unwrap();
        let meta = r#"{"segments":[
            {"segment_id":"0b7c29c4-6a4e-4b1e-9c3e-2f1c0d9e8a77","max_doc":3,
             "deletes":{"num_deleted_docs":1,"opstamp":7}},
            {"segment_id":"11111111-2222-3333-4444-555555555555","max_doc":2,"deletes":null}],
            "opstamp":9}"#;
        std::fs::write(pins.join("9.json"), meta).unwrap();
        let pinned = pinned_files(&pins).unwrap();
        let keeps = |name: &str| pinned.keeps(Path::new(name));
        assert!(keeps("0b7c29c46a4e4b1e9c3e2f1c0d9e8a77.idx"));
        assert!(keeps("0b7c29c46a4e4b1e9c3e2f1c0d9e8a77.7.del"));
        assert!(!keeps("0b7c29c46a4e4b1e9c3e2f1c0d9e8a77.8.del"));
        assert!(keeps("11111111222233334444555555555555.store"));
        assert!(!keeps("99999999222233334444555555555555.store"));
        assert!(!keeps("meta.json"));
        assert_eq!(opstamp_of(meta.as_bytes()), Some(9));
    }

    #[test]
    fn no_pins_folder_pins_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let pinned = pinned_files(&dir.path().join(PINS_DIR)).unwrap();
        assert!(!pinned.keeps(Path::new("0b7c29c46a4e4b1e9c3e2f1c0d9e8a77.idx")));
        assert_eq!(list_pins(dir.path()).unwrap(), Vec::<u64>::new());
    }
}
