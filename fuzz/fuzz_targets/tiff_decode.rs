//! The TIFF decoder behind `decode_rgb`: zoorepro's own strip and tile streaming (LZW, deflate,
//! PackBits, predictor 2) and, for the layouts it leaves, the `image` crate's. Every input is a
//! TIFF to the decoder: one without a classic or BigTIFF header in either byte order is given
//! the little-endian classic one.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    zoorepro_fuzz::decode_as(data, &[b"II*\0", b"MM\0*", b"II+\0", b"MM\0+"])
});
