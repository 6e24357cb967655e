//! What a model is: its [`manifest`] (recipes, references, pinned file) and its ONNX graph
//! ([`onnx`]: parsed with the official schema for `inspect` and the checks against a recipe; its
//! file's [`bytes`], read once for the hash and the session alike), which of them a user's query
//! names ([`select`]: ids, bare names, globs), and the [`home`] folder that holds them. Recipes
//! a manifest does not declare, and the manifest `--like` makes of another: [`derived`].

pub mod bytes;
pub mod derived;
pub mod home;
pub mod manifest;
pub mod onnx;
pub mod select;
