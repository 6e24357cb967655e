//! Which tensors of an ONNX file keep their data outside it (`data_location = EXTERNAL`), found
//! with a schema of just the fields that lead there, so that the weights are skipped rather than
//! copied: checking a large model costs no second copy of it.

use std::path::Path;

use prost::Message as _;

use super::OnnxError;

/// The names of the tensors whose data the file keeps elsewhere (`data_location = EXTERNAL`):
/// initializers, sparse initializers and tensor attributes, in the main graph, its subgraphs,
/// local functions and training graphs. Decoded with a schema of just those fields, so that the
/// weights are skipped rather than copied: checking a large model costs no second copy of it.
pub fn external_data_tensors(path: &Path, bytes: &[u8]) -> Result<Vec<String>, OnnxError> {
    let model = Model::decode(bytes).map_err(|e| OnnxError::NotOnnx {
        path: path.to_path_buf(),
        reason: format!("protobuf decoding failed ({e})"),
    })?;
    let mut names = Vec::new();
    model.collect(&mut names);
    Ok(names)
}

// The fields of `onnx.proto` that lead to a tensor's `data_location`, with their tags there;
// every other field is skipped by the decoder.
#[derive(Clone, PartialEq, prost::Message)]
struct Model {
    #[prost(message, optional, tag = "7")]
    graph: Option<Graph>,
    #[prost(message, repeated, tag = "20")]
    training_info: Vec<TrainingInfo>,
    #[prost(message, repeated, tag = "25")]
    functions: Vec<Function>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct TrainingInfo {
    #[prost(message, optional, tag = "1")]
    initialization: Option<Graph>,
    #[prost(message, optional, tag = "2")]
    algorithm: Option<Graph>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Function {
    #[prost(message, repeated, tag = "7")]
    node: Vec<Node>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Graph {
    #[prost(message, repeated, tag = "1")]
    node: Vec<Node>,
    #[prost(message, repeated, tag = "5")]
    initializer: Vec<Tensor>,
    #[prost(message, repeated, tag = "15")]
    sparse_initializer: Vec<Sparse>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Node {
    #[prost(message, repeated, tag = "5")]
    attribute: Vec<Attribute>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Attribute {
    #[prost(message, optional, tag = "5")]
    t: Option<Tensor>,
    #[prost(message, optional, tag = "6")]
    g: Option<Graph>,
    #[prost(message, repeated, tag = "10")]
    tensors: Vec<Tensor>,
    #[prost(message, repeated, tag = "11")]
    graphs: Vec<Graph>,
    #[prost(message, optional, tag = "22")]
    sparse_tensor: Option<Sparse>,
    #[prost(message, repeated, tag = "23")]
    sparse_tensors: Vec<Sparse>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Sparse {
    #[prost(message, optional, tag = "1")]
    values: Option<Tensor>,
    #[prost(message, optional, tag = "2")]
    indices: Option<Tensor>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Tensor {
    #[prost(string, optional, tag = "8")]
    name: Option<String>,
    /// `TensorProto.DataLocation`: 0 DEFAULT, 1 EXTERNAL.
    #[prost(int32, optional, tag = "14")]
    data_location: Option<i32>,
}

const EXTERNAL: i32 = 1;

impl Model {
    fn collect(&self, names: &mut Vec<String>) {
        self.graph.iter().for_each(|g| g.collect(names));
        for info in &self.training_info {
            info.initialization.iter().for_each(|g| g.collect(names));
            info.algorithm.iter().for_each(|g| g.collect(names));
        }
        for function in &self.functions {
            function.node.iter().for_each(|n| n.collect(names));
        }
    }
}

impl Graph {
    fn collect(&self, names: &mut Vec<String>) {
        self.initializer.iter().for_each(|t| t.collect(names));
        self.sparse_initializer
            .iter()
            .for_each(|s| s.collect(names));
        self.node.iter().for_each(|n| n.collect(names));
    }
}

impl Node {
    fn collect(&self, names: &mut Vec<String>) {
        for attribute in &self.attribute {
            attribute.t.iter().for_each(|t| t.collect(names));
            attribute.tensors.iter().for_each(|t| t.collect(names));
            attribute
                .sparse_tensor
                .iter()
                .for_each(|s| s.collect(names));
            attribute
                .sparse_tensors
                .iter()
                .for_each(|s| s.collect(names));
            attribute.g.iter().for_each(|g| g.collect(names));
            attribute.graphs.iter().for_each(|g| g.collect(names));
        }
    }
}

impl Sparse {
    fn collect(&self, names: &mut Vec<String>) {
        self.values.iter().for_each(|t| t.collect(names));
        self.indices.iter().for_each(|t| t.collect(names));
    }
}

impl Tensor {
    fn collect(&self, names: &mut Vec<String>) {
        if self.data_location == Some(EXTERNAL) {
            names.push(self.name.clone().unwrap_or_default());
        }
    }
}
