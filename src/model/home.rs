//! The zoorepro home: the folder holding `manifests/`, `models/` and `reports/`, and which
//! folders may be one (a trusted marker file, so that a folder planted in a shared parent takes
//! over nobody's runs).

use std::path::{Path, PathBuf};

use super::manifest::ManifestError;

/// The file that makes a folder a zoorepro home when it is found from the current directory or
/// the binary (a checkout commits one at its root). A `manifests/` folder alone is not enough:
/// one planted in a shared parent such as /tmp would otherwise take over every run below it.
pub const HOME_MARKER: &str = ".zoorepro-home";

/// The zoorepro home and the marked folders passed over on the way to it.
#[derive(Debug)]
pub struct Home {
    pub dir: PathBuf,
    /// Folders whose marker was not trusted, each with why (a warning for the user).
    pub untrusted: Vec<String>,
}

/// The folder holding `manifests/`, `models/` and `reports/`: the explicit one (`--home`,
/// `ZOOREPRO_HOME`), else the current directory or its nearest ancestor holding a trusted
/// [`HOME_MARKER`], else the nearest such ancestor of the executable (so `target/release/zoorepro`
/// finds its checkout), else the user's data folder (`$XDG_DATA_HOME/zoorepro`,
/// `~/.local/share/zoorepro`), where an installed binary keeps the user's own manifests, models
/// and reports beside the built-in manifests; that one needs no marker.
pub fn find_home(explicit: Option<&Path>) -> Result<Home, ManifestError> {
    if let Some(path) = explicit {
        return Ok(Home {
            dir: path.to_path_buf(),
            untrusted: Vec::new(),
        });
    }
    let from_cwd = std::env::current_dir().ok();
    let from_exe = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf));
    let starts: Vec<PathBuf> = [from_cwd, from_exe].into_iter().flatten().collect();
    search_home(&starts, dirs::data_dir().map(|dir| dir.join("zoorepro")))
}

/// The nearest marked ancestor of each start in turn, else `default`.
fn search_home(starts: &[PathBuf], default: Option<PathBuf>) -> Result<Home, ManifestError> {
    let mut untrusted = Vec::new();
    for start in starts {
        for dir in start.ancestors() {
            match marker_trust(dir) {
                Marker::Absent => {}
                Marker::Trusted => {
                    return Ok(Home {
                        dir: dir.to_path_buf(),
                        untrusted,
                    });
                }
                Marker::Untrusted(why) => {
                    let note = format!(
                        "{} is not used as the zoorepro home: its {HOME_MARKER} {why} (pass --home {} to use it)",
                        dir.display(),
                        dir.display()
                    );
                    if !untrusted.contains(&note) {
                        untrusted.push(note);
                    }
                }
            }
        }
    }
    let dir = default.ok_or(ManifestError::NoHome)?;
    Ok(Home { dir, untrusted })
}

enum Marker {
    Absent,
    Trusted,
    Untrusted(String),
}

/// A marker is trusted when it is a regular file (not a symlink, which anyone could point at a
/// real checkout's marker) owned by the user running zoorepro or by root: one that someone else
/// planted in a shared folder does not make it a home.
fn marker_trust(dir: &Path) -> Marker {
    use std::os::unix::fs::MetadataExt as _;
    let Ok(metadata) = std::fs::symlink_metadata(dir.join(HOME_MARKER)) else {
        return Marker::Absent;
    };
    if !metadata.file_type().is_file() {
        return Marker::Untrusted("is not a regular file".into());
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    let owner = metadata.uid();
    if owner != me && owner != 0 {
        return Marker::Untrusted(format!(
            "belongs to uid {owner}, not to you (uid {me}) or root"
        ));
    }
    Marker::Trusted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_folder_with_a_trusted_marker_is_a_home() {
        let root = tempfile::tempdir().unwrap();
        let shared_parent = root.path().join("tmp");
        let below = shared_parent.join("a/b");
        std::fs::create_dir_all(&below).unwrap();
        std::fs::create_dir_all(shared_parent.join("manifests")).unwrap();
        let data = root.path().join("data/zoorepro");
        let search = || search_home(std::slice::from_ref(&below), Some(data.clone())).unwrap();

        // manifests/ alone: passed over, silently.
        let home = search();
        assert_eq!(home.dir, data);
        assert!(home.untrusted.is_empty());

        // A symlink marker (to anyone's marker): passed over, with a note.
        let real = root.path().join("checkout");
        std::fs::create_dir_all(&real).unwrap();
        std::fs::write(real.join(HOME_MARKER), "# a home\n").unwrap();
        std::os::unix::fs::symlink(real.join(HOME_MARKER), shared_parent.join(HOME_MARKER))
            .unwrap();
        let home = search();
        assert_eq!(home.dir, data);
        assert_eq!(home.untrusted.len(), 1);
        assert!(
            home.untrusted[0].contains("is not a regular file"),
            "{home:?}"
        );

        // A marker the user owns: the nearest marked ancestor is the home.
        std::fs::remove_file(shared_parent.join(HOME_MARKER)).unwrap();
        std::fs::write(shared_parent.join(HOME_MARKER), "").unwrap();
        assert_eq!(search().dir, shared_parent);
        std::fs::write(below.join(HOME_MARKER), "").unwrap();
        assert_eq!(search().dir, below);

        // No marked folder and no data folder: the error says what marks a home.
        std::fs::remove_file(below.join(HOME_MARKER)).unwrap();
        std::fs::remove_file(shared_parent.join(HOME_MARKER)).unwrap();
        let error = search_home(std::slice::from_ref(&below), None).unwrap_err();
        assert!(error.to_string().contains(".zoorepro-home"), "{error}");
    }

    #[test]
    fn a_marker_someone_else_owns_is_not_trusted() {
        // Only root can give a file away; as any other user this is checked by the symlink case.
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            crate::testing::not_applicable("giving a file to another user needs root");
            return;
        }
        let root = tempfile::tempdir().unwrap();
        let marker = root.path().join(HOME_MARKER);
        std::fs::write(&marker, "").unwrap();
        std::os::unix::fs::chown(&marker, Some(54321), None).unwrap();
        let data = root.path().join("data");
        let home = search_home(&[root.path().to_path_buf()], Some(data.clone())).unwrap();
        assert_eq!(home.dir, data);
        assert!(
            home.untrusted[0].contains("belongs to uid 54321"),
            "{home:?}"
        );
        std::os::unix::fs::chown(&marker, Some(0), None).unwrap();
        let home = search_home(&[root.path().to_path_buf()], Some(data)).unwrap();
        assert_eq!(home.dir, root.path());
    }
}
