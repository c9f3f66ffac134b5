//! The full-precision vectors of an index, each stored once, in files addressed by vid.
//!
//! Row `vid` of the log is the vector of the chunk with that vid. The rows live in
//! segment files of a fixed vid range each: 1,024 vids in the first, doubling up to
//! 65,536, then 65,536 a file, so a small index has small files. A file grows as rows
//! are written, and is memory-mapped over its whole range at once, so a mapping never
//! has to grow: rows written later appear in every process's mapping through the
//! shared page cache. A row is read only once the file is known to reach past it (a
//! mapped page past the end of a file cannot be read).
//!
//! Crash safety comes from the order of writes, not from the files themselves: a
//! commit writes its rows and syncs them before tantivy's commit, whose payload
//! (`next_vid`) is the single commit point. Rows at or past the committed `next_vid`
//! belong to no chunk; they are overwritten when the vids are handed out again after a
//! crash. Rows below it never change, so a reader may use them without locks.
//!
//! Rows of deleted chunks are given back once no pinned commit and no graph point
//! needs them (see [`VectorLog::reclaim`]): a file whose rows are all dead is removed;
//! in the others, the pages holding only dead rows are punched out of the file (on
//! Linux), so they take no disk space while the file keeps its length.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// The folder of an index that holds the vector files.
pub(crate) const VECTORS_DIR: &str = "vectors";
/// Vids in the first file; each following file doubles, up to [`FULL_ROWS`].
const FIRST_ROWS: u64 = 1 << 10;
/// Vids in each file from the seventh on.
const FULL_ROWS: u64 = 1 << 16;
/// Files the first one to hold [`FULL_ROWS`] vids comes after.
const GROWING_FILES: u64 = 6;
/// Files a table of maps holds; the log holds up to `TABLE * TABLE` files (about
/// 2^40 vids).
const TABLE: usize = 4096;
const EXTENSION: &str = "f32";

/// The vector files of one index.
pub(crate) struct VectorLog {
    dir: PathBuf,
    dim: usize,
    /// Each file's map, two levels deep, made when the file is first read.
    maps: Box<[OnceLock<MapTable>]>,
    /// What a row that cannot be read reads as.
    zeros: Box<[f32]>,
}

impl std::fmt::Debug for VectorLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VectorLog")
            .field("dir", &self.dir)
            .field("dim", &self.dim)
            .finish_non_exhaustive()
    }
}

/// The maps of [`TABLE`] consecutive files.
type MapTable = Box<[OnceLock<Mapped>]>;

/// One file's map, over the file's whole range of rows.
struct Mapped {
    map: memmap2::Mmap,
    /// The mapped file: its length is looked up on this handle, never by path, so a
    /// file removed and made again under the same name cannot lengthen this map.
    file: File,
    /// Bytes the file is known to hold: rows below this can be read.
    len: AtomicU64,
}

/// The file holding `vid`, its first vid and its number of rows.
fn file_of(vid: u64) -> (u64, u64, u64) {
    if vid < FIRST_ROWS {
        (0, 0, FIRST_ROWS)
    } else if vid < FULL_ROWS {
        // `vid` is in [2^(bits - 1), 2^bits).
        let bits = u64::from(64 - vid.leading_zeros());
        let start = 1 << (bits - 1);
        (bits - 10, start, start)
    } else {
        let n = vid / FULL_ROWS;
        (GROWING_FILES + n, n * FULL_ROWS, FULL_ROWS)
    }
}

/// The first vid and the number of rows of file `file`.
fn range_of(file: u64) -> (u64, u64) {
    match file {
        0 => (0, FIRST_ROWS),
        1..=GROWING_FILES => {
            let start = FIRST_ROWS << (file - 1);
            (start, start)
        }
        _ => ((file - GROWING_FILES) * FULL_ROWS, FULL_ROWS),
    }
}

impl VectorLog {
    /// The log in `dir`, of `dim`-dimensional vectors (`dir` may not exist yet: it is
    /// created by the first write).
    pub(crate) fn new(dir: PathBuf, dim: usize) -> VectorLog {
        VectorLog {
            dir,
            dim,
            maps: (0..TABLE).map(|_| OnceLock::new()).collect(),
            zeros: vec![0.0; dim].into_boxed_slice(),
        }
    }

