//! Reading ONNX files with the official schema (proto/onnx.proto, compiled by build.rs), and the
//! summary `zoorepro inspect` prints: what goes in and out, who made it, what it computes, how
//! many parameters it holds, and which operators mix the samples of a batch.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use prost::Message as _;
use serde::Serialize;
use sha2::Digest as _;

/// The prost types of `onnx.proto` (package `onnx`). Public so that tests and tools can build
/// models with the same types the reader uses.
mod external;
pub use external::external_data_tensors;

pub mod proto {
    #![allow(clippy::all, missing_docs)]
    include!(concat!(env!("OUT_DIR"), "/onnx.rs"));
}

use proto::{
    AttributeProto, GraphProto, ModelProto, NodeProto, TensorProto, TypeProto, ValueInfoProto,
};

/// Refuses files this large instead of allocating for them: a protobuf ONNX file is limited to
/// 2 GiB by the format itself (larger models keep their weights in external data files).
pub(crate) const MAX_ONNX_BYTES: u64 = 2 << 30;

#[derive(Debug, thiserror::Error)]
pub enum OnnxError {
    #[error("cannot read {path}: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error("{path} is not an ONNX model: {reason}")]
    NotOnnx { path: PathBuf, reason: String },
    /// Not a regular file, too large, or unreadable: the guarded read's own message.
    #[error(transparent)]
    File(#[from] crate::util::safe_file::SafeFileError),
    #[error(
        "{path} keeps the data of {count} tensor(s) (first: {first:?}) in external files, which its sha256 \
         does not cover and zoorepro does not read: re-export it with the weights inside the file \
         (onnx.save_model(model, path, save_as_external_data=False); the file must stay under 2 GiB)"
    )]
    ExternalData {
        path: PathBuf,
        count: usize,
        first: String,
    },
}

/// A declared dimension: a size, a symbolic name, or nothing at all.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum DimSummary {
    Fixed(i64),
    Symbolic(String),
    Unknown(Option<()>),
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TensorSummary {
    pub name: String,
    pub dtype: String,
    /// `None` when the graph declares no shape at all.
    pub shape: Option<Vec<DimSummary>>,
    /// The first dimension when the graph fixes it to a number (the batch of an image input).
    pub fixed_batch: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Opset {
    /// `ai.onnx` for the default domain.
    pub domain: String,
    pub version: i64,
}

/// Elements of the graph's initializers. Keras counts BatchNormalization's moving mean and
/// variance among a model's (non-trainable) parameters and PyTorch keeps them as buffers outside
/// `parameters()`, so they are counted apart to compare the two.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ParameterCount {
    /// Every initializer element, running statistics included.
    pub total: u64,
    /// BatchNormalization's running mean and variance (inputs 3 and 4) held as initializers.
    pub batchnorm_running_stats: u64,
    /// `total - batchnorm_running_stats`: what PyTorch's `parameters()` would count.
    pub excluding_running_stats: u64,
    /// Scales and zero points of QuantizeLinear / DequantizeLinear (inputs 1 and 2), included in
    /// `total`: a quantized export holds them on top of the weights a framework would count.
    pub quantization_scales_and_zero_points: u64,
    /// Initializer tensors.
    pub initializers: usize,
    /// BatchNormalization nodes: 0 often means the exporter folded them into the convolutions,
    /// and their statistics are no longer separable.
    pub batchnorm_nodes: usize,
}

/// An operator whose result for one sample can depend on the other samples of its batch.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BatchOperator {
    /// The node's name, or `#<index>` when it has none.
    pub node: String,
    pub op_type: String,
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OnnxSummary {
    pub path: String,
    /// sha256 of the file's bytes, as manifests pin it.
    pub sha256: String,
    pub ir_version: i64,
    pub producer: String,
    pub producer_version: String,
    pub opsets: Vec<Opset>,
    /// Graph inputs that are not initializers (older exporters list weights as inputs too).
    pub inputs: Vec<TensorSummary>,
    pub outputs: Vec<TensorSummary>,
    /// Nodes of the main graph and of its subgraphs (If/Loop/Scan bodies).
    pub nodes: usize,
    /// Operator type (prefixed with its domain outside the default one) -> node count.
    pub operators: BTreeMap<String, usize>,
    pub parameters: ParameterCount,
    pub batch_operators: Vec<BatchOperator>,
    /// Tensors whose data lives in files beside this one (`data_location = EXTERNAL`): `sha256`
    /// does not cover them, and `verify` refuses such a file.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub external_data: Vec<String>,
}

