//! Pairing the images of two prediction sets (`compare A B`, `explain --against`). A name is not
//! an image: two copies of a dataset can hold different files under one name (a re-export, files
//! swapped by a script). Images are paired by name and content; where a side does not know the
//! content it read (a run imported from a seed cache), by name alone, and the output says so.

use serde::Serialize;

use super::prediction::Content;

/// File names listed by the text formats; JSON lists every one.
pub const FILES_SHOWN: usize = 10;

/// How the two sides' rows of one image name pair up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pairing {
    /// Both sides read the same bytes.
    SameContent,
    /// Both sides know their content, and it differs: not the same image.
    ContentDiffers,
    /// A side does not know its content: paired by name alone.
    ContentUnknown,
}

impl Pairing {
    pub fn of(a: Option<&Content>, b: Option<&Content>) -> Pairing {
        match (a, b) {
            (Some(a), Some(b)) if a == b => Pairing::SameContent,
            (Some(_), Some(_)) => Pairing::ContentDiffers,
            _ => Pairing::ContentUnknown,
        }
    }
}

/// What pairing left out or could only do by name, over the images both sides hold.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PairingNotes {
    /// Images of the same name whose content differs between the sides: left out of every
    /// figure (agreement, McNemar, accuracy, the explain analysis).
    pub not_comparable: usize,
    /// Their files, in the first side's order.
    pub not_comparable_files: Vec<String>,
    /// Images compared by name alone, because a side holds no content for them.
    pub paired_by_name_only: usize,
}

impl PairingNotes {
    /// Counts one image name held by both sides; returns whether it may be compared.
    pub fn add(&mut self, file: &str, pairing: Pairing) -> bool {
        match pairing {
            Pairing::SameContent => true,
            Pairing::ContentDiffers => {
                self.not_comparable += 1;
                self.not_comparable_files.push(file.to_string());
                false
            }
            Pairing::ContentUnknown => {
                self.paired_by_name_only += 1;
                true
            }
        }
    }

    /// The lines a human reads: what was left out, and what was paired by name alone.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if self.not_comparable > 0 {
            let shown = &self.not_comparable_files[..self.not_comparable.min(FILES_SHOWN)];
            let more = if self.not_comparable > shown.len() {
                format!(
                    " and {} more (--format json lists them all)",
                    self.not_comparable - shown.len()
                )
            } else {
                String::new()
            };
            lines.push(format!(
                "not comparable: {} {} the same name but different content in the two runs, left out of every figure: {}{more}",
                images(self.not_comparable),
                if self.not_comparable == 1 { "has" } else { "have" },
                shown.join(", ")
            ));
        }
        if self.paired_by_name_only > 0 {
            lines.push(format!(
                "contents unknown for {} (a run holds no content for them, e.g. an imported seed cache): paired by name",
                images(self.paired_by_name_only)
            ));
        }
        lines
    }
}

fn images(n: usize) -> String {
    if n == 1 {
        "1 image".into()
    } else {
        format!("{n} images")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_pair_by_name_and_content_and_by_name_alone_where_content_is_unknown() {
        let (first, second) = (Content::of(b"first"), Content::of(b"second"));
        assert_eq!(
            Pairing::of(Some(&first), Some(&first)),
            Pairing::SameContent
        );
        assert_eq!(
            Pairing::of(Some(&first), Some(&second)),
            Pairing::ContentDiffers
        );
        assert_eq!(Pairing::of(None, Some(&first)), Pairing::ContentUnknown);
        assert_eq!(Pairing::of(Some(&first), None), Pairing::ContentUnknown);

        let mut notes = PairingNotes::default();
        assert!(notes.add("a.JPEG", Pairing::SameContent));
        assert!(notes.lines().is_empty());
        for i in 0..12 {
            assert!(!notes.add(&format!("x{i}.JPEG"), Pairing::ContentDiffers));
        }
        assert!(notes.add("c.JPEG", Pairing::ContentUnknown));
        let lines = notes.lines();
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(
            lines[0].starts_with("not comparable: 12 images have the same name")
                && lines[0].contains("x0.JPEG, x1.JPEG")
                && lines[0].contains("x9.JPEG and 2 more")
                && !lines[0].contains("x10.JPEG"),
            "{}",
            lines[0]
        );
        assert!(
            lines[1].starts_with("contents unknown for 1 image (") && lines[1].contains("by name"),
            "{}",
            lines[1]
        );
        assert_eq!(notes.not_comparable_files.len(), 12);
    }
}
