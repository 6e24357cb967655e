//! Pillow's pipeline: its decoder, its `Image.resize`, and torchvision's or Keras's geometry and
//! normalisation on them.

pub mod decode;
pub mod preprocess;
pub mod resample;