/// Reads and summarises an ONNX file. Never panics on foreign input: a file that is not a
/// protobuf ModelProto with a graph is an `OnnxError` naming it.
pub fn inspect(path: &Path) -> Result<OnnxSummary, OnnxError> {
    let bytes = read_bytes(path)?;
    let sha256 = crate::util::hex::hex(&sha2::Sha256::digest(&bytes));
    inspect_bytes(path, &bytes, sha256)
}

/// [`inspect`] of bytes already read (and hashed, `sha256`) from `path`, which only names them.
pub fn inspect_bytes(path: &Path, bytes: &[u8], sha256: String) -> Result<OnnxSummary, OnnxError> {
    let model = decode(path, bytes)?;
    let graph = model.graph.as_ref().ok_or_else(|| OnnxError::NotOnnx {
        path: path.to_path_buf(),
        reason: "it decodes as protobuf but holds no graph".into(),
    })?;
    // Random bytes can decode as a protobuf message with only unknown fields; a real model
    // always names its IR version and at least one operator set.
    if model.ir_version.unwrap_or(0) <= 0 || model.opset_import.is_empty() {
        return Err(OnnxError::NotOnnx {
            path: path.to_path_buf(),
            reason: "it has no IR version or no operator set import".into(),
        });
    }
    let external_data = external_data_tensors(path, bytes)?;
    summarise(path, sha256, &model, graph, external_data)
}

/// Decodes a ModelProto from a file (weights included; external data files are not read).
pub fn read_model(path: &Path) -> Result<ModelProto, OnnxError> {
    decode(path, &read_bytes(path)?)
}

fn decode(path: &Path, bytes: &[u8]) -> Result<ModelProto, OnnxError> {
    ModelProto::decode(bytes).map_err(|e| OnnxError::NotOnnx {
        path: path.to_path_buf(),
        reason: format!("protobuf decoding failed ({e})"),
    })
}

/// The bytes of an ONNX file: a regular file within protobuf's 2 GiB limit.
pub(crate) fn read_bytes(path: &Path) -> Result<Vec<u8>, OnnxError> {
    let read_error = |reason: String| OnnxError::Read {
        path: path.to_path_buf(),
        reason,
    };
    let metadata = std::fs::metadata(path).map_err(|e| read_error(e.to_string()))?;
    // What is not a regular file (a FIFO, a device) is refused by the guarded read below, which
    // says what it is.
    if metadata.is_file() && metadata.len() > MAX_ONNX_BYTES {
        return Err(OnnxError::NotOnnx {
            path: path.to_path_buf(),
            reason: format!(
                "{} bytes is over the 2 GiB limit of a protobuf ONNX file",
                metadata.len()
            ),
        });
    }
    Ok(crate::util::safe_file::read_regular(
        path,
        MAX_ONNX_BYTES,
        "an ONNX file",
    )?)
}

fn summarise(
    path: &Path,
    sha256: String,
    model: &ModelProto,
    graph: &GraphProto,
    external_data: Vec<String>,
) -> Result<OnnxSummary, OnnxError> {
    let parameters = count_parameters(graph).map_err(|reason| OnnxError::NotOnnx {
        path: path.to_path_buf(),
        reason: format!("{reason}: the file is damaged"),
    })?;
    let initializer_names: std::collections::HashSet<&str> =
        graph.initializer.iter().map(|t| t.name()).collect();
    let mut operators = BTreeMap::new();
    let mut nodes = 0;
    count_operators(graph, &mut operators, &mut nodes);
    Ok(OnnxSummary {
        path: path.display().to_string(),
        sha256,
        ir_version: model.ir_version(),
        producer: model.producer_name().to_string(),
        producer_version: model.producer_version().to_string(),
        opsets: model
            .opset_import
            .iter()
            .map(|o| Opset {
                domain: domain_name(o.domain()).to_string(),
                version: o.version(),
            })
            .collect(),
        inputs: graph
            .input
            .iter()
            .filter(|v| !initializer_names.contains(v.name()))
            .map(tensor_summary)
            .collect(),
        outputs: graph.output.iter().map(tensor_summary).collect(),
        nodes,
        operators,
        parameters,
        batch_operators: batch_operators(model, graph),
        external_data,
    })
}