    fn path_of(&self, file: u64) -> PathBuf {
        self.dir.join(format!("{file:08}.{EXTENSION}"))
    }

    fn row_bytes(&self) -> u64 {
        self.dim as u64 * 4
    }

    /// The map of `file`, made now if the file exists.
    fn map(&self, file: u64) -> Option<&Mapped> {
        let (hi, lo) = (file as usize / TABLE, file as usize % TABLE);
        let table = self
            .maps
            .get(hi)?
            .get_or_init(|| (0..TABLE).map(|_| OnceLock::new()).collect());
        if let Some(map) = table[lo].get() {
            return Some(map);
        }
        let (_, rows) = range_of(file);
        let f = File::open(self.path_of(file)).ok()?;
        let len = f.metadata().ok()?.len();
        // SAFETY: a vector file is never truncated, and a row is read only below the
        // length of this very file (`Mapped::file`), so no read passes its end. Rows
        // are written only at vids no committed state holds (at or past the committed
        // `next_vid`, see the module docs), and punched to zeros only once no current
        // state needs them, so a row a search reads does not change under it except
        // in a handle that kept a state older than a compaction (whose deleted rows
        // then read as zeros; any bit pattern is an `f32`). A file changed by another
        // program is out of scope, as for any mapped index file.
        let map = unsafe {
            memmap2::MmapOptions::new()
                .len(usize::try_from(rows * self.row_bytes()).ok()?)
                .map(&f)
        }
        .ok()?;
        #[cfg(unix)]
        let _ = map.advise(memmap2::Advice::Random);
        Some(table[lo].get_or_init(|| Mapped {
            map,
            file: f,
            len: AtomicU64::new(len),
        }))
    }

    /// The vector of `vid`, or `None` when its file does not hold it.
    pub(crate) fn row(&self, vid: u64) -> Option<&[f32]> {
        let (file, start, _) = file_of(vid);
        let mapped = self.map(file)?;
        let at = (vid - start) * self.row_bytes();
        let end = at + self.row_bytes();
        if end > mapped.len.load(Ordering::Acquire) {
            // Another process may have written it since: look again.
            let len = mapped.file.metadata().ok()?.len();
            mapped.len.fetch_max(len, Ordering::AcqRel);
            if end > len {
                return None;
            }
        }
        let at = usize::try_from(at).ok()?;
        let bytes = mapped.map.get(at..at + self.dim * 4)?;
        // SAFETY: a map starts on a page boundary and a row on a multiple of 4 bytes
        // from it, so the floats are aligned; any bit pattern is an `f32`.
        Some(unsafe { std::slice::from_raw_parts(bytes.as_ptr().cast::<f32>(), self.dim) })
    }

    /// Reads the vector of `vid` into `out` (`dim` floats) with a positioned read
    /// rather than through the map: the page cache serves it, but no page enters
    /// this process's mappings (a touched map page brings the cached pages around it
    /// in too, whatever the advice). Whether the files hold it.
    pub(crate) fn read_row(&self, vid: u64, out: &mut [f32]) -> bool {
        let (file, start, _) = file_of(vid);
        let Some(mapped) = self.map(file) else {
            return false;
        };
        let Some(out) = out.get_mut(..self.dim) else {
            return false;
        };
        let at = (vid - start) * self.row_bytes();
        // SAFETY: the bytes of `out` are those of its floats (`u8` has no alignment,
        // and any bit pattern is an `f32`); the borrow is given back before `out` is
        // used again.
        let bytes =
            unsafe { std::slice::from_raw_parts_mut(out.as_mut_ptr().cast::<u8>(), out.len() * 4) };
        if read_exact_at(&mapped.file, bytes, at).is_err() {
            return false;
        }
        // The files hold little-endian floats (the maps read them as they are, which
        // is right on the little-endian CPUs trawl is built for).
        for x in out.iter_mut() {
            *x = f32::from_bits(u32::from_le(x.to_bits()));
        }
        true
    }

    /// The vector of `vid` as [`VectorLog::read_row`] reads it, or `None` when the
    /// files do not hold it.
    pub(crate) fn read(&self, vid: u64) -> Option<Vec<f32>> {
        let mut out = vec![0.0; self.dim];
        self.read_row(vid, &mut out).then_some(out)
    }

