//! The shard set's manifest: which collections make up the set, and at which commit
//! each one is published. Written last and atomically, so a reader sees one
//! generation whole.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The manifest's file name in the set's folder.
pub const SHARDS_MANIFEST: &str = "shards.json";
/// The manifest format this build reads and writes.
const FORMAT_VERSION: u32 = 1;
/// How documents are routed, recorded so that a later build routing otherwise refuses
/// the set instead of sending updates to the wrong shard.
const ROUTING: &str = "fmix64(fnv1a64(tenant 0x1f doc_id)) mod shards";

/// One generation of a shard set: its shards, each at a pinned commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardManifest {
    /// The manifest format.
    pub format_version: u32,
    /// Increases by one with each publication.
    pub generation: u64,
    /// How documents are routed to shards.
    pub routing: String,
    /// The shards, in routing order.
    pub shards: Vec<ShardEntry>,
}

/// One shard of a [`ShardManifest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardEntry {
    /// The shard collection's folder, relative to the set's folder.
    pub path: String,
    /// The pinned commit (opstamp) readers open it at.
    pub commit: u64,
}

impl ShardManifest {
    /// A manifest for `shards` shard folders at these commits.
    pub(crate) fn new(generation: u64, shards: Vec<ShardEntry>) -> Self {
        ShardManifest {
            format_version: FORMAT_VERSION,
            generation,
            routing: ROUTING.to_owned(),
            shards,
        }
    }

    /// Reads the manifest of the set at `root`.
    ///
    /// # Errors
    /// [`Error::Index`] `NotFound` when there is none; [`Error::InvalidShardSet`] when
    /// it cannot be read, or was written by another format or routing.
    pub fn read(root: &Path) -> Result<ShardManifest> {
        let path = root.join(SHARDS_MANIFEST);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(trawl_index::Error::NotFound {
                    path: root.to_owned(),
                }
                .into())
            }
            Err(e) => {
                return Err(invalid(
                    root,
                    format!("cannot read {}: {e}", path.display()),
                ))
            }
        };
        let manifest: ShardManifest = serde_json::from_slice(&bytes)
            .map_err(|e| invalid(root, format!("{}: {e}", path.display())))?;
        if manifest.format_version != FORMAT_VERSION {
            return Err(invalid(
                root,
                format!(
                    "manifest format {} (this build reads {FORMAT_VERSION})",
                    manifest.format_version
                ),
            ));
        }
        if manifest.routing != ROUTING {
            return Err(invalid(
                root,
                format!("unknown routing {:?}", manifest.routing),
            ));
        }
        if manifest.shards.is_empty() {
            return Err(invalid(root, "the manifest lists no shards".into()));
        }
        for shard in &manifest.shards {
            let relative = Path::new(&shard.path);
            if relative.is_absolute()
                || relative
                    .components()
                    .any(|c| !matches!(c, std::path::Component::Normal(_)))
            {
                return Err(invalid(
                    root,
                    format!("shard path {:?} leaves the set's folder", shard.path),
                ));
            }
        }
        Ok(manifest)
    }

    /// Writes the manifest at `root`: aside, synced, then renamed over the old one, so a
    /// reader finds the old generation or this one, whole.
    pub(crate) fn write(&self, root: &Path) -> Result<()> {
        use std::io::Write as _;
        let target = root.join(SHARDS_MANIFEST);
        let tmp = root.join(format!("{SHARDS_MANIFEST}.tmp"));
        let bytes = serde_json::to_vec_pretty(self).expect("manifest serialises");
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| trawl_index::Error::Io { path, source }
        };
        let mut file = std::fs::File::create(&tmp).map_err(io(&tmp))?;
        file.write_all(&bytes).map_err(io(&tmp))?;
        file.sync_all().map_err(io(&tmp))?;
        std::fs::rename(&tmp, &target).map_err(io(&target))?;
        #[cfg(unix)]
        std::fs::File::open(root)
            .and_then(|d| d.sync_all())
            .map_err(io(root))?;
        Ok(())
    }

    /// The folders of the shards under `root`.
    #[must_use]
    pub fn shard_paths(&self, root: &Path) -> Vec<PathBuf> {
        self.shards.iter().map(|s| root.join(&s.path)).collect()
    }
}

fn invalid(root: &Path, reason: String) -> Error {
    Error::InvalidShardSet {
        path: root.to_owned(),
        reason,
    }
}

/// The shard of `shards` that holds document `doc_id` of `tenant`: FNV-1a (64-bit) of
/// the tenant, a U+001F byte and the id, mixed by MurmurHash3's 64-bit finalizer
/// (FNV's low bits depend only on the inputs' low bits, so ids that differ in one
/// character would otherwise share a shard), modulo the shard count. Stable across
/// builds and platforms, so updates and deletes reach the shard that holds the
/// document.
#[must_use]
pub fn shard_of(tenant: &str, doc_id: &str, shards: usize) -> usize {
    if shards <= 1 {
        return 0;
    }
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let bytes = tenant.bytes().chain([0x1f]).chain(doc_id.bytes());
    for b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^= h >> 33;
    // A u64 modulo a usize shard count always fits usize.
    usize::try_from(h % shards as u64).expect("below the shard count")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routing_is_stable_and_spreads_documents() {
        // Fixed values: a change here would send updates to the wrong shard.
        assert_eq!(shard_of("", "a.md", 4), shard_of("", "a.md", 4));
        assert_eq!(shard_of("", "doc", 1), 0);
        let mut counts = [0usize; 4];
        for i in 0..4000 {
            counts[shard_of("acme", &format!("doc-{i}"), 4)] += 1;
        }
        assert!(
            counts.iter().all(|&c| (800..1200).contains(&c)),
            "{counts:?}"
        );
        // The tenant takes part: the same id of two tenants may live apart.
        let apart = (0..100).any(|i| {
            let id = format!("d{i}");
            shard_of("a", &id, 8) != shard_of("b", &id, 8)
        });
        assert!(apart);
    }

    #[test]
    fn routing_values_do_not_change() {
        assert_eq!(
            (0..8)
                .map(|i| shard_of("", &format!("doc{i}"), 4))
                .collect::<Vec<_>>(),
            ROUTED
        );
    }

    /// `shard_of("", "doc0".."doc7", 4)` as first computed.
    const ROUTED: [usize; 8] = [2, 3, 2, 3, 2, 1, 3, 3];

    #[test]
    fn manifests_round_trip_and_reject_paths_outside_the_set() {
        let dir = tempfile::tempdir().unwrap();
        let m = ShardManifest::new(
            3,
            vec![ShardEntry {
                path: "shard-000".into(),
                commit: 7,
            }],
        );
        m.write(dir.path()).unwrap();
        assert_eq!(ShardManifest::read(dir.path()).unwrap(), m);
        let mut bad = m.clone();
        bad.shards[0].path = "../elsewhere".into();
        bad.write(dir.path()).unwrap();
        assert!(matches!(
            ShardManifest::read(dir.path()),
            Err(Error::InvalidShardSet { .. })
        ));
    }
}
