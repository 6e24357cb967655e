//! The prediction caches of benchmarking-keras-pytorch (`<framework>_imagenet/<model>_<framework>_imagenet_top5{preds,probs}.npy`).
//!
//! Facts the reader relies on (../shared/reference/README.md): rows are in ImageFolder order
//! (classes sorted by wnid, files by name); the five columns are in `np.argpartition` order, NOT
//! sorted, so the top-1 is the column of the largest probability, the first on a tie (NumPy's
//! argmax), and taking column 0 gives ~34%.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::dataset::labels::{self, NUM_CLASSES, NUM_VAL_IMAGES};
use crate::eval::prediction::{Outcome, Prediction};
use crate::eval::rank::TOP_K;
use crate::npy::{self, NpyData};

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("{0}")]
    Npy(#[from] npy::NpyError),
    #[error("{path}: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error(
        "{preds} has no probabilities file beside it (expected {probs}); the top-1 cannot be told without it"
    )]
    MissingProbs { preds: PathBuf, probs: PathBuf },
    #[error(
        "{dir} holds no benchmarking-keras-pytorch caches (keras_imagenet/*_top5preds.npy, pytorch_imagenet/*_top5preds.npy)"
    )]
    NothingToImport { dir: PathBuf },
    #[error("cannot read {path}: {reason}")]
    Unreadable { path: PathBuf, reason: String },
}

/// One cache pair found on disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeedCache {
    /// "keras" or "pytorch".
    pub framework: String,
    /// The file-name spelling of benchmarking-keras-pytorch (`mobilenetV2`, `inception_v3`).
    pub model: String,
    pub preds: PathBuf,
    pub probs: PathBuf,
}

/// Finds every `*_top5preds.npy` under `dir/keras_imagenet` and `dir/pytorch_imagenet`.
pub fn discover(dir: &Path) -> Result<Vec<SeedCache>, SeedError> {
    if !dir.is_dir() {
        return Err(SeedError::Unreadable {
            path: dir.to_path_buf(),
            reason: "not a directory".into(),
        });
    }
    let mut caches = Vec::new();
    for framework in ["keras", "pytorch"] {
        let folder = dir.join(format!("{framework}_imagenet"));
        let Ok(listing) = std::fs::read_dir(&folder) else {
            continue;
        };
        let suffix = format!("_{framework}_imagenet_top5preds.npy");
        let mut names: Vec<String> = listing
            .filter_map(|entry| {
                entry
                    .ok()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
            })
            .collect();
        names.sort();
        for name in names {
            let Some(model) = name.strip_suffix(&suffix) else {
                continue;
            };
            let preds = folder.join(&name);
            let probs = folder.join(format!("{model}_{framework}_imagenet_top5probs.npy"));
            if !probs.is_file() {
                return Err(SeedError::MissingProbs { preds, probs });
            }
            caches.push(SeedCache {
                framework: framework.into(),
                model: model.into(),
                preds,
                probs,
            });
        }
    }
    if caches.is_empty() {
        return Err(SeedError::NothingToImport {
            dir: dir.to_path_buf(),
        });
    }
    Ok(caches)
}

/// The 50,000 validation file names in ImageFolder order (the caches' row order).
pub fn image_folder_order() -> &'static [String] {
    static ORDER: OnceLock<Vec<String>> = OnceLock::new();
    ORDER.get_or_init(|| {
        let mut names: Vec<(u16, String)> = (1..=NUM_VAL_IMAGES)
            .map(|n| {
                let name = labels::val_file_name(n);
                (labels::val_label(&name).unwrap_or(u16::MAX), name)
            })
            .collect();
        names.sort();
        names.into_iter().map(|(_, name)| name).collect()
    })
}

/// A cache pair's rows, and the dtype its probabilities were stored in (a float16 cache ties
/// more often, and benchmarking-keras-pytorch's one float16 cache is a later re-run).
#[derive(Debug)]
pub struct SeedRows {
    pub predictions: Vec<Prediction>,
    pub probs_descr: &'static str,
}

