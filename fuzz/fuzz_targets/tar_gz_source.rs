//! The `--val` tar source through its gzip layer: ImageNetV2's `.tar.gz`s are read through it, and
//! random bytes almost never make a gzip stream, so `tar_source` alone seldom gets past the magic.
//! The first byte picks the form: the rest as is (a gzip stream the fuzzer found), or the rest
//! gzipped, then followed by zero padding and maybe a stray byte, or split into two gzip members
//! — the tar inside is still the fuzzer's, so its headers (long names, PAX, cuts) are explored
//! behind a valid gzip layer.
#![no_main]

use std::io::Write;
use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use zoorepro::dataset::Dataset;

fn scratch() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let shm = PathBuf::from("/dev/shm");
        let dir = if shm.is_dir() {
            shm
        } else {
            std::env::temp_dir()
        };
        dir.join(format!("zoorepro-fuzz-{}.tar.gz", std::process::id()))
    })
}

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
    let path = scratch();
    std::fs::write(path, &archive).expect("the scratch file is writable");
    let dataset = Dataset::open(path).expect("a regular file opens as a tar source");
    let Ok(stream) = dataset.stream(None, |_| true) else {
        return;
    };
    // Drain it: a broken archive must end the stream after its error (a stream that kept
    // yielding errors would show up as a timeout); then what was recorded must be readable.
    for _sample in stream {}
    let _ = (dataset.skipped(), dataset.archive_end(), dataset.warnings());
});
