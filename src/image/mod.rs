//! The image path, from encoded bytes to the float32 tensor a model is fed, each step bit for
//! bit like the Python pipeline it reproduces: [`decode`] (Pillow's JPEG acceptance and pixels,
//! other formats as `convert('RGB')`), [`resample`] (Pillow's `Image.resize`), [`recipe`] (the
//! presets and manifests' preprocessing), [`preprocess`] (geometry and normalisation), on the
//! [`raster`] types.

pub mod pipelines;
pub mod raster;
pub mod recipe;

pub use pipelines::pillow::{decode, preprocess, resample};