/// Reads a cache pair into predictions in ImageFolder order, each row's columns ranked by
/// probability with ties kept in column order (so the first is exactly NumPy's argmax).
pub fn read(cache: &SeedCache) -> Result<SeedRows, SeedError> {
    let preds = npy::read(&cache.preds)?;
    let probs = npy::read(&cache.probs)?;
    let invalid = |path: &Path, reason: String| SeedError::Invalid {
        path: path.to_path_buf(),
        reason,
    };
    for (path, array) in [(&cache.preds, &preds), (&cache.probs, &probs)] {
        if array.shape != [NUM_VAL_IMAGES, TOP_K] {
            return Err(invalid(
                path,
                format!(
                    "shape {:?}, but a cache of the validation set is ({NUM_VAL_IMAGES}, {TOP_K})",
                    array.shape
                ),
            ));
        }
    }
    let NpyData::I64(classes) = &preds.data else {
        return Err(invalid(
            &cache.preds,
            "predictions must be integers (int64 or int32)".into(),
        ));
    };
    let NpyData::F32(scores) = &probs.data else {
        return Err(invalid(
            &cache.probs,
            "probabilities must be float32 or float16".into(),
        ));
    };
    let order = image_folder_order();
    let mut rows = Vec::with_capacity(NUM_VAL_IMAGES);
    for (row, name) in order.iter().enumerate() {
        let span = row * TOP_K..(row + 1) * TOP_K;
        let mut columns: [(u16, f32); TOP_K] = [(0, 0.0); TOP_K];
        for (slot, (&class, &score)) in columns
            .iter_mut()
            .zip(classes[span.clone()].iter().zip(&scores[span]))
        {
            if !(0..NUM_CLASSES as i64).contains(&class) {
                return Err(invalid(
                    &cache.preds,
                    format!("row {row} holds class {class}, outside 0..{NUM_CLASSES}"),
                ));
            }
            *slot = (class as u16, score);
        }
        columns.sort_by(|a, b| argmax_order(a.1, b.1));
        rows.push(Prediction {
            name: name.clone(),
            file: format!(
                "{}/{name}",
                labels::wnid(labels::val_label(name).unwrap_or(0))
            ),
            label: labels::val_label(name),
            outcome: Outcome::Ranked {
                top5: columns.map(|c| c.0),
                scores: columns.map(|c| c.1),
            },
        });
    }
    Ok(SeedRows {
        predictions: rows,
        probs_descr: probs.descr,
    })
}

