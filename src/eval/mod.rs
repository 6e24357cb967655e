//! Evaluation: [`prediction`]s and their tally, per [`classes`], the [`pipeline`] that turns samples into
//! predictions through a [`Classifier`](crate::runtime::Classifier), [`rank`]ing of scores,
//! [`scoring`] against label sets, [`stats`] for comparing runs and the
//! [`pairing`] of their images by name and content (and the image-by-image [`compare`]ison of
//! two runs), the [`verdict`] against
//! published references, and the [`determinism`] analysis (batch, neighbour, repetition and
//! session-setting effects on raw outputs).

pub mod batches;
pub mod classes;
pub mod compare;
pub mod determinism;
pub mod explain;
pub mod pairing;
pub mod pipeline;
pub mod prediction;
pub mod rank;
pub mod scoring;
pub mod stats;
pub mod trust;
pub mod verdict;
