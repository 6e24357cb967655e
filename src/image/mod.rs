//! The image path, from encoded bytes to the float32 tensor a model is fed, each step bit for
//! bit like the Python pipeline it reproduces. [`pipelines`] holds one pipeline per library
//! (Pillow, OpenCV, TensorFlow, torchvision) behind one contract and one entry point
//! ([`pipelines::preprocess`]); a [`recipe`] names its pipeline and the arithmetic. What the
//! pipelines share: the [`raster`] types, [`decoding`]'s error and limits, and torchvision's
//! [`geometry`]; every pipeline's libjpeg settings go through the one glue in `libjpeg`.
//! [`sources`] turns any recipe name, a preset's or a source's (`timm:resnet50.a1_in1k`), into a
//! recipe, and [`overrides`] derives one from another with timm's flags.

pub mod decoding;
pub mod geometry;
pub(crate) mod libjpeg;
pub mod overrides;
pub mod pipelines;
pub mod raster;
pub mod recipe;
pub mod sources;