/// The order NumPy's argmax ranks probabilities in, for a stable sort: NaN first (argmax returns
/// the first NaN), then descending; equal values (and NaNs among themselves) keep column order.
/// A plain float comparison would call NaN equal to everything and leave the order to chance.
fn argmax_order(a: f32, b: f32) -> std::cmp::Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Less,
        (false, true) => std::cmp::Ordering::Greater,
        // Not NaN, so partial_cmp answers; -0.0 and 0.0 are equal, as in NumPy.
        (false, false) => b.partial_cmp(&a).unwrap_or(std::cmp::Ordering::Equal),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_npy(path: &Path, descr: &str, shape: &[usize], data: &[u8]) {
        npy::write_raw(path, descr, shape, data).unwrap();
    }

    /// A synthetic cache whose every row predicts its true class with a float16 tie in front of it.
    fn synthetic(dir: &Path, probs_f16: bool) -> SeedCache {
        let folder = dir.join("pytorch_imagenet");
        std::fs::create_dir_all(&folder).unwrap();
        let order = image_folder_order();
        let mut preds = Vec::with_capacity(NUM_VAL_IMAGES * TOP_K * 8);
        let mut probs = Vec::new();
        for name in order {
            let label = i64::from(labels::val_label(name).unwrap());
            let row = [
                (label + 1) % 1000,
                label,
                (label + 2) % 1000,
                (label + 3) % 1000,
                (label + 4) % 1000,
            ];
            for class in row {
                preds.extend_from_slice(&class.to_le_bytes());
            }
            // Columns 0 and 1 tie: argmax takes column 0, a wrong class.
            let values = [0.25f32, 0.25, 0.125, 0.0625, 0.03125];
            for value in values {
                if probs_f16 {
                    // These values are exact in float16: sign 0, biased exponent, zero mantissa.
                    let exponent = (value.log2() as i32 + 15) as u16;
                    probs.extend_from_slice(&(exponent << 10).to_le_bytes());
                } else {
                    probs.extend_from_slice(&value.to_le_bytes());
                }
            }
        }
        let preds_path = folder.join("alexnet_pytorch_imagenet_top5preds.npy");
        let probs_path = folder.join("alexnet_pytorch_imagenet_top5probs.npy");
        write_npy(&preds_path, "<i8", &[NUM_VAL_IMAGES, TOP_K], &preds);
        write_npy(
            &probs_path,
            if probs_f16 { "<f2" } else { "<f4" },
            &[NUM_VAL_IMAGES, TOP_K],
            &probs,
        );
        SeedCache {
            framework: "pytorch".into(),
            model: "alexnet".into(),
            preds: preds_path,
            probs: probs_path,
        }
    }

    #[test]
    fn ties_resolve_to_the_first_column_like_argmax_in_float16_and_float32() {
        for f16 in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let cache = synthetic(dir.path(), f16);
            assert_eq!(discover(dir.path()).unwrap(), vec![cache.clone()]);
            let seed = read(&cache).unwrap();
            assert_eq!(seed.probs_descr, if f16 { "<f2" } else { "<f4" });
            let rows = seed.predictions;
            assert_eq!(rows.len(), NUM_VAL_IMAGES);
            assert_eq!(
                rows[0].name, "ILSVRC2012_val_00000293.JPEG",
                "row 0 is the first file of class 0"
            );
            assert_eq!(rows[0].file, "n01440764/ILSVRC2012_val_00000293.JPEG");
            let Outcome::Ranked { top5, scores } = &rows[0].outcome else {
                panic!()
            };
            assert_eq!(top5, &[1, 0, 2, 3, 4], "tie kept in column order");
            assert_eq!(scores[0], 0.25);
            let top1_correct = rows
                .iter()
                .filter(|p| matches!(&p.outcome, Outcome::Ranked { top5, .. } if Some(top5[0]) == p.label))
                .count();
            assert_eq!(top1_correct, 0);
        }
    }

    /// Rows of five probabilities with NaNs in every position, and the top-1 column NumPy's
    /// argmax gives each (the first NaN when there is one).
    fn nan_rows() -> (Vec<[f32; TOP_K]>, Vec<usize>) {
        let n = f32::NAN;
        let rows = vec![
            [0.1, n, 0.5, n, 0.2],
            [n, 0.9, 0.0, 0.0, 0.0],
            [0.3, 0.2, 0.1, 0.0, n],
            [n, n, n, n, n],
            [0.2, 0.7, 0.7, n, 0.1],
            [0.2, 0.7, 0.7, 0.1, -0.0],
            [0.0, -0.0, 0.0, 0.0, 0.0],
        ];
        let argmax = vec![1, 0, 4, 0, 3, 1, 0];
        (rows, argmax)
    }

    fn top1(row: &[f32; TOP_K]) -> usize {
        let mut columns: Vec<(usize, f32)> = row.iter().copied().enumerate().collect();
        columns.sort_by(|a, b| argmax_order(a.1, b.1));
        columns[0].0
    }

    #[test]
    fn nan_probabilities_rank_like_numpy_argmax() {
        let (rows, argmax) = nan_rows();
        let ours: Vec<usize> = rows.iter().map(top1).collect();
        assert_eq!(ours, argmax);
        // The same rows through NumPy itself, where the test environment has it.
        let python = std::env::var("ZOOREPRO_PYTHON")
            .unwrap_or_else(|_| format!("{}/.venv/bin/python", env!("CARGO_MANIFEST_DIR")));
        let literal: Vec<String> = rows
            .iter()
            .map(|row| {
                let values: Vec<String> = row
                    .iter()
                    .map(|v| {
                        if v.is_nan() {
                            "nan".into()
                        } else {
                            format!("{v:?}")
                        }
                    })
                    .collect();
                format!("[{}]", values.join(","))
            })
            .collect();
        let script = format!(
            "import numpy as np\nnan = float('nan')\nprint(','.join(str(i) for i in np.argmax(np.array([{}], dtype=np.float32), axis=1)))",
            literal.join(",")
        );
        match std::process::Command::new(&python)
            .args(["-c", &script])
            .output()
        {
            Ok(output) if output.status.success() => {
                let numpy: Vec<usize> = String::from_utf8_lossy(&output.stdout)
                    .trim()
                    .split(',')
                    .map(|i| i.parse().unwrap())
                    .collect();
                assert_eq!(ours, numpy, "NumPy's argmax");
            }
            _ => crate::testing::skip(&format!("no Python with NumPy at {python}")),
        }
    }

    #[test]
    fn missing_probabilities_and_wrong_shapes_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let cache = synthetic(dir.path(), false);
        std::fs::remove_file(&cache.probs).unwrap();
        let error = discover(dir.path()).unwrap_err().to_string();
        assert!(
            error.contains("top5probs.npy") && error.contains("no probabilities file"),
            "{error}"
        );

        let cache = synthetic(dir.path(), false);
        write_npy(
            &cache.preds,
            "<i8",
            &[10, TOP_K],
            &vec![0u8; 10 * TOP_K * 8],
        );
        let error = read(&cache).unwrap_err().to_string();
        assert!(
            error.contains("(50000, 5)") && error.contains("top5preds.npy"),
            "{error}"
        );

        write_npy(
            &cache.preds,
            "<f4",
            &[NUM_VAL_IMAGES, TOP_K],
            &vec![0u8; NUM_VAL_IMAGES * TOP_K * 4],
        );
        assert!(read(&cache).unwrap_err().to_string().contains("integers"));

        let empty = tempfile::tempdir().unwrap();
        assert!(
            discover(empty.path())
                .unwrap_err()
                .to_string()
                .contains("no benchmarking-keras-pytorch caches")
        );
    }
}
