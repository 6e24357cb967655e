//! No file a command writes may replace what the command reads or keeps. A `--predictions`
//! naming the store's database, an image of `--val` or the `--onnx` file was renamed over it at
//! the end of the run: every stored run lost, an image turned into JSON Lines, the model
//! destroyed, and the run itself reported success. [`Protected`] lists what a command reads or
//! keeps; [`Protected::check`] refuses an output that is one of them (the same path in any
//! spelling, or a symbolic link to it: the writer writes through links) or lies in a protected
//! folder, before the first image is read. A hard link is another name: the writer renames its
//! file over that name, and the protected file keeps its bytes.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// What a command reads or keeps, by the path an output would have to take to replace it.
#[derive(Default)]
pub struct Protected {
    entries: Vec<Entry>,
}

struct Entry {
    /// The path with its links followed, so spellings of it compare equal.
    resolved: PathBuf,
    scope: Scope,
    /// What it is, for the message: `the ONNX model being verified`.
    what: String,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// This file.
    File,
    /// Any path inside this folder (an image folder: a file written there joins the set, or
    /// replaces one of its images).
    Folder,
}

/// How deep below `--val` links are looked for: an ImageFolder's images are one folder down.
const IMAGE_FOLDER_DEPTH: usize = 4;

impl Protected {
    pub fn new() -> Self {
        Self::default()
    }

    /// A file the command reads (a model, a ground-truth file, an image, a tar).
    pub fn file(&mut self, path: &Path, what: impl Into<String>) -> &mut Self {
        self.push(path, Scope::File, what.into())
    }

    /// A folder whose every file the command reads (an image folder): nothing may be written
    /// inside it.
    pub fn folder(&mut self, path: &Path, what: impl Into<String>) -> &mut Self {
        self.push(path, Scope::Folder, what.into())
    }

    /// A source of images, a folder or a tar file, as `--val` names it. In a folder, the target
    /// of each symbolic link in it (a subset made of links to the full set) is protected too:
    /// an output there would replace the image the folder shows.
    pub fn images(&mut self, path: &Path, what: impl Into<String>) -> &mut Self {
        let what = what.into();
        if !path.is_dir() {
            return self.file(path, what);
        }
        self.folder(path, what.clone());
        let mut folders = vec![(path.to_path_buf(), 0)];
        while let Some((folder, depth)) = folders.pop() {
            let Ok(entries) = std::fs::read_dir(&folder) else {
                continue;
            };
            for entry in entries.flatten() {
                let Ok(kind) = entry.file_type() else {
                    continue;
                };
                if kind.is_symlink() {
                    let scope = match entry.path().is_dir() {
                        true => Scope::Folder,
                        false => Scope::File,
                    };
                    self.push(&entry.path(), scope, format!("an image of {what}"));
                } else if kind.is_dir() && depth < IMAGE_FOLDER_DEPTH {
                    folders.push((entry.path(), depth + 1));
                }
            }
        }
        self
    }

    fn push(&mut self, path: &Path, scope: Scope, what: String) -> &mut Self {
        self.entries.push(Entry {
            resolved: resolve(path),
            scope,
            what,
        });
        self
    }

    /// Refuses `output` (the file the command will write `what` to) where it is, or would
    /// replace, something protected.
    pub fn check(&self, output: &Path, what: &str) -> anyhow::Result<()> {
        let resolved = resolve(output);
        let hit = self.entries.iter().find(|entry| entry.holds(&resolved));
        match hit {
            Some(entry) => anyhow::bail!(
                "cannot write {what} to {}: it {} {}, which writing {what} there would destroy \
                 or change; choose another path",
                output.display(),
                match entry.scope {
                    Scope::Folder => "lies inside",
                    Scope::File => "is",
                },
                entry.what
            ),
            None => Ok(()),
        }
    }
}

impl Entry {
    fn holds(&self, output: &Path) -> bool {
        match self.scope {
            Scope::File => output == self.resolved,
            Scope::Folder => output.starts_with(&self.resolved),
        }
    }
}

/// `path` with its links followed: the whole path where it exists, else its nearest existing
/// folder's, with the rest appended (an output is usually not there yet). A symbolic link whose
/// target does not exist yet is followed too: the writer would create its target.
fn resolve(path: &Path) -> PathBuf {
    resolve_within(path, 0)
}

/// Links followed at most (the kernel's own limit): a loop resolves to where it stopped.
const MAX_LINKS: usize = 40;

