//! What several fuzz targets share: streaming an archive through the `--val` tar source, and
//! decoding bytes forced into one image format.

use std::path::PathBuf;
use std::sync::OnceLock;

use zoorepro::dataset::Dataset;
use zoorepro::image::pipelines::pillow::decode::decode_rgb;

/// One scratch file per process: `Dataset` reads from a path. On tmpfs where there is one, to
/// keep the disk out of the loop; `scripts/fuzz/fuzz.sh` removes what a killed run leaves.
fn scratch() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let shm = PathBuf::from("/dev/shm");
        let dir = if shm.is_dir() {
            shm
        } else {
            std::env::temp_dir()
        };
        dir.join(format!("zoorepro-fuzz-{}.tar", std::process::id()))
    })
}

/// Streams `archive` (a tar, or a gzip stream of one: the source tells them by their magic) to
/// its end as `verify` reads `--val`, then reads what was recorded of it.
pub fn stream_archive(archive: &[u8]) {
    let path = scratch();
    std::fs::write(path, archive).expect("the scratch file is writable");
    let dataset = Dataset::open(path).expect("a regular file opens as a tar source");
    let Ok(stream) = dataset.stream(None, |_| true) else {
        return;
    };
    // Drain it: a broken archive must end the stream after its error (a stream that kept
    // yielding errors would show up as a timeout); then the record must be readable.
    for _sample in stream {}
    let _ = (dataset.skipped(), dataset.archive_end(), dataset.warnings());
}

/// Decodes `data` through the public entry, as a file that starts with one of `signatures`:
/// input that does not is given the first one, so that the fuzzer's time goes into that
/// format's decoder rather than into finding its magic.
pub fn decode_as(data: &[u8], signatures: &[&[u8]]) {
    let forced;
    let bytes = if signatures.iter().any(|s| data.starts_with(s)) {
        data
    } else {
        forced = [signatures[0], data].concat();
        &forced
    };
    // Errors are the expected outcome for most inputs; only panics, crashes and runaway memory
    // or time are findings, and an image whose buffer does not match its size.
    if let Ok(image) = decode_rgb(bytes) {
        assert_eq!(
            image.pixels.len(),
            image.width * image.height * 3,
            "{}x{} image",
            image.width,
            image.height
        );
    }
}
