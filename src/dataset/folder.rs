//! The folder layouts: an ImageFolder tree (one folder per wnid), ImageNetV2's tree (one folder
//! per class index, `0` to `999`), a flat folder of validation files, and, with `--ground-truth`
//! (whose rows give the labels, so that folders need not), a folder of any shape read at every
//! depth; each listed in dataset order.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};

use super::skipped::{SkipLog, SkipReason};
use super::{DatasetError, Entry, SourceKind, is_image_name, labels};

/// The deepest a folder of any shape is read: far deeper than any dataset, and a bound that
/// keeps a pathological tree finite.
const MAX_TREE_DEPTH: usize = 32;

/// An image's entry and where it lies.
pub(super) type Listed = (Entry, PathBuf);

pub(super) fn sorted_dir(path: &Path) -> Result<Vec<(String, PathBuf)>, DatasetError> {
    let unreadable = |e: std::io::Error| DatasetError::Unreadable {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let mut names: Vec<(String, PathBuf)> = fs::read_dir(path)
        .map_err(unreadable)?
        .map(|entry| entry.map(|e| (e.file_name().to_string_lossy().into_owned(), e.path())))
        .collect::<Result<_, _>>()
        .map_err(unreadable)?;
    names.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    Ok(names)
}

/// How a tree's class folders are named.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ClassNames {
    /// `n01440764`, ...: labels from the wnid's index.
    Wnid,
    /// `0` ... `999` (ImageNetV2): the folder is the class index.
    Index,
}

impl ClassNames {
    pub(super) fn class_of(self, folder: &str) -> Option<u16> {
        match self {
            ClassNames::Wnid => labels::class_index(folder),
            ClassNames::Index => class_index_folder(folder),
        }
    }
}

/// `0` ... `999` written the canonical way (no sign, no leading zero).
pub(super) fn class_index_folder(name: &str) -> Option<u16> {
    let canonical = !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_digit())
        && (name == "0" || !name.starts_with('0'));
    canonical
        .then(|| name.parse::<u16>().ok())
        .flatten()
        .filter(|&index| index < 1000)
}

/// Every image of a class-folder tree whose top level is `top`; the other files and folders go
/// into `skipped`. Class-index folders are taken in numeric order (`2` before `10`).
pub(super) fn list_image_folder(
    path: &Path,
    top: &[(String, PathBuf)],
    names: ClassNames,
    skipped: &SkipLog,
) -> Result<Vec<Listed>, DatasetError> {
    let mut top = top.to_vec();
    if names == ClassNames::Index {
        top.sort_by_key(|(folder, _)| {
            (
                class_index_folder(folder).unwrap_or(u16::MAX),
                folder.clone(),
            )
        });
    }
    let mut listing = Vec::new();
    for (folder, folder_path) in &top {
        // A class folder that cannot be opened (a dangling or looping link) would make a
        // class silently disappear from the evaluated set: refuse it instead.
        if names.class_of(folder).is_some() && !folder_path.is_dir() && folder_path.is_symlink() {
            return Err(DatasetError::Unreadable {
                path: folder_path.clone(),
                reason: "a class folder link that leads nowhere".into(),
            });
        }
        if !folder_path.is_dir() || folder.starts_with('.') {
            let reason = if is_image_name(folder) && !folder_path.is_dir() {
                SkipReason::OutsideClassFolders
            } else {
                skip_reason(folder, folder_path)
            };
            skipped.add(reason, folder);
            continue;
        }
        let label = names.class_of(folder).ok_or_else(|| match names {
            ClassNames::Wnid => DatasetError::UnknownClassFolder {
                path: path.to_path_buf(),
                folder: folder.clone(),
            },
            ClassNames::Index => DatasetError::UnknownClassIndexFolder {
                path: path.to_path_buf(),
                folder: folder.clone(),
            },
        })?;
        for (name, file_path) in sorted_dir(folder_path)? {
            let file = format!("{folder}/{name}");
            if is_image_name(&name) && !file_path.is_dir() {
                listing.push((
                    Entry {
                        file,
                        name,
                        label: Some(label),
                    },
                    file_path,
                ));
            } else {
                skipped.add(skip_reason(&name, &file_path), &file);
            }
        }
    }
    Ok(listing)
}

/// Why a folder entry that is not listed was skipped: a directory named like an image is no
/// image either, but says more than "not an image".
fn skip_reason(name: &str, path: &Path) -> SkipReason {
    if is_image_name(name) && path.is_dir() {
        SkipReason::NotARegularFile
    } else {
        SkipReason::NotAnImage
    }
}

