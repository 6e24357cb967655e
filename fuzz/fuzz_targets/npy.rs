//! `.npy` reader (prediction caches for `import-seed`): header parsing and size checks.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(array) = zoorepro::npy::parse(data, Path::new("fuzz.npy")) {
        // A successful read must be self-consistent: as many values as the shape says.
        let count: usize = array.shape.iter().product();
        let len = match &array.data {
            zoorepro::npy::NpyData::I64(v) => v.len(),
            zoorepro::npy::NpyData::F32(v) => v.len(),
        };
        assert_eq!(count, len, "shape {:?} but {len} values", array.shape);
    }
});
