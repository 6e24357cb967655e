//! The bytes of an ONNX file, read once: what is hashed, what the manifest's pin is checked
//! against, and what every ONNX Runtime session of the model is built from. Opening the path a
//! second time for the session would evaluate whatever file sits there by then (a replaced
//! file, a swapped symlink) while the record names the first file's hash as verified.

use std::path::{Path, PathBuf};

use sha2::Digest as _;

use super::onnx::{self, OnnxError, OnnxSummary};

/// An ONNX file's contents with their sha256 and the path they were read from (which only names
/// them in messages and records: nothing reads it again).
pub struct ModelBytes {
    path: PathBuf,
    bytes: Vec<u8>,
    sha256: String,
}

impl ModelBytes {
    /// Reads `path` once through the guarded open (a regular file within protobuf's 2 GiB limit;
    /// a FIFO or device is refused, not waited on), hashes those bytes, and refuses a model that
    /// keeps tensors in external data files, which neither the hash nor the session would see.
    pub fn read(path: &Path) -> Result<ModelBytes, OnnxError> {
        let bytes = onnx::read_bytes(path)?;
        Self::new(path, bytes)
    }

    /// The model in `bytes`, named `path` in messages: the same checks as [`ModelBytes::read`].
    pub fn new(path: &Path, bytes: Vec<u8>) -> Result<ModelBytes, OnnxError> {
        let external = onnx::external_data_tensors(path, &bytes)?;
        if let Some(first) = external.first() {
            return Err(OnnxError::ExternalData {
                path: path.to_path_buf(),
                count: external.len(),
                first: first.clone(),
            });
        }
        let sha256 = crate::util::hex::hex(&sha2::Sha256::digest(&bytes));
        Ok(ModelBytes {
            path: path.to_path_buf(),
            bytes,
            sha256,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Lowercase hex sha256 of [`ModelBytes::bytes`], as manifests pin it.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// `zoorepro inspect`'s summary of these very bytes.
    pub fn summary(&self) -> Result<OnnxSummary, OnnxError> {
        onnx::inspect_bytes(&self.path, &self.bytes, self.sha256.clone())
    }
}

impl std::fmt::Debug for ModelBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelBytes")
            .field("path", &self.path)
            .field("len", &self.bytes.len())
            .field("sha256", &self.sha256)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use prost::Message as _;

    use super::*;
    use crate::model::onnx::proto::{
        AttributeProto, GraphProto, ModelProto, NodeProto, TensorProto, tensor_proto,
    };

    fn tensor(name: &str, external: bool) -> TensorProto {
        TensorProto {
            name: Some(name.into()),
            dims: vec![2],
            data_type: Some(tensor_proto::DataType::Float as i32),
            data_location: external.then_some(tensor_proto::DataLocation::External as i32),
            raw_data: (!external).then(|| vec![0u8; 8]),
            ..Default::default()
        }
    }

    /// A graph with an inline initializer and, when `external`, a tensor kept outside the file
    /// as deep as it can hide: a Constant's value inside an If branch.
    fn model(external: bool) -> Vec<u8> {
        let constant = NodeProto {
            op_type: Some("Constant".into()),
            attribute: vec![AttributeProto {
                name: Some("value".into()),
                t: Some(tensor("deep", external)),
                ..Default::default()
            }],
            ..Default::default()
        };
        let branch = NodeProto {
            op_type: Some("If".into()),
            attribute: vec![AttributeProto {
                name: Some("then_branch".into()),
                g: Some(GraphProto {
                    node: vec![constant],
                    ..Default::default()
                }),
                ..Default::default()
            }],
            ..Default::default()
        };
        ModelProto {
            ir_version: Some(8),
            graph: Some(GraphProto {
                node: vec![branch],
                initializer: vec![tensor("inline", false)],
                ..Default::default()
            }),
            ..Default::default()
        }
        .encode_to_vec()
    }

    #[test]
    fn the_hash_is_of_the_bytes_held() {
        let bytes = model(false);
        let read = ModelBytes::new(Path::new("m.onnx"), bytes.clone()).unwrap();
        assert_eq!(read.bytes(), bytes.as_slice());
        assert_eq!(
            read.sha256(),
            crate::util::hex::hex(&sha2::Sha256::digest(&bytes))
        );
    }

    #[test]
    fn tensors_kept_in_external_files_are_refused_by_name() {
        let error = ModelBytes::new(Path::new("dir/m.onnx"), model(true)).unwrap_err();
        let message = error.to_string();
        for needle in [
            "dir/m.onnx",
            "1 tensor(s)",
            "\"deep\"",
            "re-export it with the weights inside the file",
        ] {
            assert!(message.contains(needle), "{needle:?} in {message}");
        }
        // A file that is not protobuf at all is named too, not waved through.
        let error = ModelBytes::new(Path::new("x.onnx"), b"not a model\xff".to_vec()).unwrap_err();
        assert!(error.to_string().contains("x.onnx"), "{error}");
    }

    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("model.onnx");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let error = ModelBytes::read(&fifo).unwrap_err().to_string();
        assert!(
            error.contains("model.onnx") && error.contains("FIFO"),
            "{error}"
        );
    }
}
