//! ImageNetV2 as its archives come: `imagenetv2-*.tar.gz` holding a folder per class index with
//! files named by hash. Streamed (never extracted), labelled by the folder, named by the archive,
//! and a cut archive is an error.

use std::path::{Path, PathBuf};

use crate::common;
use crate::common::{assert_error, shared, shared_model, verify};

const V1: &str = "coral/mobilenet_v1_0.5_160_quant";

fn path_str(path: &Path) -> &str {
    path.to_str().expect("utf-8 test paths")
}

/// The shared sample as `imagenetv2-matched-frequency.tar.gz` would hold it: files renamed to
/// opaque names (so only the class-index folder can label them) under
/// `imagenetv2-matched-frequency-format-val/<index>/`.
fn sample_as_imagenetv2_archive(shared: &Path, dir: &Path) -> PathBuf {
    let class_of = common::class_index_of_val_files();
    let archive = dir.join("imagenetv2-matched-frequency.tar.gz");
    let file = std::fs::File::create(&archive).unwrap();
    let gzip = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
    let mut builder = tar::Builder::new(gzip);
    for (i, (_, path)) in common::sample_files(shared).iter().enumerate() {
        let name = path.file_name().unwrap().to_str().unwrap();
        let member = format!(
            "imagenetv2-matched-frequency-format-val/{}/{:040x}.jpeg",
            class_of[name],
            i * 7919
        );
        builder.append_path_with_name(path, member).unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap();
    archive
}

#[test]
fn an_imagenetv2_tar_gz_streams_with_folder_labels_and_the_image_folder_counts() {
    let Some(shared) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let archive = sample_as_imagenetv2_archive(&shared, scratch.path());
    let onnx = shared_model(&shared, V1);
    let args = |val: &Path| {
        vec![
            "--model".to_string(),
            V1.into(),
            "--onnx".into(),
            path_str(&onnx).into(),
            "--val".into(),
            path_str(val).into(),
            "--json".into(),
            "--no-cache".into(),
        ]
    };
    let run = |val: &Path| {
        let args = args(val);
        verify(
            scratch.path(),
            &args.iter().map(String::as_str).collect::<Vec<_>>(),
        )
    };
    let streamed = run(&archive);
    assert_eq!(streamed.status, 0, "{}", streamed.stderr);
    let record = streamed.json();
    assert_eq!(record["dataset"]["layout"], "tar");
    assert_eq!(record["images"], 100);
    // MODELS.md's counts for this model on the sample, from the ImageFolder tree.
    assert_eq!(
        (
            record["top1_correct"].as_u64(),
            record["top5_correct"].as_u64()
        ),
        (Some(58), Some(77))
    );
    assert_eq!(
        record["dataset"]["image_set_name"],
        "imagenetv2-matched-frequency"
    );

    // Cut anywhere inside, the archive is refused with its name, not read as a smaller set.
    let bytes = std::fs::read(&archive).unwrap();
    for cut in [bytes.len() / 2, bytes.len() - 5] {
        let truncated = scratch
            .path()
            .join("imagenetv2-matched-frequency-cut.tar.gz");
        std::fs::write(&truncated, &bytes[..cut]).unwrap();
        let refused = run(&truncated);
        assert_error(&refused, &["imagenetv2-matched-frequency-cut.tar.gz"]);
    }
}
