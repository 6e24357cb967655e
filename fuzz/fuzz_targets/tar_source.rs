//! The `--val` tar source: the archive is streamed member by member, as `verify` reads
//! `ILSVRC2012_img_val.tar`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| zoorepro_fuzz::stream_archive(data));