    /// The vector of `vid`, zeros when its file cannot be read.
    #[inline]
    pub(crate) fn row_or_zeros(&self, vid: u64) -> &[f32] {
        self.row(vid).unwrap_or(&self.zeros)
    }

    /// Maps every file below the one holding `next_vid`, so that this process keeps
    /// the rows of its current state even if a writer removes a file it sees as dead.
    pub(crate) fn map_below(&self, next_vid: u64) {
        if next_vid == 0 {
            return;
        }
        for file in 0..=file_of(next_vid - 1).0 {
            let _ = self.map(file);
        }
    }

    /// Writes the rows (vid, vector) and syncs them to disk, vids in increasing order
    /// (one run of consecutive vids per file is one write).
    ///
    /// # Errors
    /// I/O errors; rows of a failed write belong to no commit and are written again.
    pub(crate) fn write<'a>(
        &self,
        rows: impl IntoIterator<Item = (u64, &'a [f32])>,
    ) -> std::io::Result<()> {
        let mut runs: Vec<(u64, u64, Vec<u8>)> = Vec::new();
        for (vid, v) in rows {
            debug_assert_eq!(v.len(), self.dim);
            let (file, _, _) = file_of(vid);
            match runs.last_mut() {
                Some((f, first, bytes))
                    if *f == file && *first + bytes.len() as u64 / self.row_bytes() == vid => {}
                _ => runs.push((file, vid, Vec::new())),
            }
            let bytes = &mut runs.last_mut().expect("a run").2;
            for x in v.iter().take(self.dim) {
                bytes.extend_from_slice(&x.to_le_bytes());
            }
        }
        if runs.is_empty() {
            return Ok(());
        }
        if !self.dir.is_dir() {
            std::fs::create_dir_all(&self.dir)?;
            if let Some(parent) = self.dir.parent() {
                sync_dir(parent)?;
            }
        }
        let mut created = false;
        let mut touched: Vec<(u64, File, u64)> = Vec::new();
        for (file, first, bytes) in runs {
            if touched.last().is_none_or(|(f, _, _)| *f != file) {
                let path = self.path_of(file);
                let f = match OpenOptions::new().write(true).create_new(true).open(&path) {
                    Ok(f) => {
                        created = true;
                        f
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        OpenOptions::new().write(true).open(&path)?
                    }
                    Err(e) => return Err(e),
                };
                touched.push((file, f, 0));
            }
            let (start, _) = range_of(file);
            let (_, f, end) = touched.last_mut().expect("a file");
            let at = (first - start) * self.row_bytes();
            write_all_at(f, &bytes, at)?;
            *end = (*end).max(at + bytes.len() as u64);
        }
        for (_, f, _) in &touched {
            f.sync_data()?;
        }
        if created {
            sync_dir(&self.dir)?;
        }
        for (file, _, end) in touched {
            if let Some(mapped) = self.map(file) {
                mapped.len.fetch_max(end, Ordering::AcqRel);
            }
        }
        Ok(())
    }

