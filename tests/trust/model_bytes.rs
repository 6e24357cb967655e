//! The bytes evaluated are the bytes hashed: a model file is read once, its sha256 checked against
//! the manifest's pin, and the ONNX Runtime session built from those bytes in memory, never from
//! the path again. Also: a model keeping its weights in external data files, which no hash of the
//! file covers, is refused; a FIFO given as the model is refused, not waited on.

use std::path::{Path, PathBuf};

use crate::common;
use crate::common::{assert_error, run, shared};
use prost::Message as _;
use zoorepro::image::pipelines::{PillowCompat, preprocess};
use zoorepro::model::bytes::ModelBytes;
use zoorepro::model::manifest;
use zoorepro::model::onnx::proto::{
    GraphProto, ModelProto, NodeProto, OperatorSetIdProto, StringStringEntryProto, TensorProto,
    TensorShapeProto, TypeProto, ValueInfoProto, tensor_proto, tensor_shape_proto, type_proto,
};
use zoorepro::runtime::{OptLevel, Provider, Runtime, SessionOptions};

const MODEL: &str = "coral/mobilenet_v2_1.0_224_quant";
const BROKEN: &str = "coral/broken-mobilenet_v2_1.0_224_quant";

/// Eight sample images through the model's own recipe, stacked.
fn sample_batch(shared: &Path) -> (Vec<f32>, usize, [usize; 3]) {
    let manifests = manifest::load_all(&common::repo().join("manifests")).unwrap();
    let recipe = manifest::resolve(&manifests, MODEL)
        .unwrap()
        .recipe(None)
        .unwrap();
    let images: Vec<(String, PathBuf)> = common::sample_files(shared).into_iter().take(8).collect();
    let mut tensors = vec![0f32; recipe.sample_len() * images.len()];
    for ((_, path), out) in images
        .iter()
        .zip(tensors.chunks_exact_mut(recipe.sample_len()))
    {
        let bytes = std::fs::read(path).unwrap();
        preprocess(&bytes, &[(&recipe, PillowCompat::V13)], &mut [out])
            .remove(0)
            .unwrap();
    }
    (tensors, images.len(), recipe.sample_shape())
}

fn scores(
    runtime: &Runtime,
    model: &ModelBytes,
    batch: &(Vec<f32>, usize, [usize; 3]),
) -> Vec<f32> {
    let options = SessionOptions {
        provider: Provider::Cpu,
        threads: 1,
        opt_level: OptLevel::All,
    };
    let mut session = runtime.open_bytes(model, &options).unwrap();
    let mut out = Vec::new();
    session.run(&batch.0, batch.1, batch.2, &mut out).unwrap();
    out
}

/// The file is replaced by the broken model (same size) after it was hashed and before the
/// session is opened: the session must still evaluate the hashed bytes. Opening the path again,
/// as the session did before, would evaluate the broken model under the intact one's hash.
#[test]
fn the_session_evaluates_the_bytes_that_were_hashed() {
    let Some(shared) = shared() else { return };
    let runtime = Runtime::load(None).expect("the ONNX Runtime library scripts/setup.sh installs");
    let scratch = tempfile::tempdir().unwrap();
    let path = scratch.path().join("model.onnx");
    std::fs::copy(common::shared_model(&shared, MODEL), &path).unwrap();

    let hashed = ModelBytes::read(&path).unwrap();
    let pinned = manifest::load_all(&common::repo().join("manifests"))
        .unwrap()
        .into_iter()
        .find(|m| m.id == MODEL)
        .unwrap()
        .sha256
        .unwrap();
    assert_eq!(hashed.sha256(), pinned, "the intact model was hashed");

    // Overwritten in place, between the hash and the session.
    let broken = std::fs::read(common::shared_model(&shared, BROKEN)).unwrap();
    assert_eq!(broken.len(), hashed.bytes().len());
    std::fs::write(&path, &broken).unwrap();

    let batch = sample_batch(&shared);
    let evaluated = scores(&runtime, &hashed, &batch);
    let intact = scores(
        &runtime,
        &ModelBytes::read(&common::shared_model(&shared, MODEL)).unwrap(),
        &batch,
    );
    let at_the_path_now = scores(&runtime, &ModelBytes::read(&path).unwrap(), &batch);
    assert_ne!(
        intact, at_the_path_now,
        "the broken model scores these images differently, or this test could not tell"
    );
    assert_eq!(evaluated, intact, "the hashed bytes were evaluated");
}

