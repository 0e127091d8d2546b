//! Files a connection names — a memory system's journal, a CA certificate — live in its
//! tenant's own folder, `data_dir/tenants/<tenant>/`. A connection's settings can be
//! written through the API, so a path in them must not reach anything else on the host:
//! absolute paths and `..` are refused, and a symbolic link leading out of the folder
//! is not followed.

use std::path::{Component, Path, PathBuf};

/// The folder of `tenant`'s files under `data_dir`.
pub fn tenant_dir(data_dir: &Path, tenant: &str) -> PathBuf {
    data_dir.join("tenants").join(tenant)
}

/// Why `path` cannot name a file of a tenant, if it cannot.
pub fn path_problem(path: &Path) -> Option<String> {
    if path.as_os_str().is_empty() {
        return Some("is empty".to_owned());
    }
    if path.has_root() || path.is_absolute() {
        return Some(format!(
            "`{}` is absolute; name a file in the tenant's folder (data_dir/tenants/<tenant>/) by a relative path",
            path.display()
        ));
    }
    for component in path.components() {
        match component {
            Component::Normal(_) | Component::CurDir => {}
            Component::ParentDir => {
                return Some(format!(
                    "`{}` leaves the tenant's folder (`..`); name a file inside it",
                    path.display()
                ));
            }
            Component::RootDir | Component::Prefix(_) => {
                return Some(format!("`{}` is absolute", path.display()));
            }
        }
    }
    None
}

/// Where `path` is inside `tenant_dir`, the folder made if it is missing. Refused when
/// the path is absolute, climbs out with `..`, or leads out through a symbolic link.
pub fn resolve(tenant_dir: &Path, path: &Path) -> Result<PathBuf, String> {
    if let Some(problem) = path_problem(path) {
        return Err(problem);
    }
    std::fs::create_dir_all(tenant_dir).map_err(|e| {
        format!(
            "cannot make the tenant's folder {}: {e}",
            tenant_dir.display()
        )
    })?;
    let root = tenant_dir.canonicalize().map_err(|e| {
        format!(
            "cannot read the tenant's folder {}: {e}",
            tenant_dir.display()
        )
    })?;
    let joined = root.join(path);
    // The file itself may not exist yet (a new journal): check the deepest part that does.
    let mut existing = joined.as_path();
    while !existing.exists() {
        match existing.parent() {
            Some(parent) => existing = parent,
            None => break,
        }
    }
    let real = existing
        .canonicalize()
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if !real.starts_with(&root) {
        return Err(format!(
            "`{}` leads out of the tenant's folder through a symbolic link",
            path.display()
        ));
    }
    Ok(joined)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_relative_paths_inside_the_folder_are_taken() {
        for bad in ["/etc/passwd", "../beta/erp.jsonl", "a/../../x", ""] {
            assert!(path_problem(Path::new(bad)).is_some(), "{bad}");
        }
        for good in ["erp.jsonl", "./certs/ca.pem", "journals/shop.jsonl"] {
            assert_eq!(path_problem(Path::new(good)), None, "{good}");
        }
    }

    #[test]
    fn a_file_resolves_inside_its_tenants_folder_and_a_link_out_is_refused() {
        let data = tempfile::tempdir().expect("temp dir");
        let acme = tenant_dir(data.path(), "acme");
        let resolved = resolve(&acme, Path::new("erp.jsonl")).expect("inside");
        assert!(resolved.starts_with(acme.canonicalize().expect("made")));
        assert!(resolve(&acme, Path::new("/tmp/x")).is_err());

        let beta = tenant_dir(data.path(), "beta");
        std::fs::create_dir_all(&beta).expect("beta");
        std::fs::write(beta.join("erp.jsonl"), "{}\n").expect("beta's journal");
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(&beta, acme.join("beta")).expect("link");
            let refused = resolve(&acme, Path::new("beta/erp.jsonl")).expect_err("a link out");
            assert!(refused.contains("symbolic link"), "{refused}");
        }
    }
}