fn domain_name(domain: &str) -> &str {
    if domain.is_empty() { "ai.onnx" } else { domain }
}

/// ONNX's element type names, with the float widths spelled the way NumPy and the runtime do.
fn dtype_name(code: i32) -> String {
    use proto::tensor_proto::DataType;
    match DataType::try_from(code) {
        Ok(DataType::Float) => "float32".into(),
        Ok(DataType::Double) => "float64".into(),
        Ok(DataType::Float16) => "float16".into(),
        Ok(other) => other.as_str_name().to_ascii_lowercase(),
        Err(_) => format!("unknown({code})"),
    }
}

fn tensor_summary(value: &ValueInfoProto) -> TensorSummary {
    let tensor = value
        .r#type
        .as_ref()
        .and_then(|t| t.value.as_ref())
        .and_then(|v| match v {
            proto::type_proto::Value::TensorType(t) => Some(t),
            _ => None,
        });
    let dtype = match (tensor, &value.r#type) {
        (Some(t), _) => dtype_name(t.elem_type()),
        (None, Some(TypeProto { value: Some(_), .. })) => "non-tensor".into(),
        (None, _) => "undeclared".into(),
    };
    let shape: Option<Vec<DimSummary>> = tensor.and_then(|t| t.shape.as_ref()).map(|shape| {
        shape
            .dim
            .iter()
            .map(|d| match &d.value {
                Some(proto::tensor_shape_proto::dimension::Value::DimValue(v)) => {
                    DimSummary::Fixed(*v)
                }
                Some(proto::tensor_shape_proto::dimension::Value::DimParam(p)) => {
                    DimSummary::Symbolic(p.clone())
                }
                None => DimSummary::Unknown(None),
            })
            .collect()
    });
    let fixed_batch = shape.as_ref().and_then(|s| match s.first() {
        Some(DimSummary::Fixed(v)) => Some(*v),
        _ => None,
    });
    TensorSummary {
        name: value.name().to_string(),
        dtype,
        shape,
        fixed_batch,
    }
}

fn op_key(node: &NodeProto) -> String {
    match node.domain() {
        "" | "ai.onnx" => node.op_type().to_string(),
        domain => format!("{domain}:{}", node.op_type()),
    }
}

fn subgraphs(node: &NodeProto) -> impl Iterator<Item = &GraphProto> {
    node.attribute
        .iter()
        .flat_map(|a| a.g.iter().chain(a.graphs.iter()))
}

fn count_operators(graph: &GraphProto, histogram: &mut BTreeMap<String, usize>, nodes: &mut usize) {
    for node in &graph.node {
        *nodes += 1;
        *histogram.entry(op_key(node)).or_default() += 1;
        for sub in subgraphs(node) {
            count_operators(sub, histogram, nodes);
        }
    }
}

/// Elements of a tensor from its declared dimensions; `Err` says why there is no such number (a
/// negative dimension, or a product past 2^64, which no file can hold: `[2^62, 4]` must not
/// wrap to 0).
fn elements(tensor: &TensorProto) -> Result<u64, String> {
    let mut product = 1u64;
    for &d in &tensor.dims {
        let d = u64::try_from(d).map_err(|_| {
            format!(
                "initializer {:?} declares a negative dimension {:?}",
                tensor.name(),
                tensor.dims
            )
        })?;
        product = product.checked_mul(d).ok_or_else(|| {
            format!(
                "initializer {:?} declares dimensions {:?}, whose element count overflows 64 bits",
                tensor.name(),
                tensor.dims
            )
        })?;
    }
    Ok(product)
}

fn sum(counts: impl Iterator<Item = u64>) -> Result<u64, String> {
    let mut counts = counts;
    counts
        .try_fold(0u64, u64::checked_add)
        .ok_or_else(|| "the initializers' element counts add up past 2^64 (overflow)".to_string())
}

