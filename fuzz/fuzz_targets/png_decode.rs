//! The PNG decoder behind `decode_rgb` (the `png` crate read row by row straight into RGB, each
//! layout converted as Pillow converts it). Every input is a PNG to the decoder: one without the
//! signature is given it.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| zoorepro_fuzz::decode_as(data, &[b"\x89PNG\r\n\x1a\n"]));
