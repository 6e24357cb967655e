//! Tiny real ONNX classifiers, written with the official schema's prost types, for tests that
//! need a model with a given signature (a wrong output batch, a fixed input batch) rather than
//! a real network. They take NCHW 224x224 float input (the `torchvision` recipe).

use prost::Message as _;
use zoorepro::model::onnx::proto::{
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto,
    TensorShapeProto, TypeProto, ValueInfoProto, attribute_proto, tensor_proto, tensor_shape_proto,
    type_proto,
};

pub const CLASSES: usize = 1000;

/// A batch dimension: fixed to a number, or named (dynamic).
#[derive(Clone, Copy, Debug)]
pub enum Batch {
    Fixed(i64),
    Dynamic,
}

fn dim(batch: Batch) -> tensor_shape_proto::Dimension {
    let value = match batch {
        Batch::Fixed(n) => tensor_shape_proto::dimension::Value::DimValue(n),
        Batch::Dynamic => tensor_shape_proto::dimension::Value::DimParam("N".into()),
    };
    tensor_shape_proto::Dimension {
        value: Some(value),
        ..Default::default()
    }
}

fn fixed(n: i64) -> tensor_shape_proto::Dimension {
    dim(Batch::Fixed(n))
}

fn float_value(name: &str, dims: Vec<tensor_shape_proto::Dimension>) -> ValueInfoProto {
    ValueInfoProto {
        name: Some(name.into()),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: Some(tensor_proto::DataType::Float as i32),
                shape: Some(TensorShapeProto { dim: dims }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn ints(name: &str, values: &[i64]) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(attribute_proto::AttributeType::Ints as i32),
        ints: values.to_vec(),
        ..Default::default()
    }
}

fn int(name: &str, value: i64) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(attribute_proto::AttributeType::Int as i32),
        i: Some(value),
        ..Default::default()
    }
}

fn node(op: &str, inputs: &[&str], output: &str, attrs: Vec<AttributeProto>) -> NodeProto {
    NodeProto {
        name: Some(output.into()),
        op_type: Some(op.into()),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: vec![output.into()],
        attribute: attrs,
        ..Default::default()
    }
}

/// Per-channel spatial means projected to 1000 logits by fixed weights, one row per image; or,
/// with `output_rows`, the batch's mean row repeated that many times whatever the batch (an
/// export whose output batch is baked in wrong). The graph declares the shapes it produces.
pub fn classifier(input_batch: Batch, output_rows: Option<i64>) -> Vec<u8> {
    let weights: Vec<f32> = (0..3 * CLASSES)
        .map(|i| ((i as f32) * 0.618_034).sin())
        .collect();
    let mut initializer = vec![floats("weights", vec![3, CLASSES as i64], &weights)];
    let mut nodes = vec![
        node(
            "ReduceMean",
            &["input"],
            "features",
            vec![ints("axes", &[2, 3]), int("keepdims", 0)],
        ),
        node("MatMul", &["features", "weights"], "per_image", vec![]),
    ];
    let output_batch = match output_rows {
        None => {
            nodes.push(node("Identity", &["per_image"], "logits", vec![]));
            input_batch
        }
        Some(rows) => {
            initializer.push(TensorProto {
                name: Some("rows".into()),
                dims: vec![2],
                data_type: Some(tensor_proto::DataType::Int64 as i32),
                int64_data: vec![rows, CLASSES as i64],
                ..Default::default()
            });
            nodes.push(node(
                "ReduceMean",
                &["per_image"],
                "batch_mean",
                vec![ints("axes", &[0]), int("keepdims", 1)],
            ));
            nodes.push(node("Expand", &["batch_mean", "rows"], "logits", vec![]));
            Batch::Fixed(rows)
        }
    };
    model(
        nodes,
        initializer,
        vec![dim(input_batch), fixed(3), fixed(224), fixed(224)],
        vec![dim(output_batch), fixed(CLASSES as i64)],
    )
}

/// A model with one `input` and one `logits` tensor made by `nodes`, encoded.
fn model(
    nodes: Vec<NodeProto>,
    initializer: Vec<TensorProto>,
    input: Vec<tensor_shape_proto::Dimension>,
    output: Vec<tensor_shape_proto::Dimension>,
) -> Vec<u8> {
    ModelProto {
        ir_version: Some(8),
        producer_name: Some("zoorepro-tests".into()),
        producer_version: Some("1".into()),
        opset_import: vec![OperatorSetIdProto {
            domain: Some(String::new()),
            version: Some(13),
        }],
        graph: Some(GraphProto {
            name: Some("tiny".into()),
            node: nodes,
            initializer,
            input: vec![float_value("input", input)],
            output: vec![float_value("logits", output)],
            ..Default::default()
        }),
        ..Default::default()
    }
    .encode_to_vec()
}

fn floats(name: &str, dims: Vec<i64>, values: &[f32]) -> TensorProto {
    TensorProto {
        name: Some(name.into()),
        dims,
        data_type: Some(tensor_proto::DataType::Float as i32),
        raw_data: Some(values.iter().flat_map(|w| w.to_le_bytes()).collect()),
        ..Default::default()
    }
}

