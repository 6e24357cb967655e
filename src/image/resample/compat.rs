//! Which Pillow release's resampling to reproduce: part of a run's key, since the releases
//! differ in the last bit of some images.

use serde::{Deserialize, Serialize};
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
