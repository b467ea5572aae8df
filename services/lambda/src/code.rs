//! Deployment packages: zips checked, stored by content hash and unpacked safely.
//!
//! A package is kept once per content (`<sha256>.zip` under the code directory) and
//! unpacked on first use into `<sha256>/`, which becomes the task root of every
//! environment running it. Unpacking refuses entries that would land outside that
//! directory (`..`, absolute paths, symlinks pointing out), as a zip is untrusted input.

use base64::Engine;
use nephos_core::AwsError;
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;

/// AWS's limits: 50 MB zipped when uploaded directly, 250 MB unzipped (layers included).
pub const ZIPPED_LIMIT: usize = 50 * 1024 * 1024;
pub const UNZIPPED_LIMIT: u64 = 262_144_000;

/// A checked package.
#[derive(Debug, Clone)]
pub struct Package {
    /// Base64 SHA-256 of the zip, as `CodeSha256` reports it.
    pub sha256: String,
    /// The same hash in hex: the package's file name.
    pub key: String,
    pub size: u64,
}

pub fn unzip_error() -> AwsError {
    AwsError::new(
        400,
        "InvalidParameterValueException",
        "Could not unzip uploaded file. Please check your file, then try to upload again.",
    )
}

/// Checks that `zip` is a readable zip within the unzipped limit and hashes it.
pub fn inspect(zip: &[u8]) -> Result<Package, AwsError> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).map_err(|_| unzip_error())?;
    let mut unzipped: u64 = 0;
    for i in 0..archive.len() {
        let f = archive.by_index_raw(i).map_err(|_| unzip_error())?;
        unzipped = unzipped.saturating_add(f.size());
    }
    if unzipped > UNZIPPED_LIMIT {
        return Err(AwsError::new(
            400,
            "InvalidParameterValueException",
            format!("Unzipped size must be smaller than {UNZIPPED_LIMIT} bytes"),
        ));
    }
    let digest = Sha256::digest(zip);
    Ok(Package {
        sha256: base64::engine::general_purpose::STANDARD.encode(digest),
        key: hex::encode(digest),
        size: zip.len() as u64,
    })
}

/// Where packages live: the data directory's `lambda/code`, or a directory of this run.
pub struct CodeStore {
    root: PathBuf,
    /// Serializes unpacking, so two first invocations do not unpack one package twice.
    unpacking: Mutex<()>,
}

impl CodeStore {
    /// The directory is made when the first package is stored.
    pub fn new(root: PathBuf) -> std::io::Result<CodeStore> {
        Ok(CodeStore {
            root,
            unpacking: Mutex::new(()),
        })
    }

    pub fn zip_path(&self, key: &str) -> PathBuf {
        self.root.join(format!("{key}.zip"))
    }

    /// Stores a package durably (written, fsynced, renamed) unless it is there already.
    pub fn store(&self, key: &str, zip: &[u8]) -> std::io::Result<()> {
        let path = self.zip_path(key);
        if path.exists() {
            return Ok(());
        }
        std::fs::create_dir_all(&self.root)?;
        let tmp = self.root.join(format!("{key}.{}.tmp", std::process::id()));
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(zip)?;
        f.sync_all()?;
        std::fs::rename(&tmp, &path)?;
        std::fs::File::open(&self.root)?.sync_all()
    }

    pub fn read(&self, key: &str) -> std::io::Result<Vec<u8>> {
        std::fs::read(self.zip_path(key))
    }

    /// The unpacked package, unpacking it first if needed.
    pub fn unpacked(&self, key: &str) -> Result<PathBuf, String> {
        let dir = self.root.join(key);
        if dir.join(".nephos-unpacked").exists() {
            return Ok(dir);
        }
        let _guard = self.unpacking.lock().unwrap_or_else(|e| e.into_inner());
        if dir.join(".nephos-unpacked").exists() {
            return Ok(dir);
        }
        let zip = self
            .read(key)
            .map_err(|e| format!("code package missing: {e}"))?;
        let tmp = self.root.join(format!("{key}.unpacking"));
        let _ = std::fs::remove_dir_all(&tmp);
        unpack(&zip, &tmp)?;
        std::fs::write(tmp.join(".nephos-unpacked"), b"").map_err(|e| e.to_string())?;
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::rename(&tmp, &dir).map_err(|e| e.to_string())?;
        Ok(dir)
    }
}

/// Unpacks `zip` into `dest`, refusing anything that would escape it.
pub fn unpack(zip: &[u8], dest: &Path) -> Result<(), String> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(dest).map_err(|e| e.to_string())?;
    for i in 0..archive.len() {
        let mut f = archive.by_index(i).map_err(|e| e.to_string())?;
        let Some(rel) = f.enclosed_name() else {
            return Err(format!(
                "zip entry {:?} points outside the package",
                f.name()
            ));
        };
        let path = dest.join(&rel);
        if f.is_dir() {
            std::fs::create_dir_all(&path).map_err(|e| e.to_string())?;
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
        }
        if f.is_symlink() {
            let mut target = String::new();
            f.read_to_string(&mut target).map_err(|e| e.to_string())?;
            if !link_stays_inside(&rel, Path::new(&target)) {
                return Err(format!(
                    "zip entry {:?} links outside the package",
                    f.name()
                ));
            }
            std::os::unix::fs::symlink(&target, &path).map_err(|e| e.to_string())?;
            continue;
        }
        let mut out = std::fs::File::create(&path).map_err(|e| e.to_string())?;
        std::io::copy(&mut f, &mut out).map_err(|e| e.to_string())?;
        // Keep the executable bits (a custom runtime's bootstrap); never setuid bits.
        let mode = f.unix_mode().unwrap_or(0o644) & 0o777;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode | 0o444))
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Whether a symlink at `entry` (relative to the package root) to `target` resolves inside.
fn link_stays_inside(entry: &Path, target: &Path) -> bool {
    if target.is_absolute() {
        return false;
    }
    let mut depth: i64 = entry.components().count() as i64 - 1;
    for c in target.components() {
        match c {
            Component::ParentDir => depth -= 1,
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            _ => return false,
        }
        if depth < 0 {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (name, data) in entries {
            w.start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            w.write_all(data).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    #[test]
    fn not_a_zip_is_refused() {
        assert_eq!(
            inspect(b"hello").unwrap_err().code,
            "InvalidParameterValueException"
        );
    }

    #[test]
    fn hash_is_base64_sha256() {
        let z = zip_of(&[("a.py", b"x = 1")]);
        let p = inspect(&z).unwrap();
        assert_eq!(p.size, z.len() as u64);
        assert_eq!(p.key.len(), 64);
    }

    #[test]
    fn entries_escaping_the_root_are_refused() {
        let dir = std::env::temp_dir().join(format!("nephos-unpack-{}", std::process::id()));
        let z = zip_of(&[("../evil", b"x")]);
        assert!(unpack(&z, &dir).is_err());
        assert!(!dir.parent().unwrap().join("evil").exists());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn links_are_checked() {
        assert!(link_stays_inside(Path::new("a/b"), Path::new("../c")));
        assert!(!link_stays_inside(Path::new("a"), Path::new("../c")));
        assert!(!link_stays_inside(Path::new("a"), Path::new("/etc/passwd")));
    }
}
