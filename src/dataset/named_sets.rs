//! Image sets a layout names where no manifest pins their files: ImageNetV2's three variants
//! (class-index folders or their archives), ImageNet-Sketch, ImageNet-A and ImageNet-R (wnid
//! folders), each recognised by the name its archive unpacks to. Their file names are not here to
//! digest, so a reference on one of them applies by this name and the image count, a weaker
//! identity that reports state.
//!
//! ImageNet-A and -R hold 200 of the 1000 classes and are scored as their authors and timm score
//! them: only those 200 columns of the output compete.

use std::path::Path;
use std::sync::OnceLock;

use super::SourceKind;

/// Every name [`layout_set_name`] gives: the sets a reference may name without a digest.
pub const LAYOUT_SET_NAMES: [&str; 6] = [
    "imagenetv2-matched-frequency",
    "imagenetv2-threshold0.7",
    "imagenetv2-top-images",
    "imagenet-sketch",
    "imagenet-a",
    "imagenet-r",
];

/// The classes of a 200-class set, ImageNet indices in ascending order.
#[derive(Debug, PartialEq, Eq)]
pub struct ClassSubset {
    /// Names the subset in run keys and records (`imagenet-r-200`).
    pub name: &'static str,
    pub classes: Vec<u16>,
}

impl ClassSubset {
    pub fn contains(&self, class: u16) -> bool {
        self.classes.binary_search(&class).is_ok()
    }
}

/// The name of the set a source is, from its layout (`SourceKind::name`) and its root's name; a
/// free function so that `table` can name a stored run's set from the metadata it recorded.
pub fn layout_set_name(layout: &str, root: &Path) -> Option<&'static str> {
    let folder = root.file_name()?.to_string_lossy().to_ascii_lowercase();
    let words: Vec<&str> = folder
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let follows = |first: &str, second: &str| words.windows(2).any(|w| w == [first, second]);
    if layout == SourceKind::ClassIndexFolder.name() || layout == SourceKind::Tar.name() {
        // `imagenetv2-matched-frequency-format-val`, `imagenetv2-top-images.tar.gz`, ...
        return [
            ("matched-frequency", "imagenetv2-matched-frequency"),
            ("threshold0.7", "imagenetv2-threshold0.7"),
            ("top-images", "imagenetv2-top-images"),
        ]
        .into_iter()
        .find(|(marker, _)| folder.contains(marker))
        .map(|(_, name)| name);
    }
    if layout != SourceKind::ImageFolder.name() {
        return None;
    }
    if words.contains(&"sketch") {
        Some("imagenet-sketch")
    } else if follows("imagenet", "a") {
        Some("imagenet-a")
    } else if follows("imagenet", "r") {
        Some("imagenet-r")
    } else {
        None
    }
}

/// The classes that compete on a named set, where it holds fewer than the 1000.
pub fn class_subset(set_name: &str) -> Option<&'static ClassSubset> {
    static IMAGENET_A: OnceLock<ClassSubset> = OnceLock::new();
    static IMAGENET_R: OnceLock<ClassSubset> = OnceLock::new();
    match set_name {
        "imagenet-a" => Some(
            IMAGENET_A
                .get_or_init(|| parse("imagenet-a-200", include_str!("imagenet_a_classes.txt"))),
        ),
        "imagenet-r" => Some(
            IMAGENET_R
                .get_or_init(|| parse("imagenet-r-200", include_str!("imagenet_r_classes.txt"))),
        ),
        _ => None,
    }
}

/// One class index per line, ascending (a shipped file: a bad line is a build defect).
fn parse(name: &'static str, text: &str) -> ClassSubset {
    let classes: Vec<u16> = text
        .lines()
        .map(|line| line.trim().parse().expect("a class index per line"))
        .collect();
    ClassSubset { name, classes }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_subsets_are_200_ascending_imagenet_classes() {
        for set in ["imagenet-a", "imagenet-r"] {
            let subset = class_subset(set).unwrap();
            assert_eq!(subset.classes.len(), 200, "{set}");
            assert!(subset.classes.windows(2).all(|w| w[0] < w[1]), "{set}");
            assert!(subset.classes.iter().all(|&c| c < 1000), "{set}");
        }
        // Spot checks against the sets' published class lists: goldfish (1) is in -R only,
        // the rest of the first classes of -A's list are 6, 11, 13.
        let (a, r) = (
            class_subset("imagenet-a").unwrap(),
            class_subset("imagenet-r").unwrap(),
        );
        assert!(r.contains(1) && !a.contains(1));
        assert_eq!(a.classes[..3], [6, 11, 13]);
        assert_eq!(class_subset("imagenet-sketch"), None);
    }

    #[test]
    fn sets_are_named_by_layout_and_folder_name() {
        let name =
            |layout: SourceKind, folder: &str| layout_set_name(layout.name(), Path::new(folder));
        assert_eq!(
            name(SourceKind::ImageFolder, "/data/imagenet-a"),
            Some("imagenet-a")
        );
        assert_eq!(
            name(SourceKind::ImageFolder, "/data/ImageNet-R"),
            Some("imagenet-r")
        );
        assert_eq!(
            name(SourceKind::ImageFolder, "/data/imagenet_r"),
            Some("imagenet-r")
        );
        assert_eq!(
            name(SourceKind::ImageFolder, "/data/sketch"),
            Some("imagenet-sketch")
        );
        assert_eq!(name(SourceKind::ImageFolder, "/data/imagenet-all"), None);
        assert_eq!(name(SourceKind::ImageFolder, "/data/val"), None);
        // A class-index tree named like -A is not -A; an ImageFolder named like V2 is not V2.
        assert_eq!(name(SourceKind::ClassIndexFolder, "/data/imagenet-a"), None);
        assert_eq!(
            name(
                SourceKind::ImageFolder,
                "/data/imagenetv2-matched-frequency"
            ),
            None
        );
        assert_eq!(
            name(SourceKind::Tar, "/data/imagenetv2-top-images.tar.gz"),
            Some("imagenetv2-top-images")
        );
    }
}
