//! The folder layouts: an ImageFolder tree (one folder per wnid), ImageNetV2's tree (one folder
//! per class index, `0` to `999`) and a flat folder of validation files, listed in dataset order.

use std::fs;
use std::path::{Path, PathBuf};

use super::skipped::{SkipLog, SkipReason};
use super::{DatasetError, Entry, is_image_name, labels};

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
