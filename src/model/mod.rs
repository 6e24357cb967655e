//! What a model is: its [`manifest`] (recipes, references, pinned file) and its ONNX graph
//! ([`onnx`]: parsed with the official schema for `inspect` and the checks against a recipe).

pub mod manifest;
pub mod onnx;
