//! The spot check of a resumed native run. A native run is keyed by the caller's checkpoint
//! digest and name, and nothing ties either to the Python function that runs: a changed model
//! given the same digest would resume another model's rows, and its record would show the old
//! model's numbers under the new name. So before such a run reuses stored rows, up to
//! [`SAMPLE`] of them (all when fewer are stored) are inferred again, in the run's batches, and
//! each new top-5 is compared with the stored one: an image differs when its top-1 or the set
//! of its five best classes differs (the order of ranks 2 to 5 is not compared: it decides no
//! figure, and near-ties among them swap between two runs of one GPU model). More than 1 in
//! [`SAMPLE`] differing stops the pass with one error naming the run and what to do; one in 64
//! is taken for what a GPU's nondeterminism does to near-ties, and the rechecked rows are
//! rewritten with the new values (identical ones where nothing differs).
//!
//! Which stored images: where the pass's images are listed before it reads them (a folder),
//! the [`SAMPLE`] stored rows of the images it will read that come first in the order of their
//! contents' sha256 (a uniform draw over the stored run, wherever its images lie in dataset
//! order, the same draw on every resume); where they are not (a tar, known only by streaming
//! it), the first [`SAMPLE`] stored images the stream reaches. The batch size plays no part.
//!
//! What the margin costs (docs/python.md, the spot check): a different model whose top-1 or
//! top-5 set differs on a share `p` of images passes 64 rechecked images with probability
//! `(1-p)^64 + 64 p (1-p)^63`: 0.27% for `p` = 12%, 16% for `p` = 5%, 1e-16 for `p` = 47% (the
//! broken copy of the shared model). A model that changes its own top-5 set on a share `q` of
//! images between two runs is refused with probability about `2016 q^2`: 0.2% for `q` = 0.1%,
//! 4% for `q` = 0.5%, 13% for `q` = 1%.
//! With fewer than 64 stored images every one is rechecked and none may differ (nothing stored
//! is then reused, but the rewritten rows are the earlier run's as well).
//!
//! The images to recheck are chosen on the reading thread, as the stream reaches them
//! ([`SpotCheck::recheck`]); their predictions come back on the inference thread
//! ([`SpotCheck::take`]). Until the check has decided, every row of the run's lane is held
//! back from the store, so that a model found to differ writes nothing into the run.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use crate::eval::prediction::{Content, Outcome, Prediction};
use crate::eval::rank::TOP_K;
use crate::store::RunId;

/// Stored images a resumed run infers again; at most 1 in this many may differ.
pub(super) const SAMPLE: usize = 64;

/// A stored row's five best classes, best first.
type Top5 = [u16; TOP_K];

/// One lane's spot check, shared by the reading thread (which chooses) and the sink (which
/// compares).
#[derive(Clone)]
pub(super) struct SpotCheck {
    state: Arc<Mutex<State>>,
}

struct State {
    /// The runs whose rows the pass would reuse: the key's others.
    runs: Vec<RunId>,
    /// The stored rows that may be chosen, by name and content, with their top-5: the drawn
    /// [`SAMPLE`] where the pass's images are listed, else every stored row.
    candidates: HashMap<(String, Content), Top5>,
    /// The images chosen (at most [`SAMPLE`]), by name, with their stored top-5.
    chosen: HashMap<String, Top5>,
    /// Whether the stream has ended: no more images can be chosen.
    closed: bool,
    /// Chosen images whose new prediction has come back.
    arrived: usize,
    /// The first chosen image that differs (file, stored, new), and how many do.
    first_difference: Option<(String, String)>,
    differing: usize,
    /// Whether the check has decided; the rows held back until then (`held`) were then handed
    /// to the store, or dropped with the error.
    decided: bool,
    /// Whether it decided that the stored rows are another model's.
    refused: bool,
    held: Vec<Vec<Prediction>>,
}