    /// Gives back the rows no one needs (`needed(vid)` is false; it must hold for
    /// every vid past the last one the caller knows, which later commits write):
    /// removes the files whose whole range is unneeded, and on Linux punches the pages
    /// of the others that hold only unneeded rows out of the file. Returns the bytes of
    /// the files removed (a punched page frees its block without changing the file's
    /// length). A process that mapped a removed file keeps reading it, and its blocks
    /// stay allocated, until the process closes the index; a punched row reads as
    /// zeros at once, in every process.
    pub(crate) fn reclaim(&self, needed: impl Fn(u64) -> bool) -> u64 {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return 0;
        };
        let mut freed = 0;
        for e in entries.flatten() {
            let name = e.file_name();
            let Some(file) = name
                .to_str()
                .and_then(|n| n.strip_suffix(&format!(".{EXTENSION}")))
                .and_then(|n| n.parse::<u64>().ok())
            else {
                continue;
            };
            let (start, rows) = range_of(file);
            let len = e.metadata().map_or(0, |m| m.len());
            let written = (len / self.row_bytes().max(1)).min(rows);
            // The whole range, written or not: a file that later vids would go into
            // (the caller needs every vid past what it has seen) is never removed, so
            // no write lands in a file that is being removed.
            if !(start..start + rows).any(&needed) {
                if std::fs::remove_file(e.path()).is_ok() {
                    tracing::debug!(file, "removed a vector file of deleted chunks");
                    freed += len;
                }
                continue;
            }
            #[cfg(target_os = "linux")]
            self.punch(&e.path(), start, written, &needed);
        }
        freed
    }

    /// Punches the pages of `path` that hold only unneeded rows out of the file.
    #[cfg(target_os = "linux")]
    fn punch(&self, path: &Path, start: u64, written: u64, needed: &impl Fn(u64) -> bool) {
        use std::os::fd::AsRawFd;
        const PAGE: u64 = 4096;
        let Ok(f) = OpenOptions::new().write(true).open(path) else {
            return;
        };
        let row = self.row_bytes();
        let punch_run = |from: u64, to: u64| {
            // The whole pages inside the run's bytes.
            let (lo, hi) = ((from - start) * row, (to - start) * row);
            let (lo, hi) = (lo.div_ceil(PAGE) * PAGE, hi / PAGE * PAGE);
            if hi > lo {
                // SAFETY: a plain system call on an open descriptor; it only frees
                // blocks of the file, which reads then return as zeros.
                let done = unsafe {
                    libc::fallocate(
                        f.as_raw_fd(),
                        libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
                        i64::try_from(lo).unwrap_or(i64::MAX),
                        i64::try_from(hi - lo).unwrap_or(0),
                    )
                };
                if done != 0 {
                    tracing::debug!(
                        "cannot punch a hole in {}: {}",
                        path.display(),
                        std::io::Error::last_os_error()
                    );
                }
            }
        };
        let mut run: Option<u64> = None;
        for vid in start..start + written {
            match (needed(vid), run) {
                (false, None) => run = Some(vid),
                (true, Some(from)) => {
                    punch_run(from, vid);
                    run = None;
                }
                _ => {}
            }
        }
        if let Some(from) = run {
            punch_run(from, start + written);
        }
    }

    /// The files on disk, as (first vid, rows), in vid order.
    #[cfg(test)]
    pub(crate) fn files(&self) -> Vec<(u64, u64)> {
        let mut out: Vec<(u64, u64)> = std::fs::read_dir(&self.dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let name = e.file_name();
                let n = name.to_str()?.strip_suffix(&format!(".{EXTENSION}"))?;
                n.parse::<u64>().ok().map(range_of)
            })
            .collect();
        out.sort_unstable();
        out
    }

    /// The folder of the files.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }
}

#[cfg(unix)]
fn read_exact_at(f: &File, bytes: &mut [u8], at: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(f, bytes, at)
}

#[cfg(windows)]
fn read_exact_at(f: &File, mut bytes: &mut [u8], mut at: u64) -> std::io::Result<()> {
    while !bytes.is_empty() {
        let n = std::os::windows::fs::FileExt::seek_read(f, bytes, at)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        bytes = &mut bytes[n..];
        at += n as u64;
    }
    Ok(())
}

#[cfg(unix)]
fn write_all_at(f: &File, bytes: &[u8], at: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(f, bytes, at)
}

#[cfg(windows)]
fn write_all_at(f: &File, mut bytes: &[u8], mut at: u64) -> std::io::Result<()> {
    while !bytes.is_empty() {
        let n = std::os::windows::fs::FileExt::seek_write(f, bytes, at)?;
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        bytes = &bytes[n..];
        at += n as u64;
    }
    Ok(())
}

