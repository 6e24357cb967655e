//! Creating the folders a run writes into (the store's, the reports'), with an error that says
//! which path is in the way and why: `create_dir_all` answers a regular file, or a symbolic link
//! that loops or leads nowhere, with "File exists" or "Not a directory", which names neither.

use std::io;
use std::path::Path;

/// `std::fs::create_dir_all(dir)`, its error (when something in `dir`'s way exists but is not a
/// folder) saying which path that is and what it is, and what to do.
pub fn create_folder(dir: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir).map_err(|error| explain(dir, error))
}

/// `error`, from creating `dir` or a file in it, in words that name what blocks it: the deepest
/// of `dir` and its ancestors that exists but is no folder; `error` itself when none is.
pub fn explain(dir: &Path, error: io::Error) -> io::Error {
    match blocker(dir) {
        Some(reason) => io::Error::new(error.kind(), reason),
        None => error,
    }
}

/// Why the deepest existing entry among `dir` and its ancestors cannot hold files, or `None`
/// when it is a folder (the error is then about something else: permissions, space).
fn blocker(dir: &Path) -> Option<String> {
    let entry = dir
        .ancestors()
        .filter(|path| !path.as_os_str().is_empty())
        .find(|path| path.symlink_metadata().is_ok())?;
    let shown = entry.display();
    let is_link = entry.symlink_metadata().is_ok_and(|m| m.is_symlink());
    match entry.metadata() {
        Ok(metadata) if metadata.is_dir() => None,
        Ok(metadata) if metadata.is_file() => Some(format!(
            "{shown} is a file, not a folder: name a folder, or move the file away"
        )),
        Ok(_) => Some(format!(
            "{shown} is not a folder (a device, FIFO or socket): name a folder"
        )),
        Err(e) if is_link && e.raw_os_error() == Some(libc::ELOOP) => Some(format!(
            "{shown} is a symbolic link that loops ({e}), not a folder: remove the link or name a folder"
        )),
        Err(_) if is_link => Some(format!(
            "{shown} is a symbolic link to {}, which does not exist: remove the link or name a folder",
            std::fs::read_link(entry)
                .map(|target| target.display().to_string())
                .unwrap_or_else(|_| "nothing".into())
        )),
        Err(e) => Some(format!("{shown} cannot be used as a folder ({e})")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_blocker_is_named() {
        let root = tempfile::tempdir().unwrap();
        let file = root.path().join("afile");
        std::fs::write(&file, "x").unwrap();
        let looped = root.path().join("loop");
        std::os::unix::fs::symlink(&looped, &looped).unwrap();
        let dangling = root.path().join("dangling");
        std::os::unix::fs::symlink(root.path().join("gone"), &dangling).unwrap();
        let cases = [
            (file.clone(), "afile is a file, not a folder"),
            (file.join("below"), "afile is a file, not a folder"),
            (looped.clone(), "loop is a symbolic link that loops"),
            (looped.join("below"), "loop is a symbolic link that loops"),
            (dangling.clone(), "gone, which does not exist"),
        ];
        for (dir, expected) in cases {
            let message = create_folder(&dir).unwrap_err().to_string();
            assert!(message.contains(expected), "{dir:?}: {message}");
        }
        create_folder(&root.path().join("new/deeper")).unwrap();
        assert!(root.path().join("new/deeper").is_dir());
    }
}
