//! Zip containers (DOCX, PPTX, XLSX, ODS) opened with limits against zip bombs.

use std::io::{Cursor, Read};

use zip::ZipArchive;

use crate::error::{Error, Result};
use crate::limits::Limits;

pub(crate) struct Zip<'a> {
    archive: ZipArchive<Cursor<&'a [u8]>>,
    name: &'a str,
    format: &'static str,
    /// Bytes that may still be inflated.
    budget: u64,
    limit: u64,
}

impl<'a> Zip<'a> {
    /// Opens the archive and checks its entry count and declared total size.
    pub(crate) fn open(
        bytes: &'a [u8],
        name: &'a str,
        format: &'static str,
        limits: &Limits,
    ) -> Result<Zip<'a>> {
        let mut archive = ZipArchive::new(Cursor::new(bytes))
            .map_err(|e| Error::malformed(name, format, format!("bad zip container: {e}")))?;
        if archive.len() > limits.max_zip_entries {
            return Err(Error::limit(
                name,
                "zip entries",
                archive.len() as u64,
                limits.max_zip_entries as u64,
            ));
        }
        let mut declared = 0u64;
        for i in 0..archive.len() {
            if let Ok(f) = archive.by_index_raw(i) {
                declared = declared.saturating_add(f.size());
            }
        }
        if declared > limits.max_decompressed_bytes {
            return Err(Error::limit(
                name,
                "decompressed bytes",
                declared,
                limits.max_decompressed_bytes,
            ));
        }
        Ok(Zip {
            archive,
            name,
            format,
            budget: limits.max_decompressed_bytes,
            limit: limits.max_decompressed_bytes,
        })
    }

    /// Names of all entries.
    pub(crate) fn names(&self) -> Vec<String> {
        self.archive
            .file_names()
            .filter_map(|n| n.ok().map(std::borrow::Cow::into_owned))
            .collect()
    }

    /// Inflates one entry, or `None` when it does not exist. Sizes are counted as they
    /// inflate, whatever the entry declares.
    pub(crate) fn read(&mut self, path: &str) -> Result<Option<Vec<u8>>> {
        let mut file = match self.archive.by_name(path) {
            Ok(f) => f,
            Err(zip::result::ZipError::FileNotFound) => return Ok(None),
            Err(e) => {
                return Err(Error::malformed(
                    self.name,
                    self.format,
                    format!("{path}: {e}"),
                ))
            }
        };
        let mut out = Vec::new();
        let read = (&mut file)
            .take(self.budget.saturating_add(1))
            .read_to_end(&mut out)
            .map_err(|e| Error::malformed(self.name, self.format, format!("{path}: {e}")))?;
        if read as u64 > self.budget {
            return Err(Error::limit(
                self.name,
                "decompressed bytes",
                self.limit.saturating_add(1),
                self.limit,
            ));
        }
        self.budget -= read as u64;
        Ok(Some(out))
    }

    /// An entry decoded as text (XML parts), or `None` when it does not exist.
    pub(crate) fn text(&mut self, path: &str) -> Result<Option<String>> {
        Ok(self.read(path)?.map(|b| crate::text::decode(&b)))
    }
}
