//! Which images a determinism run uses: a fixed function of the image names, whatever the layout
//! of `--val`.

use std::collections::BinaryHeap;
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use crate::dataset::{Dataset, DatasetError, Entry};

/// Salt of the sample choice, so that the sample is a fixed function of the image names.
const SAMPLE_SALT: &[u8] = b"zoorepro determinism sample v1\n";

/// The sample is the `n` images whose salted SHA-256 of the file name is smallest: the same
/// images for the same names whether `--val` is a folder tree, a flat folder or the tar, and
/// chosen in one streaming pass.
fn sample_key(name: &str) -> u64 {
    let mut hasher = Sha256::new();
    hasher.update(SAMPLE_SALT);
    hasher.update(name.as_bytes());
    let digest = hasher.finalize();
    u64::from_be_bytes(digest[..8].try_into().unwrap_or([0; 8]))
}

/// A chosen image and its bytes (or why they could not be read).
pub type Chosen = (Entry, Result<Vec<u8>, String>);

/// The `n` images of the sample (see `sample_key`), in the byte order of their names.
pub fn choose_samples(dataset: &Dataset, n: usize) -> Result<Vec<Chosen>, DatasetError> {
    choose_samples_where(dataset, n, |_| true)
}

/// [`choose_samples`] among the images `keep` accepts.
pub fn choose_samples_where(
    dataset: &Dataset,
    n: usize,
    keep: impl Fn(&Entry) -> bool + Send + 'static,
) -> Result<Vec<Chosen>, DatasetError> {
    // The largest key kept so far once `n` are kept: anything above it is not read at all.
    let cutoff: Arc<Mutex<Option<(u64, String)>>> = Arc::new(Mutex::new(None));
    let wanted = {
        let cutoff = Arc::clone(&cutoff);
        move |entry: &Entry| {
            if !keep(entry) {
                return false;
            }
            let key = (sample_key(&entry.name), entry.name.clone());
            match &*cutoff.lock().unwrap_or_else(|e| e.into_inner()) {
                Some(limit) => key < *limit,
                None => true,
            }
        }
    };
    let mut heap: BinaryHeap<((u64, String), usize)> = BinaryHeap::new();
    let mut kept: Vec<Option<Chosen>> = Vec::new();
    for sample in dataset.stream(None, wanted)? {
        let sample = sample?;
        if !sample.wanted {
            continue;
        }
        let key = (sample_key(&sample.entry.name), sample.entry.name.clone());
        heap.push((key, kept.len()));
        kept.push(Some((sample.entry, sample.bytes)));
        if heap.len() > n
            && let Some((_, dropped)) = heap.pop()
        {
            kept[dropped] = None;
        }
        if heap.len() == n
            && let Some((limit, _)) = heap.peek()
        {
            *cutoff.lock().unwrap_or_else(|e| e.into_inner()) = Some(limit.clone());
        }
    }
    let mut chosen: Vec<Chosen> = kept.into_iter().flatten().collect();
    chosen.sort_by(|a, b| a.0.name.as_bytes().cmp(b.0.name.as_bytes()));
    Ok(chosen)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_keys_are_reproducible() {
        assert_eq!(
            sample_key("ILSVRC2012_val_00000001.JPEG"),
            sample_key("ILSVRC2012_val_00000001.JPEG")
        );
    }
}
