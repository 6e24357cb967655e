//! What is run: the session settings (configurations) and how the samples are packed into
//! batches (plans).

use super::compare::{self, AxisRow};
use super::measure::Outputs;
use crate::runtime::{OptLevel, Provider};

/// Neighbour sets per batch size; two are enough to tell "depends on neighbours" from "depends
/// on the batch size".
const COMPOSITIONS: usize = 2;

/// One session setting: everything but the batch.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    pub provider: Provider,
    pub opt_level: OptLevel,
    pub threads: usize,
}

impl Config {
    pub fn label(&self) -> String {
        format!(
            "{}/opt={}/threads={}",
            self.provider.name(),
            self.opt_level.name(),
            self.threads
        )
    }
}

/// Every combination, providers outermost and thread counts innermost, so that the first
/// configuration holds the first value of every setting (the reference of the setting axes).
pub fn configurations(
    providers: &[Provider],
    opt_levels: &[OptLevel],
    threads: &[usize],
) -> Vec<Config> {
    let mut configs = Vec::new();
    for &provider in providers {
        for &opt_level in opt_levels {
            for &threads in threads {
                configs.push(Config {
                    provider,
                    opt_level,
                    threads,
                });
            }
        }
    }
    configs
}

/// How the samples are packed for one run: every batch has exactly `batch` slots; `own[i]` is
/// the slot whose output row belongs to sample `i`.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub batch: usize,
    pub composition: Option<usize>,
    pub batches: Vec<Vec<usize>>,
    pub own: Vec<(usize, usize)>,
}

impl Plan {
    fn alone(samples: usize) -> Plan {
        Plan {
            batch: 1,
            composition: None,
            batches: (0..samples).map(|i| vec![i]).collect(),
            own: (0..samples).map(|i| (i, 0)).collect(),
        }
    }

    /// Shuffles the samples with a fixed seed per composition and packs them `batch` at a time.
    /// The last batch is filled up with samples from the start of the shuffle (cyclically when
    /// there are fewer samples than slots); those extra slots are neighbours only.
    fn packed(samples: usize, batch: usize, composition: usize) -> Plan {
        let mut order: Vec<usize> = (0..samples).collect();
        let mut rng = SplitMix64(0x5EED_0000 + composition as u64);
        for i in (1..order.len()).rev() {
            let j = (rng.next() % (i as u64 + 1)) as usize;
            order.swap(i, j);
        }
        let mut batches = Vec::new();
        let mut own = vec![(0, 0); samples];
        for (b, chunk) in order.chunks(batch).enumerate() {
            let mut slots = chunk.to_vec();
            for (slot, &sample) in chunk.iter().enumerate() {
                own[sample] = (b, slot);
            }
            let mut filler = order.iter().cycle();
            while slots.len() < batch {
                let candidate = *filler.next().unwrap_or(&0);
                if !chunk.contains(&candidate) || samples <= chunk.len() {
                    slots.push(candidate);
                }
            }
            batches.push(slots);
        }
        Plan {
            batch,
            composition: Some(composition),
            batches,
            own,
        }
    }

    pub fn label(&self) -> String {
        match self.composition {
            None => "1 (alone)".into(),
            Some(c) => format!("{}, neighbours {}", self.batch, composition_name(c)),
        }
    }

    /// Images run through the model, padding slots included.
    pub fn images(&self) -> usize {
        self.batches.len() * self.batch
    }
}

fn composition_name(c: usize) -> char {
    char::from(b'A' + (c % 26) as u8)
}

/// Steele, Lea and Flood's SplitMix64: tiny, seedable, and the same on every platform.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// Everything one determinism run does: every plan, `repeats` times, under every configuration.
/// `plans[0]` is every sample alone, the reference of the batch axis.
#[derive(Clone, Debug)]
pub struct Study {
    pub configs: Vec<Config>,
    pub plans: Vec<Plan>,
    pub repeats: usize,
}

impl Study {
    /// `batch_sizes` are the sizes above 1 to test, besides running every sample alone.
    pub fn new(
        configs: Vec<Config>,
        samples: usize,
        batch_sizes: &[usize],
        repeats: usize,
    ) -> Study {
        let mut plans = vec![Plan::alone(samples)];
        for &b in batch_sizes {
            for c in 0..COMPOSITIONS {
                plans.push(Plan::packed(samples, b, c));
            }
        }
        Study {
            configs,
            plans,
            repeats,
        }
    }

    /// Images run through a model in all, for progress.
    pub fn images(&self) -> usize {
        self.configs.len() * self.repeats * self.plans.iter().map(Plan::images).sum::<usize>()
    }

    /// Every axis row of the report: see the module doc for what is compared with what.
    pub fn compare(&self, outputs: &Outputs, files: &[String]) -> Vec<AxisRow> {
        compare::compare_all(self, outputs, files)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_plans_fill_every_batch_and_own_each_sample_once() {
        for (n, b) in [(10, 4), (3, 8), (64, 32), (5, 5)] {
            for c in 0..COMPOSITIONS {
                let plan = Plan::packed(n, b, c);
                assert!(plan.batches.iter().all(|s| s.len() == b), "{n} {b}");
                for (sample, &(batch, slot)) in plan.own.iter().enumerate() {
                    assert_eq!(plan.batches[batch][slot], sample);
                }
            }
        }
        // Two compositions give a sample other neighbours.
        let (a, b) = (Plan::packed(64, 8, 0), Plan::packed(64, 8, 1));
        assert_ne!(a.batches, b.batches);
        // Padding avoids repeating a sample of the batch when there are enough samples.
        let plan = Plan::packed(10, 4, 0);
        let last = plan.batches.last().unwrap();
        let mut unique = last.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), 4);
    }

    #[test]
    fn plans_are_reproducible() {
        assert_eq!(Plan::packed(64, 8, 1), Plan::packed(64, 8, 1));
    }
}