/// A 224x224 RGB classifier for the `torchvision` recipe: per-channel spatial means, optionally
/// made batch-dependent by adding each feature's deviation from the batch mean (the
/// BatchNorm-in-training-mode failure; the node that reduces over the batch is `batch_mean`),
/// then the fixed projection of [`classifier`]. Dynamic batch.
pub fn batch_statistics_classifier(batch_dependent: bool) -> Vec<u8> {
    let weights: Vec<f32> = (0..3 * CLASSES)
        .map(|i| ((i as f32) * 0.618_034).sin())
        .collect();
    let mut nodes = vec![node(
        "ReduceMean",
        &["input"],
        "features",
        vec![ints("axes", &[2, 3]), int("keepdims", 0)],
    )];
    let projected_from = if batch_dependent {
        nodes.extend([
            node(
                "ReduceMean",
                &["features"],
                "batch_mean",
                vec![ints("axes", &[0]), int("keepdims", 1)],
            ),
            node("Sub", &["features", "batch_mean"], "deviation", vec![]),
            node("Add", &["features", "deviation"], "mixed", vec![]),
        ]);
        "mixed"
    } else {
        "features"
    };
    nodes.push(node(
        "MatMul",
        &[projected_from, "weights"],
        "logits",
        vec![],
    ));
    model(
        nodes,
        vec![floats("weights", vec![3, CLASSES as i64], &weights)],
        vec![dim(Batch::Dynamic), fixed(3), fixed(224), fixed(224)],
        vec![dim(Batch::Dynamic), fixed(CLASSES as i64)],
    )
}

/// A classifier whose ranking is `top5` (best first) whatever the image: the input's channel
/// means times zero weights, plus a bias that ranks those five classes above the others. Its
/// predictions are known without running it, which is what a model of the truth needs. Input
/// NCHW `size`x`size`, dynamic batch.
pub fn fixed_ranking(top5: [u16; 5], size: i64) -> Vec<u8> {
    let mut bias = vec![0f32; CLASSES];
    for (rank, class) in top5.iter().enumerate() {
        bias[usize::from(*class)] = 10.0 - rank as f32;
    }
    let nodes = vec![
        node(
            "ReduceMean",
            &["input"],
            "features",
            vec![ints("axes", &[2, 3]), int("keepdims", 0)],
        ),
        node("MatMul", &["features", "zeros"], "nothing", vec![]),
        node("Add", &["nothing", "bias"], "logits", vec![]),
    ];
    let initializer = vec![
        floats("zeros", vec![3, CLASSES as i64], &vec![0.0; 3 * CLASSES]),
        floats("bias", vec![CLASSES as i64], &bias),
    ];
    model(
        nodes,
        initializer,
        vec![dim(Batch::Dynamic), fixed(3), fixed(size), fixed(size)],
        vec![dim(Batch::Dynamic), fixed(CLASSES as i64)],
    )
}

/// The manifest of a [`classifier`] saved as `file` in a home's models/, unpinned, fed by the
/// `torchvision` preset.
pub fn manifest(id: &str, file: &str, input_batch: Batch) -> serde_json::Value {
    let batch = match input_batch {
        Batch::Fixed(n) => serde_json::json!(n),
        Batch::Dynamic => serde_json::json!("N"),
    };
    serde_json::json!({
        "format_version": 1,
        "id": id,
        "framework": id.split('/').next().unwrap(),
        "name": id.split('/').nth(1).unwrap(),
        "description": "tests/common/onnx.rs fixture",
        "file": file,
        "sha256": null,
        "input": {"name": "input", "shape": [batch, 3, 224, 224], "layout": "nchw", "dtype": "float32"},
        "output": {"name": "logits", "classes": CLASSES, "label_offset": 0, "kind": "logits"},
        "default_recipe": "torchvision",
        "recipes": ["torchvision"],
        "references": []
    })
}

/// `bytes` (a real export) with its graph's one input and first output renamed, every node
/// reading or writing them following: what an export from torch looks like when nobody named its
/// tensors (`input.1`), with the very same weights.
pub fn rename_io(bytes: &[u8], input: &str, output: &str) -> Vec<u8> {
    let mut model = ModelProto::decode(bytes).expect("an ONNX file");
    let graph = model.graph.as_mut().expect("a graph");
    let initializers: std::collections::HashSet<String> = graph
        .initializer
        .iter()
        .filter_map(|t| t.name.clone())
        .collect();
    let old_input = graph
        .input
        .iter()
        .filter_map(|v| v.name.clone())
        .find(|name| !initializers.contains(name))
        .expect("one graph input");
    let old_output = graph.output[0].name.clone().expect("a named output");
    for value in graph.input.iter_mut().chain(graph.output.iter_mut()) {
        if value.name.as_deref() == Some(old_input.as_str()) {
            value.name = Some(input.into());
        } else if value.name.as_deref() == Some(old_output.as_str()) {
            value.name = Some(output.into());
        }
    }
    for node in &mut graph.node {
        for name in node.input.iter_mut() {
            if *name == old_input {
                *name = input.into();
            }
        }
        for name in node.output.iter_mut() {
            if *name == old_output {
                *name = output.into();
            }
        }
    }
    model.encode_to_vec()
}
