//! Which Pillow's resampling to reproduce: part of a run's key, since they differ in the last
//! bit of some images.

use serde::{Deserialize, Serialize};

/// Which Pillow's resampling arithmetic to reproduce. Pillow 13 may run the vertical pass
/// first, Pillow <= 12 always runs the horizontal pass first; Pillow-SIMD (uploadcare's fork,
/// 12.1.1.post0) runs the horizontal pass first too but rounds its coefficients to 16 bits with
/// a precision chosen per table. Each pair differs in the last bit of some images.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PillowCompat {
    #[serde(rename = "12")]
    V12,
    #[serde(rename = "13")]
    V13,
    #[serde(rename = "simd")]
    Simd,
}

impl PillowCompat {
    pub const ALL: [PillowCompat; 3] = [PillowCompat::V12, PillowCompat::V13, PillowCompat::Simd];

    pub fn name(self) -> &'static str {
        match self {
            PillowCompat::V12 => "12",
            PillowCompat::V13 => "13",
            PillowCompat::Simd => "simd",
        }
    }

    /// Whether a strong vertical shrink runs the vertical pass first (Pillow 13 only).
    pub(super) fn may_run_vertical_first(self) -> bool {
        self == PillowCompat::V13
    }

    /// Whether the coefficients are 16-bit integers with a per-table precision (Pillow-SIMD)
    /// rather than Pillow's 22-bit fixed point.
    pub(super) fn sixteen_bit_coefficients(self) -> bool {
        self == PillowCompat::Simd
    }
}