/// The parameter counts, or why they cannot be counted (a damaged or hostile file).
fn count_parameters(graph: &GraphProto) -> Result<ParameterCount, String> {
    let sizes: HashMap<&str, u64> = graph
        .initializer
        .iter()
        .map(|t| Ok((t.name(), elements(t)?)))
        .collect::<Result<_, String>>()?;

    let mut running: std::collections::HashSet<&str> = std::collections::HashSet::new();
    let mut quantization: std::collections::HashSet<&str> = std::collections::HashSet::new();
    let mut batchnorm_nodes = 0;
    for node in &graph.node {
        if matches!(node.op_type(), "QuantizeLinear" | "DequantizeLinear")
            && is_default_domain(node)
        {
            for name in node.input.iter().skip(1).take(2) {
                if sizes.contains_key(name.as_str()) {
                    quantization.insert(name.as_str());
                }
            }
        }
        if node.op_type() == "BatchNormalization" && is_default_domain(node) {
            batchnorm_nodes += 1;
            for name in node.input.iter().skip(3).take(2) {
                if sizes.contains_key(name.as_str()) {
                    running.insert(name.as_str());
                }
            }
        }
    }
    let total = sum(sizes.values().copied())?;
    // Parts of `total`, so neither overflows once it did not.
    let batchnorm_running_stats = sum(running.iter().map(|n| sizes[n]))?;
    Ok(ParameterCount {
        total,
        batchnorm_running_stats,
        excluding_running_stats: total - batchnorm_running_stats,
        quantization_scales_and_zero_points: sum(quantization.iter().map(|n| sizes[n]))?,
        initializers: graph.initializer.len(),
        batchnorm_nodes,
    })
}

fn is_default_domain(node: &NodeProto) -> bool {
    matches!(node.domain(), "" | "ai.onnx")
}

/// Constant integer lists the graph holds by name: initializers and Constant nodes' values.
struct Constants<'a> {
    initializers: HashMap<&'a str, &'a TensorProto>,
    constant_nodes: HashMap<&'a str, &'a TensorProto>,
}

impl<'a> Constants<'a> {
    fn of(graph: &'a GraphProto) -> Constants<'a> {
        let mut constant_nodes = HashMap::new();
        for node in &graph.node {
            if node.op_type() == "Constant"
                && is_default_domain(node)
                && let (Some(output), Some(value)) = (
                    node.output.first(),
                    node.attribute
                        .iter()
                        .find(|a| a.name() == "value")
                        .and_then(|a| a.t.as_ref()),
                )
            {
                constant_nodes.insert(output.as_str(), value);
            }
        }
        Constants {
            initializers: graph.initializer.iter().map(|t| (t.name(), t)).collect(),
            constant_nodes,
        }
    }

    fn tensor(&self, name: &str) -> Option<&'a TensorProto> {
        self.initializers
            .get(name)
            .or_else(|| self.constant_nodes.get(name))
            .copied()
    }

    /// The integer (or boolean) values of a constant tensor; `None` when it is not constant or
    /// its data lives outside the file.
    fn ints(&self, name: &str) -> Option<Vec<i64>> {
        use proto::tensor_proto::DataType;
        let tensor = self.tensor(name)?;
        let raw = tensor.raw_data();
        match DataType::try_from(tensor.data_type()).ok()? {
            DataType::Int64 if !tensor.int64_data.is_empty() => Some(tensor.int64_data.clone()),
            DataType::Int64 => Some(
                raw.chunks_exact(8)
                    .map(|c| i64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
                    .collect(),
            ),
            DataType::Int32 | DataType::Bool if !tensor.int32_data.is_empty() => {
                Some(tensor.int32_data.iter().map(|&v| i64::from(v)).collect())
            }
            DataType::Int32 => Some(
                raw.chunks_exact(4)
                    .map(|c| i64::from(i32::from_le_bytes(c.try_into().unwrap_or([0; 4]))))
                    .collect(),
            ),
            DataType::Bool => Some(raw.iter().map(|&b| i64::from(b)).collect()),
            _ => None,
        }
    }
}

fn attribute<'a>(node: &'a NodeProto, name: &str) -> Option<&'a AttributeProto> {
    node.attribute.iter().find(|a| a.name() == name)
}

