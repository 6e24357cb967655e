//! Evaluation: [`prediction`]s and their tally, the [`pipeline`] that turns samples into predictions through a
//! [`Classifier`](crate::runtime::Classifier), [`rank`]ing of scores, [`scoring`] against label
//! sets, and [`stats`] for comparing runs.

pub mod pipeline;
pub mod prediction;
pub mod rank;
pub mod scoring;
pub mod stats;