/// The layout of the folder at `path` (whose entries are `top`) and its images in dataset order.
/// A folder holding class folders is a class tree; with `any_shape` (`--ground-truth` labels
/// the images) only when every folder in it is one, and any other folder is read at every depth
/// (`tree`, or `flat` when all its images lie at the top).
pub(super) fn list(
    path: &Path,
    top: Vec<(String, PathBuf)>,
    any_shape: bool,
    skipped: &SkipLog,
) -> Result<(SourceKind, Vec<Listed>), DatasetError> {
    let folders = || {
        top.iter()
            .filter(|(name, p)| !name.starts_with('.') && p.is_dir())
    };
    let class_tree = |names: ClassNames| {
        folders().any(|(name, _)| names.class_of(name).is_some())
            && (!any_shape || folders().all(|(name, _)| names.class_of(name).is_some()))
    };
    if class_tree(ClassNames::Wnid) {
        let listing = list_image_folder(path, &top, ClassNames::Wnid, skipped)?;
        return Ok((SourceKind::ImageFolder, listing));
    }
    if class_tree(ClassNames::Index) {
        let listing = list_image_folder(path, &top, ClassNames::Index, skipped)?;
        return Ok((SourceKind::ClassIndexFolder, listing));
    }
    if !any_shape {
        let nested = folders().next().is_some();
        let listing = list_flat(top, skipped);
        if listing.is_empty() && nested {
            return Err(DatasetError::NoLayout {
                path: path.to_path_buf(),
            });
        }
        return Ok((SourceKind::Flat, listing));
    }
    let mut walk = Walk {
        skipped,
        seen: HashSet::new(),
        listing: Vec::new(),
    };
    walk.folder(path, "", 0)?;
    let listing = walk.listing;
    let kind = if listing.iter().any(|(entry, _)| entry.file.contains('/')) {
        SourceKind::Tree
    } else {
        SourceKind::Flat
    };
    Ok((kind, listing))
}

/// A folder of any shape being listed.
struct Walk<'a> {
    skipped: &'a SkipLog,
    /// Every folder listed so far, by device and inode.
    seen: HashSet<(u64, u64)>,
    listing: Vec<Listed>,
}

impl Walk<'_> {
    /// Lists every image under `dir` (the folder `prefix` names, relative to the root, `depth`
    /// folders down): entries in name order at each level, a folder's images where the folder
    /// sorts, as the class trees list theirs. Links are followed, but each folder is read once,
    /// where it is first reached: a link back up the tree would never end, and links among
    /// folders could reach one by more paths than there are folders. No label: the
    /// ground-truth file gives them.
    fn folder(&mut self, dir: &Path, prefix: &str, depth: usize) -> Result<(), DatasetError> {
        use std::os::unix::fs::MetadataExt as _;
        let identity = |path: &Path| fs::metadata(path).ok().map(|m| (m.dev(), m.ino()));
        if depth > MAX_TREE_DEPTH {
            return Err(DatasetError::Unreadable {
                path: dir.to_path_buf(),
                reason: format!("it lies more than {MAX_TREE_DEPTH} folders below --val"),
            });
        }
        let entries = sorted_dir(dir)?;
        self.seen.extend(identity(dir));
        for (name, path) in entries {
            let file = format!("{prefix}{name}");
            if name.starts_with('.') {
                self.skipped.add(SkipReason::NotAnImage, &file);
            } else if path.is_dir() {
                if identity(&path).is_some_and(|id| self.seen.contains(&id)) {
                    self.skipped.add(SkipReason::RepeatedFolder, &file);
                } else {
                    self.folder(&path, &format!("{file}/"), depth + 1)?;
                }
            } else if is_image_name(&name) {
                let entry = Entry {
                    file,
                    name,
                    label: None,
                };
                self.listing.push((entry, path));
            } else {
                self.skipped.add(SkipReason::NotAnImage, &file);
            }
        }
        Ok(())
    }
}

/// Names each image whose basename another image of the listing shares by its path relative to
/// `--val` instead: the store keys a run's images by name, so two files under one name would
/// take each other's place in the run (and its cache rows). Every other image keeps its
/// basename, its identity in every layout (and ILSVRC2012's name checks).
pub(super) fn name_shared_basenames_by_path(listing: &mut [Listed]) {
    let mut count: HashMap<String, usize> = HashMap::new();
    for (entry, _) in listing.iter() {
        *count.entry(entry.name.clone()).or_default() += 1;
    }
    for (entry, _) in listing.iter_mut() {
        if count[&entry.name] > 1 {
            entry.name = entry.file.clone();
        }
    }
}

/// Every image of a flat folder whose entries are `top`; the other entries go into `skipped`.
pub(super) fn list_flat(top: Vec<(String, PathBuf)>, skipped: &SkipLog) -> Vec<Listed> {
    let mut listing = Vec::new();
    for (name, file_path) in top {
        if is_image_name(&name) && !file_path.is_dir() {
            let label = labels::val_label(&name);
            listing.push((
                Entry {
                    file: name.clone(),
                    name,
                    label,
                },
                file_path,
            ));
        } else {
            skipped.add(skip_reason(&name, &file_path), &name);
        }
    }
    listing
}