fn int_attribute(node: &NodeProto, name: &str) -> Option<i64> {
    attribute(node, name).and_then(|a| a.i)
}

fn ints_attribute(node: &NodeProto, name: &str) -> Option<Vec<i64>> {
    attribute(node, name).map(|a| a.ints.clone())
}

/// The declared rank of every value whose shape the graph states, to resolve negative axes.
fn ranks(graph: &GraphProto) -> HashMap<&str, usize> {
    graph
        .input
        .iter()
        .chain(&graph.value_info)
        .chain(&graph.output)
        .filter_map(|v| {
            let shape = match v.r#type.as_ref()?.value.as_ref()? {
                proto::type_proto::Value::TensorType(t) => t.shape.as_ref()?,
                _ => return None,
            };
            Some((v.name(), shape.dim.len()))
        })
        .collect()
}

/// Whether `axes` names axis 0 of a tensor of rank `rank` (negative axes need the rank).
fn touches_batch_axis(axes: &[i64], rank: Option<usize>) -> bool {
    axes.iter()
        .any(|&axis| axis == 0 || rank.is_some_and(|r| i64::try_from(r).is_ok_and(|r| axis == -r)))
}

fn opset_version(model: &ModelProto) -> i64 {
    model
        .opset_import
        .iter()
        .find(|o| matches!(o.domain(), "" | "ai.onnx"))
        .map_or(0, |o| o.version())
}

const REDUCTIONS: [&str; 10] = [
    "ReduceMean",
    "ReduceSum",
    "ReduceMax",
    "ReduceMin",
    "ReduceProd",
    "ReduceL1",
    "ReduceL2",
    "ReduceLogSum",
    "ReduceLogSumExp",
    "ReduceSumSquare",
];

/// Operators of the main graph that compute across the batch axis or run in training mode.
/// Subgraph bodies are not searched: their axes refer to their own values.
fn batch_operators(model: &ModelProto, graph: &GraphProto) -> Vec<BatchOperator> {
    let constants = Constants::of(graph);
    let ranks = ranks(graph);
    let opset = opset_version(model);
    let mut found = Vec::new();
    for (index, node) in graph.node.iter().enumerate() {
        if !is_default_domain(node) {
            continue;
        }
        let rank = node
            .input
            .first()
            .and_then(|i| ranks.get(i.as_str()).copied());
        let reason = batch_reason(node, &constants, rank, opset);
        if let Some(reason) = reason {
            found.push(BatchOperator {
                node: if node.name().is_empty() {
                    format!("#{index}")
                } else {
                    node.name().to_string()
                },
                op_type: node.op_type().to_string(),
                reason,
            });
        }
    }
    found
}

fn batch_reason(
    node: &NodeProto,
    constants: &Constants,
    rank: Option<usize>,
    opset: i64,
) -> Option<String> {
    let op = node.op_type();
    match op {
        "BatchNormalization" => (int_attribute(node, "training_mode") == Some(1)).then(|| {
            "training_mode=1: normalises with the statistics of the batch, not the running ones"
                .to_string()
        }),
        "Dropout" => {
            let training = node.input.get(2).filter(|name| !name.is_empty())?;
            match constants.ints(training).as_deref() {
                // A constant false input is inference mode, the same as no input at all.
                Some([0]) => None,
                Some(_) => Some(format!(
                    "training_mode input {training:?} is true: drops random activations"
                )),
                None => Some(format!(
                    "training_mode input {training:?} is not a constant: it may drop random activations"
                )),
            }
        }
        _ if REDUCTIONS.contains(&op) || op == "ArgMax" || op == "ArgMin" => {
            reduction_reason(node, constants, rank, opset)
        }
        "Softmax" | "LogSoftmax" | "Hardmax" => {
            // Before opset 13 these flattened from `axis` (default 1), so axis 0 spans the batch.
            let axis = int_attribute(node, "axis").unwrap_or(if opset < 13 { 1 } else { -1 });
            touches_batch_axis(&[axis], rank)
                .then(|| format!("axis={axis}: normalises across the samples of the batch"))
        }
        "LayerNormalization" => {
            // Normalises over the axes from `axis` to the last: axis 0 includes the batch.
            let axis = int_attribute(node, "axis").unwrap_or(-1);
            touches_batch_axis(&[axis], rank)
                .then(|| format!("axis={axis}: normalises over the batch axis and all after it"))
        }
        "LpNormalization" => {
            let axis = int_attribute(node, "axis").unwrap_or(-1);
            touches_batch_axis(&[axis], rank)
                .then(|| format!("axis={axis}: normalises across the samples of the batch"))
        }
        "MeanVarianceNormalization" => {
            let axes = ints_attribute(node, "axes").unwrap_or_else(|| vec![0, 2, 3]);
            touches_batch_axis(&axes, rank)
                .then(|| format!("axes={axes:?}: mean and variance are taken across the batch"))
        }
        _ => None,
    }
}

