//! Evaluation: the [`pipeline`] that turns samples into predictions through a
//! [`Classifier`](crate::runtime::Classifier), [`rank`]ing of scores, [`scoring`] against label
//! sets, [`stats`] for comparing runs, and the [`determinism`] analysis (batch, neighbour,
//! repetition and session-setting effects on raw outputs).

pub mod determinism;
pub mod pipeline;
pub mod rank;
pub mod scoring;
pub mod stats;