fn resolve_within(path: &Path, links: usize) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut rest: Vec<OsString> = Vec::new();
    let mut existing = absolute.as_path();
    loop {
        if let Ok(canonical) = existing.canonicalize() {
            return rest
                .iter()
                .rev()
                .fold(canonical, |path, part| path.join(part));
        }
        let dangling = std::fs::symlink_metadata(existing).is_ok_and(|m| m.is_symlink());
        if dangling
            && links < MAX_LINKS
            && let (Ok(target), Some(parent)) = (std::fs::read_link(existing), existing.parent())
        {
            let target = rest
                .iter()
                .rev()
                .fold(parent.join(target), |p, part| p.join(part));
            return resolve_within(&target, links + 1);
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                existing = parent;
            }
            _ => return absolute,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Workspace {
        _dir: tempfile::TempDir,
        root: PathBuf,
        protected: Protected,
    }

    /// A store folder with its database, an image folder with one image, a model file.
    fn workspace() -> Workspace {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        for folder in ["store", "val/n01", "models"] {
            std::fs::create_dir_all(root.join(folder)).unwrap();
        }
        for file in ["store/zoorepro.sqlite3", "val/n01/a.JPEG", "models/m.onnx"] {
            std::fs::write(root.join(file), b"x").unwrap();
        }
        let mut protected = Protected::new();
        for file in crate::store::database_files(&root.join("store")) {
            protected.file(&file, "the store");
        }
        protected
            .images(&root.join("val"), "the image set")
            .file(&root.join("models/m.onnx"), "the model")
            .file(&root.join("labels.csv"), "the ground truth");
        Workspace {
            _dir: dir,
            root,
            protected,
        }
    }

    #[test]
    fn what_a_command_reads_or_keeps_is_refused_in_every_spelling() {
        let w = workspace();
        std::os::unix::fs::symlink(w.root.join("models/m.onnx"), w.root.join("link.onnx")).unwrap();
        for (output, needle) in [
            ("store/zoorepro.sqlite3", "is the store"),
            ("store/zoorepro.sqlite3-wal", "is the store"),
            ("store/../store/zoorepro.sqlite3-journal", "is the store"),
            ("val/n01/a.JPEG", "lies inside the image set"),
            ("val/n01/new.jsonl", "lies inside the image set"),
            ("val/new/deeper/p.jsonl", "lies inside the image set"),
            ("models/m.onnx", "is the model"),
            ("link.onnx", "is the model"),
            ("labels.csv", "is the ground truth"),
        ] {
            let error = w
                .protected
                .check(&w.root.join(output), "predictions")
                .unwrap_err()
                .to_string();
            assert!(error.contains(needle), "{output}: {error}");
            assert!(error.starts_with("cannot write predictions to "), "{error}");
        }
    }

    #[test]
    fn other_files_beside_them_are_written() {
        let w = workspace();
        std::fs::hard_link(w.root.join("models/m.onnx"), w.root.join("hard.onnx")).unwrap();
        for output in [
            "store/predictions.jsonl",
            "store/zoorepro.sqlite3.json",
            "predictions.jsonl",
            "models/m.onnx.jsonl",
            "val2/a.JPEG",
            "new/folder/p.jsonl",
            // Another name of the model: replaced by the writer's rename, the model untouched.
            "hard.onnx",
        ] {
            w.protected
                .check(&w.root.join(output), "predictions")
                .unwrap();
        }
        w.protected
            .check(Path::new("/dev/stdout"), "predictions")
            .unwrap();
    }

    #[test]
    fn a_link_to_something_not_there_yet_is_followed_as_the_writer_would() {
        let w = workspace();
        let link = w.root.join("dangling.jsonl");
        std::os::unix::fs::symlink(w.root.join("store/zoorepro.sqlite3-wal"), &link).unwrap();
        let error = w.protected.check(&link, "predictions").unwrap_err();
        assert!(error.to_string().contains("is the store"), "{error}");
        // A relative link, through a link to a folder.
        std::os::unix::fs::symlink("store", w.root.join("s")).unwrap();
        std::os::unix::fs::symlink("s/zoorepro.sqlite3-shm", w.root.join("rel")).unwrap();
        assert!(
            w.protected
                .check(&w.root.join("rel"), "predictions")
                .is_err()
        );
        // A loop ends.
        std::os::unix::fs::symlink(w.root.join("loop-b"), w.root.join("loop-a")).unwrap();
        std::os::unix::fs::symlink(w.root.join("loop-a"), w.root.join("loop-b")).unwrap();
        w.protected
            .check(&w.root.join("loop-a"), "predictions")
            .unwrap();
    }

    #[test]
    fn the_targets_of_links_in_an_image_folder_are_its_images() {
        let w = workspace();
        let subset = w.root.join("subset/n01");
        std::fs::create_dir_all(&subset).unwrap();
        std::fs::write(w.root.join("elsewhere.JPEG"), b"x").unwrap();
        std::os::unix::fs::symlink(w.root.join("elsewhere.JPEG"), subset.join("a.JPEG")).unwrap();
        std::os::unix::fs::symlink(w.root.join("models"), w.root.join("subset/n02")).unwrap();
        let mut protected = Protected::new();
        protected.images(&w.root.join("subset"), "the image set");
        for output in ["elsewhere.JPEG", "models/m.onnx", "models/new.jsonl"] {
            let error = protected
                .check(&w.root.join(output), "predictions")
                .unwrap_err();
            assert!(error.to_string().contains("the image set"), "{error}");
        }
        protected
            .check(&w.root.join("elsewhere.jsonl"), "predictions")
            .unwrap();
    }

    #[test]
    fn a_relative_output_is_resolved_from_the_current_folder() {
        let w = workspace();
        let here = std::env::current_dir().unwrap();
        let relative = pathdiff(&w.root.join("val/n01/a.JPEG"), &here);
        assert!(w.protected.check(&relative, "predictions").is_err());
    }

    /// `target` relative to `base`, through `..` as far as needed.
    fn pathdiff(target: &Path, base: &Path) -> PathBuf {
        let ups = base.components().count() - 1;
        let mut path: PathBuf = std::iter::repeat_n("..", ups).collect();
        path.push(target.strip_prefix("/").unwrap());
        path
    }
}
