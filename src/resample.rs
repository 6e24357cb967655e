//! Pillow's `Image.resize`, ported exactly (see ../shared/docs/IMPLEMENTATION_FACTS.md).

use serde::{Deserialize, Serialize};

use crate::raster::RgbImage;
use crate::recipe::Filter;

/// Which Pillow release's pass order to reproduce: Pillow 13 may run the vertical pass first,
/// Pillow <= 12 always runs the horizontal pass first. The two differ in the last bit of some images.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PillowCompat {
    #[serde(rename = "12")]
    V12,
    #[serde(rename = "13")]
    V13,
}

impl PillowCompat {
    pub fn name(self) -> &'static str {
        match self {
            PillowCompat::V12 => "12",
            PillowCompat::V13 => "13",
        }
    }
}

/// Resize `src` to `width` x `height` exactly as Pillow's `Image.resize((width, height), filter)`.
pub fn resize(
    src: &RgbImage,
    width: usize,
    height: usize,
    filter: Filter,
    compat: PillowCompat,
) -> RgbImage {
    let _ = (src, width, height, filter, compat);
    todo!("pixels helper")
}
