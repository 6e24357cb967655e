//! The `--val` tar source: the archive is streamed member by member, as `verify` reads
//! `ILSVRC2012_img_val.tar`. `Dataset` reads from a path, so each input is written to one file
//! per process first (on tmpfs where there is one, to keep the disk out of the loop).
#![no_main]

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
        dir.join(format!("zoorepro-fuzz-{}.tar", std::process::id()))
    })
}

fuzz_target!(|data: &[u8]| {
    let path = scratch();
    std::fs::write(path, data).expect("the scratch file is writable");
    let dataset = Dataset::open(path).expect("a regular file opens as a tar source");
    let Ok(stream) = dataset.stream(None, |_| true) else {
        return;
    };
    // Drain it: a broken archive must end the stream after its error (a stream that kept
    // yielding errors would show up as a timeout).
    for _sample in stream {}
});