fn reduction_reason(
    node: &NodeProto,
    constants: &Constants,
    rank: Option<usize>,
    opset: i64,
) -> Option<String> {
    let op = node.op_type();
    if op == "ArgMax" || op == "ArgMin" {
        let axis = int_attribute(node, "axis").unwrap_or(0);
        return touches_batch_axis(&[axis], rank)
            .then(|| format!("axis={axis}: compares the samples of the batch"));
    }
    // ReduceSum took its axes as an input from opset 13, the other reductions from opset 18.
    let axes_from_input = if op == "ReduceSum" {
        opset >= 13
    } else {
        opset >= 18
    };
    let axes = if axes_from_input {
        match node.input.get(1).filter(|n| !n.is_empty()) {
            Some(name) => match constants.ints(name) {
                Some(axes) => Some(axes),
                None => {
                    return Some(format!(
                        "axes come from {name:?}, which is not a constant: it may reduce over the batch"
                    ));
                }
            },
            None => None,
        }
    } else {
        ints_attribute(node, "axes").filter(|a| !a.is_empty())
    };
    match axes {
        Some(axes) => touches_batch_axis(&axes, rank)
            .then(|| format!("axes={axes:?}: reduces over the batch axis")),
        // No axes: every axis is reduced, the batch included, unless told to do nothing.
        None if int_attribute(node, "noop_with_empty_axes") == Some(1) => None,
        None => Some("no axes: reduces over every axis, the batch included".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_file_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.onnx");
        std::fs::write(&path, b"this is not a protobuf model at all\n").unwrap();
        let message = inspect(&path).unwrap_err().to_string();
        assert!(message.contains("model.onnx"), "{message}");
        assert!(message.contains("not an ONNX model"), "{message}");
    }

    #[test]
    fn an_empty_or_missing_file_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.onnx");
        std::fs::write(&empty, b"").unwrap();
        assert!(inspect(&empty).is_err());
        assert!(inspect(&dir.path().join("missing.onnx")).is_err());
        assert!(inspect(dir.path()).is_err());
    }

    #[test]
    fn negative_axes_reach_the_batch_only_with_a_known_rank() {
        assert!(touches_batch_axis(&[0], None));
        assert!(touches_batch_axis(&[-4], Some(4)));
        assert!(!touches_batch_axis(&[-4], None));
        assert!(!touches_batch_axis(&[1, 2, 3], Some(4)));
    }

    fn node(op: &str, inputs: &[&str], attributes: Vec<AttributeProto>) -> NodeProto {
        NodeProto {
            op_type: Some(op.into()),
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec!["y".into()],
            attribute: attributes,
            ..Default::default()
        }
    }

    fn ints(name: &str, values: &[i64]) -> AttributeProto {
        AttributeProto {
            name: Some(name.into()),
            r#type: Some(proto::attribute_proto::AttributeType::Ints as i32),
            ints: values.to_vec(),
            ..Default::default()
        }
    }

    fn int(name: &str, value: i64) -> AttributeProto {
        AttributeProto {
            name: Some(name.into()),
            r#type: Some(proto::attribute_proto::AttributeType::Int as i32),
            i: Some(value),
            ..Default::default()
        }
    }

    #[test]
    fn batch_operators_follow_each_opset_convention() {
        let axes = TensorProto {
            name: Some("axes".into()),
            data_type: Some(proto::tensor_proto::DataType::Int64 as i32),
            dims: vec![1],
            raw_data: Some(0i64.to_le_bytes().to_vec()),
            ..Default::default()
        };
        let graph = GraphProto {
            initializer: vec![axes],
            ..Default::default()
        };
        let constants = Constants::of(&graph);
        let reason = |n: &NodeProto, opset| batch_reason(n, &constants, Some(4), opset);
        // Opset 13: axes as an attribute; 18: as an input.
        assert!(reason(&node("ReduceMean", &["x"], vec![ints("axes", &[0])]), 13).is_some());
        assert!(reason(&node("ReduceMean", &["x"], vec![ints("axes", &[2, 3])]), 13).is_none());
        assert!(reason(&node("ReduceMean", &["x", "axes"], vec![]), 18).is_some());
        assert!(reason(&node("ReduceMean", &["x", "dynamic"], vec![]), 18).is_some());
        assert!(reason(&node("ReduceMean", &["x"], vec![]), 13).is_some());
        assert!(
            reason(
                &node("ReduceSum", &["x"], vec![int("noop_with_empty_axes", 1)]),
                13
            )
            .is_none()
        );
        assert!(
            reason(
                &node("BatchNormalization", &["x"], vec![int("training_mode", 1)]),
                15
            )
            .is_some()
        );
        assert!(reason(&node("BatchNormalization", &["x"], vec![]), 15).is_none());
        assert!(reason(&node("Softmax", &["x"], vec![]), 13).is_none());
        assert!(reason(&node("Softmax", &["x"], vec![int("axis", 0)]), 13).is_some());
        assert!(reason(&node("Dropout", &["x", "", "axes"], vec![]), 13).is_none());
        assert!(reason(&node("Dropout", &["x", "", "dynamic"], vec![]), 13).is_some());
        assert!(reason(&node("Dropout", &["x"], vec![]), 13).is_none());
    }

    fn float_tensor(name: &str, dims: &[i64]) -> TensorProto {
        TensorProto {
            name: Some(name.into()),
            dims: dims.to_vec(),
            data_type: Some(proto::tensor_proto::DataType::Float as i32),
            ..Default::default()
        }
    }

    #[test]
    fn batchnorm_running_statistics_are_counted_apart() {
        let graph = GraphProto {
            node: vec![
                node("Conv", &["x", "w"], vec![]),
                node(
                    "BatchNormalization",
                    &["y", "gamma", "beta", "mean", "var"],
                    vec![],
                ),
                node("DequantizeLinear", &["q", "scale", "zero"], vec![]),
            ],
            initializer: vec![
                float_tensor("w", &[16, 3, 3, 3]),
                float_tensor("gamma", &[16]),
                float_tensor("beta", &[16]),
                float_tensor("mean", &[16]),
                float_tensor("var", &[16]),
                float_tensor("scale", &[]),
                float_tensor("zero", &[]),
            ],
            ..Default::default()
        };
        let count = count_parameters(&graph).unwrap();
        assert_eq!(count.total, 432 + 4 * 16 + 2);
        assert_eq!(count.batchnorm_running_stats, 32);
        assert_eq!(count.excluding_running_stats, 432 + 32 + 2);
        assert_eq!(count.quantization_scales_and_zero_points, 2);
        assert_eq!(count.batchnorm_nodes, 1);
        assert_eq!(count.initializers, 7);
    }

    #[test]
    fn parameter_counts_that_overflow_are_refused_not_wrapped() {
        let graph = |dims: &[&[i64]]| GraphProto {
            initializer: dims
                .iter()
                .enumerate()
                .map(|(i, d)| float_tensor(&format!("w{i}"), d))
                .collect(),
            ..Default::default()
        };
        let err = count_parameters(&graph(&[&[1 << 62, 4]])).unwrap_err();
        assert!(err.contains("\"w0\"") && err.contains("overflows"), "{err}");
        let err = count_parameters(&graph(&[&[1 << 62, 3], &[1 << 62, 2]])).unwrap_err();
        assert!(err.contains("overflow"), "{err}");
        let err = count_parameters(&graph(&[&[-1, 4]])).unwrap_err();
        assert!(err.contains("negative"), "{err}");
        assert_eq!(
            count_parameters(&graph(&[&[1 << 62, 3]])).unwrap().total,
            3 << 62
        );
    }
}