/// Makes a file created or renamed inside `dir` durable (a no-op where directories
/// cannot be opened).
pub(crate) fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_cover_every_vid_once_and_grow_to_full_size() {
        let mut expected_start = 0;
        for file in 0..20 {
            let (start, rows) = range_of(file);
            assert_eq!(start, expected_start, "file {file}");
            assert_eq!(file_of(start), (file, start, rows));
            assert_eq!(file_of(start + rows - 1), (file, start, rows));
            expected_start = start + rows;
        }
        assert_eq!(range_of(0).1, 1024);
        assert_eq!(range_of(6), (32_768, 32_768));
        assert_eq!(range_of(7), (65_536, 65_536));
    }

    #[test]
    fn rows_written_read_back_across_files_and_handles() {
        let dir = tempfile::tempdir().unwrap();
        let log = VectorLog::new(dir.path().join(VECTORS_DIR), 3);
        assert!(log.row(0).is_none());
        assert_eq!(log.row_or_zeros(0), &[0.0; 3]);
        let rows: Vec<(u64, Vec<f32>)> = (1000..1100u64)
            .chain(70_000..70_002)
            .map(|v| (v, vec![v as f32, 1.0, -2.5]))
            .collect();
        log.write(rows.iter().map(|(v, x)| (*v, x.as_slice())))
            .unwrap();
        let other = VectorLog::new(dir.path().join(VECTORS_DIR), 3);
        for (vid, v) in &rows {
            assert_eq!(log.row(*vid).unwrap(), v.as_slice());
            assert_eq!(other.row(*vid).unwrap(), v.as_slice());
        }
        // Unwritten rows inside a file are zeros; past its end or in a file not
        // written, they are absent.
        assert_eq!(log.row(5).unwrap(), &[0.0; 3]);
        assert!(log.row(1100).is_none());
        assert!(log.row(3000).is_none());
        assert_eq!(log.files(), vec![(0, 1024), (1024, 1024), (65_536, 65_536)]);
        // A row written past a file's end is seen by a handle that mapped it before.
        assert!(other.row(1500).is_none());
        log.write([(1500, &[2.0f32, 2.0, 2.0][..])]).unwrap();
        assert_eq!(other.row(1500).unwrap(), &[2.0; 3]);
        assert_eq!(other.row(1499).unwrap(), &[0.0; 3]);
        // A row rewritten (vids handed out again after a crash) is seen by both.
        log.write([(1001, &[9.0f32, 9.0, 9.0][..])]).unwrap();
        assert_eq!(other.row(1001).unwrap(), &[9.0; 3]);
        // Removing a file another handle mapped leaves that handle's rows readable.
        let freed = log.reclaim(|vid| !(1024..2048).contains(&vid));
        assert_eq!(freed, 477 * 12);
        assert_eq!(log.files(), vec![(0, 1024), (65_536, 65_536)]);
        assert_eq!(other.row(1050).unwrap(), &[1050.0, 1.0, -2.5]);
        let fresh = VectorLog::new(dir.path().join(VECTORS_DIR), 3);
        assert!(fresh.row(1050).is_none());
        assert_eq!(fresh.row(70_001).unwrap(), &[70_001.0, 1.0, -2.5]);
    }

    #[test]
    fn rows_past_a_short_file_are_absent() {
        let dir = tempfile::tempdir().unwrap();
        let log = VectorLog::new(dir.path().to_owned(), 4);
        std::fs::write(dir.path().join("00000000.f32"), [0u8; 100]).unwrap();
        assert_eq!(log.row(5).unwrap(), &[0.0; 4]);
        assert!(log.row(6).is_none());
        assert!(log.row(10).is_none());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn pages_of_unneeded_rows_are_punched_out() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        // 256 bytes a row: 16 rows a page.
        let log = VectorLog::new(dir.path().to_owned(), 64);
        let v = vec![1.0f32; 64];
        log.write((0..1024u64).map(|vid| (vid, v.as_slice())))
            .unwrap();
        let path = dir.path().join("00000000.f32");
        let before = std::fs::metadata(&path).unwrap();
        // Rows 8..600 unneeded: pages 1..37 (rows 16..592) can go.
        assert_eq!(log.reclaim(|vid| !(8..600).contains(&vid)), 0);
        let after = std::fs::metadata(&path).unwrap();
        assert_eq!(after.len(), before.len());
        if after.blocks() == before.blocks() {
            eprintln!("skipped: the file system of the temporary folder does not punch holes");
            return;
        }
        assert_eq!((before.blocks() - after.blocks()) * 512, 36 * 4096);
        assert_eq!(log.row(7).unwrap(), v.as_slice());
        assert_eq!(log.row(600).unwrap(), v.as_slice());
        assert_eq!(
            log.row(9).unwrap(),
            v.as_slice(),
            "a partly needed page stays"
        );
        assert_eq!(log.row(100).unwrap(), &[0.0; 64]);
    }
}
