//! Bit-exactness of the presets: Pillow through the oracle (parity), Pillow-SIMD, OpenCV,
//! TensorFlow and torchvision against the digests their real libraries wrote.
//!
//! One test binary of several modules (one file each), so that `cargo test` links a few binaries
//! instead of one per file; `cargo test --release --test presets MODULE::` runs one module.

#[path = "../common/mod.rs"]
mod common;

mod opencv_presets;
mod parity;
mod pillow_simd;
mod sampled;
mod tf_presets;
mod torch_presets;