fn float_value(name: &str, dims: &[i64]) -> ValueInfoProto {
    ValueInfoProto {
        name: Some(name.into()),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: Some(tensor_proto::DataType::Float as i32),
                shape: Some(TensorShapeProto {
                    dim: dims
                        .iter()
                        .map(|&d| tensor_shape_proto::Dimension {
                            value: Some(tensor_shape_proto::dimension::Value::DimValue(d)),
                            ..Default::default()
                        })
                        .collect(),
                }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A 1000-class model for the `torchvision` recipe (spatial means, then a 3x1000 projection)
/// whose projection weights live in `weights.bin` beside it, as exporters write models over
/// 2 GiB.
fn external_data_model(dir: &Path) -> Vec<u8> {
    let weights: Vec<u8> = (0..3 * 1000)
        .flat_map(|i| ((i as f32) * 0.618_034).sin().to_le_bytes())
        .collect();
    std::fs::write(dir.join("weights.bin"), &weights).unwrap();
    let entry = |key: &str, value: String| StringStringEntryProto {
        key: Some(key.into()),
        value: Some(value),
    };
    let initializer = TensorProto {
        name: Some("weights".into()),
        dims: vec![3, 1000],
        data_type: Some(tensor_proto::DataType::Float as i32),
        data_location: Some(tensor_proto::DataLocation::External as i32),
        external_data: vec![
            entry("location", "weights.bin".into()),
            entry("offset", "0".into()),
            entry("length", weights.len().to_string()),
        ],
        ..Default::default()
    };
    let node = |op: &str, inputs: &[&str], output: &str| NodeProto {
        op_type: Some(op.into()),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: vec![output.into()],
        ..Default::default()
    };
    let mean = NodeProto {
        attribute: vec![zoorepro::model::onnx::proto::AttributeProto {
            name: Some("axes".into()),
            r#type: Some(zoorepro::model::onnx::proto::attribute_proto::AttributeType::Ints as i32),
            ints: vec![2, 3],
            ..Default::default()
        }],
        ..node("ReduceMean", &["input"], "features")
    };
    ModelProto {
        ir_version: Some(8),
        producer_name: Some("zoorepro-tests".into()),
        opset_import: vec![OperatorSetIdProto {
            domain: Some(String::new()),
            version: Some(13),
        }],
        graph: Some(GraphProto {
            name: Some("external".into()),
            node: vec![mean, node("MatMul", &["features", "weights"], "logits")],
            initializer: vec![initializer],
            input: vec![float_value("input", &[1, 3, 224, 224])],
            output: vec![float_value("logits", &[1, 1000])],
            ..Default::default()
        }),
        ..Default::default()
    }
    .encode_to_vec()
}

#[test]
fn a_model_with_external_data_is_refused_by_name() {
    let scratch = tempfile::tempdir().unwrap();
    let home = scratch.path().join("home");
    std::fs::create_dir_all(home.join("manifests")).unwrap();
    std::fs::create_dir_all(home.join("models")).unwrap();
    let onnx = home.join("models/test__external.onnx");
    std::fs::write(&onnx, external_data_model(&home.join("models"))).unwrap();
    let manifest = serde_json::json!({
        "format_version": 1,
        "id": "test/external",
        "framework": "test",
        "name": "external",
        "description": "tests/trust/model_bytes.rs fixture",
        "file": "test__external.onnx",
        "sha256": null,
        "input": {"name": "input", "shape": [1, 3, 224, 224], "layout": "nchw", "dtype": "float32"},
        "output": {"name": "logits", "classes": 1000, "label_offset": 0, "kind": "logits"},
        "default_recipe": "torchvision",
        "recipes": ["torchvision"],
        "references": []
    });
    std::fs::write(
        home.join("manifests/test__external.json"),
        manifest.to_string(),
    )
    .unwrap();

    let zoorepro = || {
        let mut command = common::zoorepro(&scratch.path().join("cache"));
        command.env("ZOOREPRO_HOME", &home);
        command
    };
    let needles = [
        "test__external.onnx",
        "external files",
        "\"weights\"",
        "re-export it with the weights inside the file",
    ];
    let verified = run(zoorepro()
        .args(["verify", "--model", "test/external", "--no-cache", "--val"])
        .arg(common::repo().join("demo"))
        .arg("--report-dir")
        .arg(scratch.path().join("reports")));
    assert_error(&verified, &needles);
    let determinism = run(zoorepro()
        .args(["determinism", "--model", "test/external", "--val"])
        .arg(common::repo().join("demo")));
    assert_error(&determinism, &needles);
    let added = run(zoorepro().arg("add-model").arg(&onnx).args([
        "--id",
        "mine/external",
        "--recipe",
        "torchvision",
    ]));
    assert_error(&added, &needles);

    // `inspect` still describes the file, and says what its sha256 leaves out.
    let inspected = run(zoorepro().args(["inspect", "--json"]).arg(&onnx));
    assert_eq!(inspected.status, 0, "{}", inspected.stderr);
    assert_eq!(
        inspected.json()["external_data"],
        serde_json::json!(["weights"])
    );
}

#[test]
fn a_fifo_given_as_the_model_is_refused_not_waited_on() {
    let Some(shared) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let fifo = scratch.path().join("model.onnx");
    let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let mut command = common::zoorepro(&scratch.path().join("cache"));
    command
        .args(["verify", "--model", MODEL, "--no-cache", "--onnx"])
        .arg(&fifo)
        .arg("--val")
        .arg(shared.join("imagenet-sample"))
        .arg("--report-dir")
        .arg(scratch.path().join("reports"));
    let mut child = command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            panic!("still running after 60 s: the FIFO hung it");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let output = child.wait_with_output().unwrap();
    let result = common::Run {
        status: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    assert_error(&result, &["model.onnx", "FIFO"]);
}