impl SpotCheck {
    /// A check of the rows of `runs` (the other runs of the pass's key) whose store answers
    /// `stored` (each row's top-5); `listed`: the names of the images the pass will read, where
    /// it knows them before reading (a folder). `None` where nothing stored could be reused.
    pub fn new(
        runs: Vec<RunId>,
        stored: HashMap<(String, Content), Top5>,
        listed: Option<&HashSet<&str>>,
    ) -> Option<Self> {
        let candidates = match listed {
            Some(listed) => draw(stored, listed),
            None => stored,
        };
        (!candidates.is_empty()).then(|| SpotCheck {
            state: Arc::new(Mutex::new(State {
                runs,
                candidates,
                chosen: HashMap::new(),
                closed: false,
                arrived: 0,
                first_difference: None,
                differing: 0,
                decided: false,
                refused: false,
                held: Vec::new(),
            })),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether a stored image the pass would reuse is to be inferred again instead: a drawn
    /// one, or (images not listed) one of the first [`SAMPLE`] the stream reaches.
    pub fn recheck(&self, name: &str, content: &Content) -> bool {
        let mut state = self.state();
        if state.closed || state.chosen.len() >= SAMPLE {
            return false;
        }
        match state.candidates.get(&(name.to_string(), *content)).copied() {
            Some(top5) => state.chosen.insert(name.to_string(), top5).is_none(),
            None => false,
        }
    }

    /// Whether the check found the stored rows to be another model's.
    pub fn refused(&self) -> bool {
        self.state().refused
    }

    /// The stream has ended: the images chosen so far are all there will be.
    pub fn close(&self) {
        self.state().closed = true;
    }

    /// A batch of the lane's predictions: what may be stored now (nothing while the check is
    /// undecided, everything held once it passes), or the error that stops the pass.
    pub fn take(&self, predictions: &[Prediction]) -> Result<Vec<Vec<Prediction>>, String> {
        let mut state = self.state();
        if state.decided {
            return Ok(vec![predictions.to_vec()]);
        }
        for prediction in predictions {
            state.compare(prediction);
        }
        state.held.push(predictions.to_vec());
        // Every image that can be chosen has been: the stream ended, the sample is full, or
        // every candidate (every drawn image) was reached.
        let complete = state.closed || state.chosen.len() >= SAMPLE.min(state.candidates.len());
        if complete && state.arrived == state.chosen.len() {
            return state.decide();
        }
        Ok(Vec::new())
    }

    /// After the pass: what is still held, to be stored, or the error. `stopped`: the lane's
    /// model failed before the end (an exception, Ctrl-C). A lane that went through every image
    /// decides on what it compared (fewer than [`SAMPLE`] where fewer could be chosen). A
    /// stopped lane whose check is undecided stores nothing: its rows came from a model compared
    /// with the run's on fewer images than the check needs (an interrupt after one agreeing
    /// image would otherwise pass it), unless what came back already refuses it (2 differing,
    /// more than the margin whatever follows).
    pub fn finish(&self, stopped: bool) -> Result<Vec<Vec<Prediction>>, String> {
        let mut state = self.state();
        if state.decided {
            return Ok(Vec::new());
        }
        if stopped && state.differing <= 1 {
            state.held.clear();
            state.decided = true;
            return Ok(Vec::new());
        }
        state.decide()
    }
}

/// The [`SAMPLE`] stored rows of listed images whose contents' sha256 come first (then by
/// name): a uniform draw over the stored images the pass will read, wherever they lie.
fn draw(
    stored: HashMap<(String, Content), Top5>,
    listed: &HashSet<&str>,
) -> HashMap<(String, Content), Top5> {
    let mut rows: Vec<((String, Content), Top5)> = stored
        .into_iter()
        .filter(|((name, _), _)| listed.contains(name.as_str()))
        .collect();
    rows.sort_unstable_by(|((a, x), _), ((b, y), _)| x.sha256.cmp(&y.sha256).then(a.cmp(b)));
    rows.truncate(SAMPLE);
    rows.into_iter().collect()
}

/// A top-5 as messages show it.
fn classes(top5: &Top5) -> String {
    let classes: Vec<String> = top5.iter().map(u16::to_string).collect();
    classes.join(" ")
}

impl State {
    fn compare(&mut self, prediction: &Prediction) {
        let Some(&stored) = self.chosen.get(&prediction.name) else {
            return;
        };
        self.arrived += 1;
        let now = match &prediction.outcome {
            Outcome::Ranked { top5, .. } if top5[0] != stored[0] => {
                format!("stored class {}, now class {}", stored[0], top5[0])
            }
            Outcome::Ranked { top5, .. } => {
                let set = |t: &Top5| t.iter().copied().collect::<HashSet<u16>>();
                if set(top5) == set(&stored) {
                    return;
                }
                format!("stored top-5 {}, now {}", classes(&stored), classes(top5))
            }
            Outcome::Failed(why) => format!("stored class {}, now failed ({why})", stored[0]),
        };
        self.differing += 1;
        if self.first_difference.is_none() {
            self.first_difference = Some((prediction.file.clone(), now));
        }
    }

    fn decide(&mut self) -> Result<Vec<Vec<Prediction>>, String> {
        self.decided = true;
        if self.differing * SAMPLE > self.arrived {
            self.held.clear();
            self.refused = true;
            return Err(self.refusal());
        }
        Ok(std::mem::take(&mut self.held))
    }

    fn refusal(&self) -> String {
        let example = self
            .first_difference
            .as_ref()
            .map(|(file, what)| format!(" ({file}: {what})"))
            .unwrap_or_default();
        let ids: Vec<String> = self.runs.iter().map(RunId::to_string).collect();
        let (whose, fix) = match &ids[..] {
            [id] => (
                format!("run {id}"),
                format!("delete the run: `zoorepro runs --delete {id}`"),
            ),
            _ => (
                format!("runs {}", ids.join(", ")),
                format!(
                    "delete the runs: `zoorepro runs --delete ID` for each of {}",
                    ids.join(", ")
                ),
            ),
        };
        format!(
            "the stored rows of {whose} were made by another model: this checkpoint_sha256 and \
             name resume {whose}, but {differing} of the {arrived} stored images inferred again \
             have another top-1 or top-5 now{example}, more than 1 in {SAMPLE}; give the changed \
             model its own checkpoint_sha256 (the sha256 of its own weights), or {fix} (the same \
             model whose top-5 changes between two runs this often: make its inference \
             deterministic, or delete the run)",
            differing = self.differing,
            arrived = self.arrived,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranked(name: &str, top1: u16) -> Prediction {
        Prediction {
            name: name.into(),
            file: format!("n0/{name}"),
            label: Some(1),
            outcome: Outcome::Ranked {
                top5: [top1, 1000, 1001, 1002, 1003],
                scores: [0.5, 0.25, 0.125, 0.0625, 0.0],
            },
        }
    }

    fn content(name: &str) -> Content {
        Content::of(name.as_bytes())
    }

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("i{i}")).collect()
    }

    /// The stored rows of images i0..i{n}, image i with top-5 [i, 1000, 1001, 1002, 1003].
    fn stored(n: usize) -> HashMap<(String, Content), Top5> {
        names(n)
            .into_iter()
            .enumerate()
            .map(|(i, name)| {
                (
                    (name.clone(), content(&name)),
                    [i as u16, 1000, 1001, 1002, 1003],
                )
            })
            .collect()
    }

    /// A check of `n` stored rows, the pass's images not listed (a tar).
    fn check(n: usize) -> SpotCheck {
        SpotCheck::new(vec![7], stored(n), None).unwrap()
    }

    /// The stream reaching `names` in order: which are chosen.
    fn choose(check: &SpotCheck, names: &[String]) -> Vec<usize> {
        (0..names.len())
            .filter(|&i| check.recheck(&names[i], &content(&names[i])))
            .collect()
    }

    /// Each chosen image's prediction, image i with top-1 i except those of `differing`.
    fn predictions(all: &[String], chosen: &[usize], differing: &[usize]) -> Vec<Prediction> {
        chosen
            .iter()
            .map(|&i| {
                let top1 = if differing.contains(&i) { 900 } else { i };
                ranked(&all[i], top1 as u16)
            })
            .collect()
    }

    #[test]
    fn images_not_listed_recheck_the_first_64_stored_ones_whatever_the_batch() {
        let all = names(100);
        let check = check(100);
        assert!(!check.recheck("new", &content("new")));
        let chosen = choose(&check, &all);
        assert_eq!(chosen, (0..SAMPLE).collect::<Vec<_>>());
        // A new image's row waits for the check; the rechecked rows decide it, one at a time
        // (a batch of 1 is the same check).
        assert!(check.take(&[ranked("new", 5)]).unwrap().is_empty());
        let rows = predictions(&all, &chosen, &[]);
        for row in &rows[..SAMPLE - 1] {
            assert!(check.take(std::slice::from_ref(row)).unwrap().is_empty());
        }
        let stored = check.take(&rows[SAMPLE - 1..]).unwrap();
        assert_eq!(stored.concat().len(), SAMPLE + 1);
        assert_eq!(check.take(&[ranked("x", 3)]).unwrap().concat().len(), 1);
        assert!(check.finish(false).unwrap().is_empty());
    }

    #[test]
    fn listed_images_draw_64_over_the_whole_stored_run_and_decide_once_all_arrived() {
        let all = names(1000);
        let listed: HashSet<&str> = all.iter().map(String::as_str).collect();
        let check = SpotCheck::new(vec![7], stored(1000), Some(&listed)).unwrap();
        let chosen = choose(&check, &all);
        assert_eq!(chosen.len(), SAMPLE);
        // Spread over the run, not its first images: the draw is by content digest.
        assert!(chosen[0] < 100 && chosen[SAMPLE - 1] > 900, "{chosen:?}");
        assert!(
            chosen.iter().filter(|&&i| i < 500).count() > 16,
            "{chosen:?}"
        );
        // Every drawn image arrived: decided before the stream ends.
        let rows = predictions(&all, &chosen, &[chosen[5]]);
        assert_eq!(check.take(&rows).unwrap().concat().len(), SAMPLE);
        // Only the images the pass reads are drawn from (a --limit of 200): 64 of them.
        let first: HashSet<&str> = all[..200].iter().map(String::as_str).collect();
        let check = SpotCheck::new(vec![7], stored(1000), Some(&first)).unwrap();
        let chosen = choose(&check, &all);
        assert_eq!(chosen.len(), SAMPLE);
        assert!(chosen.iter().all(|&i| i < 200), "{chosen:?}");
    }

    #[test]
    fn more_than_one_in_64_differing_stops_the_pass_naming_the_run_and_an_image() {
        let all = names(100);
        // One of 64 differs: within the margin.
        let check = check(100);
        let chosen = choose(&check, &all);
        let rows = predictions(&all, &chosen, &[9]);
        assert_eq!(check.take(&rows).unwrap().concat().len(), SAMPLE);

        let check = self::check(100);
        let chosen = choose(&check, &all);
        let error = check
            .take(&predictions(&all, &chosen, &[3, 20]))
            .unwrap_err();
        for needle in [
            "run 7 were made by another model",
            "2 of the 64",
            "n0/i3: stored class 3, now class 900",
            "more than 1 in 64",
            "own checkpoint_sha256",
            "`zoorepro runs --delete 7`",
        ] {
            assert!(error.contains(needle), "{needle}: {error}");
        }
    }

    #[test]
    fn fewer_stored_images_than_the_sample_are_all_rechecked_and_none_may_differ() {
        let all = names(2);
        let check = check(2);
        assert_eq!(choose(&check, &all), [0, 1]);
        assert!(
            check
                .take(&[ranked("i0", 0), ranked("i1", 5)])
                .unwrap_err()
                .contains("1 of the 2")
        );
        assert!(check.refused());
        let two = SpotCheck::new(vec![2, 5], stored(1), None).unwrap();
        assert!(two.recheck("i0", &content("i0")));
        two.close();
        let error = two.take(&[ranked("i0", 2)]).unwrap_err();
        assert!(
            error.contains("rows of runs 2, 5 were made")
                && error.contains("`zoorepro runs --delete ID` for each of 2, 5"),
            "{error}"
        );
        // Stored images the stream never reaches (another folder's) wait for its end.
        let check = self::check(5);
        assert_eq!(choose(&check, &all), [0, 1]);
        assert!(
            check
                .take(&predictions(&all, &[0, 1], &[]))
                .unwrap()
                .is_empty()
        );
        check.close();
        assert_eq!(check.finish(false).unwrap().concat().len(), 2);
    }

    #[test]
    fn a_lane_that_stops_before_its_check_decides_stores_nothing() {
        let check = check(5);
        assert!(!check.recheck("new", &content("new")));
        assert!(check.recheck("i0", &content("i0")));
        assert!(check.take(&[ranked("new", 1)]).unwrap().is_empty());
        assert!(check.finish(true).unwrap().is_empty());

        // One agreeing image of the 64 came back, then the model stopped: the 63 new rows held
        // with it are not stored (a changed model agreeing on one image would pass otherwise).
        let all = names(100);
        let check = self::check(100);
        let chosen = choose(&check, &all);
        assert!(check.take(&[ranked("new", 1)]).unwrap().is_empty());
        let rows = predictions(&all, &chosen[..SAMPLE - 1], &[]);
        assert!(check.take(&rows).unwrap().is_empty());
        assert!(check.finish(true).unwrap().is_empty());
        assert!(!check.refused());

        // Two differing already: refused, whatever would have followed.
        let check = self::check(100);
        let chosen = choose(&check, &all);
        let rows = predictions(&all, &chosen[..3], &[chosen[0], chosen[2]]);
        assert!(check.take(&rows).unwrap().is_empty());
        assert!(check.finish(true).unwrap_err().contains("2 of the 3"));
        assert!(check.refused());

        // The same pass going through every image decides on what it compared.
        let check = self::check(5);
        assert_eq!(choose(&check, &names(2)), [0, 1]);
        assert!(check.take(&[ranked("i0", 0)]).unwrap().is_empty());
        check.close();
        assert_eq!(check.finish(false).unwrap().concat().len(), 1);
    }

    #[test]
    fn nothing_stored_means_no_check() {
        assert!(SpotCheck::new(vec![1], HashMap::new(), None).is_none());
        let listed: HashSet<&str> = ["other"].into();
        assert!(SpotCheck::new(vec![1], stored(3), Some(&listed)).is_none());
    }

    fn with_top5(name: &str, top5: Top5) -> Prediction {
        Prediction {
            outcome: Outcome::Ranked {
                top5,
                scores: [0.5, 0.25, 0.125, 0.0625, 0.0],
            },
            ..ranked(name, 0)
        }
    }

    #[test]
    fn an_image_differs_by_its_top1_or_its_top5_set_not_the_order_of_ranks_2_to_5() {
        let all = names(2);
        // Ranks 2 to 5 in another order: the same image.
        let check = check(2);
        assert_eq!(choose(&check, &all), [0, 1]);
        let same = [
            with_top5("i0", [0, 1003, 1002, 1001, 1000]),
            with_top5("i1", [1, 1001, 1000, 1003, 1002]),
        ];
        assert_eq!(check.take(&same).unwrap().concat().len(), 2);
        // The same top-1 with another class among the five: another model's.
        let check = self::check(2);
        choose(&check, &all);
        let error = check
            .take(&[
                with_top5("i0", [0, 1000, 1001, 1002, 999]),
                with_top5("i1", [1, 2, 3, 4, 5]),
            ])
            .unwrap_err();
        for needle in [
            "2 of the 2 stored images inferred again have another top-1 or top-5 now",
            "n0/i0: stored top-5 0 1000 1001 1002 1003, now 0 1000 1001 1002 999",
        ] {
            assert!(error.contains(needle), "{needle}: {error}");
        }
    }
}
