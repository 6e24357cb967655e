//! The `--val` tar source through its gzip layer: ImageNetV2's `.tar.gz`s are read through it, and
//! random bytes almost never make a gzip stream, so `tar_source` alone seldom gets past the magic.
//! The first byte picks the form: the rest as is (a gzip stream the fuzzer found), or the rest
//! gzipped, then followed by zero padding and maybe a stray byte, or split into two gzip members
//! — the tar inside is still the fuzzer's, so its headers (long names, PAX, cuts) are explored
//! behind a valid gzip layer.
#![no_main]

use std::io::Write;

use libfuzzer_sys::fuzz_target;

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).expect("writing to memory");
    encoder.finish().expect("writing to memory")
}

fuzz_target!(|data: &[u8]| {
    let Some((&form, tar)) = data.split_first() else {
        return;
    };
    let archive = match form % 4 {
        0 => tar.to_vec(),
        1 => gzip(tar),
        2 => {
            let mut archive = gzip(tar);
            archive.resize(archive.len() + usize::from(form >> 2) * 16, 0);
            if form & 0x80 != 0 {
                archive.push(form);
            }
            archive
        }
        _ => {
            let split = usize::from(form >> 2).min(tar.len() / 512) * 512;
            let mut archive = gzip(&tar[..split]);
            archive.extend(gzip(&tar[split..]));
            archive
        }
    };
    zoorepro_fuzz::stream_archive(&archive);
});
