//! The spot check of a resumed native run. A native run is keyed by the caller's checkpoint
//! digest and name, and nothing ties either to the Python function that runs: a changed model
//! given the same digest would resume another model's rows, and its record would show the old
//! model's numbers under the new name. So before such a run reuses stored rows, the first batch
//! of them (in dataset order) is inferred again and its top-1s are compared with the stored
//! ones. More than 1 in 16 differing ([`MARGIN`]) stops the pass with one error naming the run
//! and what to do; fewer are taken for what a GPU's nondeterminism does to near-ties, and the
//! rechecked rows are rewritten with the new values (identical ones where nothing differs).
//!
//! The images to recheck are chosen on the reading thread, as the stream reaches them
//! ([`SpotCheck::recheck`]); their predictions come back on the inference thread
//! ([`SpotCheck::take`]). Until the check has decided, every row of the run's lane is held
//! back from the store, so that a model found to differ writes nothing into the run.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use crate::eval::prediction::{Content, Outcome, Prediction};
use crate::store::RunId;

/// Rechecked images may differ in top-1 in at most 1 of this many before the stored rows count
/// as another model's: GPU kernels are not deterministic, and an image whose two best classes
/// score within rounding of each other may swap them between two runs of one model.
pub(super) const MARGIN: usize = 16;

/// One lane's spot check, shared by the reading thread (which chooses) and the sink (which
/// compares).
#[derive(Clone)]
pub(super) struct SpotCheck {
    state: Arc<Mutex<State>>,
}

struct State {
    /// The runs whose rows the pass would reuse: the key's others.
    runs: Vec<RunId>,
    /// The stored top-1 of every row the run's store can answer, by name and content.
    stored: HashMap<(String, Content), u16>,
    /// How many stored images to infer again: the lane's batch.
    wanted: usize,
    /// The images chosen, by name, with their stored top-1.
    chosen: HashMap<String, u16>,
    /// Whether the stream has ended: no more images can be chosen.
    closed: bool,
    /// Chosen images whose new prediction has come back.
    arrived: usize,
    /// The first chosen image whose top-1 differs (file, stored, new), and how many do.
    first_difference: Option<(String, u16, String)>,
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
    /// `stored` (each row's top-1), rechecking up to `batch` images; `None` where nothing stored
    /// could be reused.
    pub fn new(
        runs: Vec<RunId>,
        stored: HashMap<(String, Content), u16>,
        batch: usize,
    ) -> Option<Self> {
        (!stored.is_empty()).then(|| SpotCheck {
            state: Arc::new(Mutex::new(State {
                runs,
                stored,
                wanted: batch.max(1),
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

    /// Whether a stored image the pass would reuse is to be inferred again instead: the first
    /// `batch` of them, in the order the stream reaches them.
    pub fn recheck(&self, name: &str, content: &Content) -> bool {
        let mut state = self.state();
        if state.closed || state.chosen.len() >= state.wanted {
            return false;
        }
        match state.stored.get(&(name.to_string(), *content)).copied() {
            Some(top1) => state.chosen.insert(name.to_string(), top1).is_none(),
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
        let complete = state.closed || state.chosen.len() >= state.wanted;
        if complete && state.arrived == state.chosen.len() {
            return state.decide();
        }
        Ok(Vec::new())
    }

    /// After the pass: what is still held, to be stored, or the error. `stopped`: the lane's
    /// model failed before the end. A check that compared some images decides on them; one that
    /// compared none stores its rows only when the lane went through every image (then no
    /// stored row of this pass was reused), and otherwise drops them: they came from a model
    /// not yet compared with the run's.
    pub fn finish(&self, stopped: bool) -> Result<Vec<Vec<Prediction>>, String> {
        let mut state = self.state();
        if state.decided {
            return Ok(Vec::new());
        }
        if state.arrived == 0 && stopped {
            state.held.clear();
            state.decided = true;
            return Ok(Vec::new());
        }
        state.decide()
    }
}

impl State {
    fn compare(&mut self, prediction: &Prediction) {
        let Some(&stored) = self.chosen.get(&prediction.name) else {
            return;
        };
        self.arrived += 1;
        let now = match &prediction.outcome {
            Outcome::Ranked { top5, .. } if top5[0] == stored => return,
            Outcome::Ranked { top5, .. } => format!("class {}", top5[0]),
            Outcome::Failed(why) => format!("failed ({why})"),
        };
        self.differing += 1;
        if self.first_difference.is_none() {
            self.first_difference = Some((prediction.file.clone(), stored, now));
        }
    }

    fn decide(&mut self) -> Result<Vec<Vec<Prediction>>, String> {
        self.decided = true;
        if self.differing * MARGIN > self.arrived {
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
            .map(|(file, stored, now)| format!(" ({file}: stored class {stored}, now {now})"))
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
             have another top-1 now{example}, more than 1 in {MARGIN}; give the changed model its \
             own checkpoint_sha256 (the sha256 of its own weights), or {fix}",
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
                top5: [top1, 1, 2, 3, 4],
                scores: [0.5, 0.25, 0.125, 0.0625, 0.0],
            },
        }
    }

    fn content(name: &str) -> Content {
        Content::of(name.as_bytes())
    }

    /// A check of a run whose images i0..i{n} have stored top-1 i.
    fn check(stored: usize, batch: usize) -> SpotCheck {
        let rows = (0..stored)
            .map(|i| ((format!("i{i}"), content(&format!("i{i}"))), i as u16))
            .collect();
        SpotCheck::new(vec![7], rows, batch).unwrap()
    }

    fn choose(check: &SpotCheck, names: &[&str]) -> Vec<bool> {
        names
            .iter()
            .map(|n| check.recheck(n, &content(n)))
            .collect()
    }

    #[test]
    fn the_first_batch_of_stored_images_is_rechecked_and_held_rows_go_on_when_they_agree() {
        let check = check(10, 2);
        assert_eq!(
            choose(&check, &["new", "i0", "i1", "i2"]),
            [false, true, true, false]
        );
        // A new image's row waits for the check; the rechecked rows decide it.
        assert!(check.take(&[ranked("new", 5)]).unwrap().is_empty());
        let stored = check.take(&[ranked("i0", 0), ranked("i1", 1)]).unwrap();
        assert_eq!(stored.concat().len(), 3);
        assert_eq!(check.take(&[ranked("x", 3)]).unwrap().concat().len(), 1);
        assert!(check.finish(false).unwrap().is_empty());
    }

    #[test]
    fn more_than_one_in_16_differing_stops_the_pass_naming_the_run_and_an_image() {
        let check = check(40, 32);
        let names: Vec<String> = (0..32).map(|i| format!("i{i}")).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        assert!(choose(&check, &refs).iter().all(|&b| b));
        // Two of 32 differ: within the margin.
        let mut rows: Vec<Prediction> = (0..32).map(|i| ranked(&names[i], i as u16)).collect();
        rows[3] = ranked("i3", 900);
        rows[9] = ranked("i9", 901);
        assert_eq!(check.take(&rows).unwrap().concat().len(), 32);

        let check = self::check(40, 32);
        assert!(choose(&check, &refs).iter().all(|&b| b));
        rows[20] = ranked("i20", 902);
        let error = check.take(&rows).unwrap_err();
        for needle in [
            "run 7 were made by another model",
            "3 of the 32",
            "n0/i3: stored class 3, now class 900",
            "own checkpoint_sha256",
            "`zoorepro runs --delete 7`",
        ] {
            assert!(error.contains(needle), "{needle}: {error}");
        }
    }

    #[test]
    fn fewer_stored_images_than_a_batch_are_decided_at_the_end_of_the_stream() {
        let check = check(2, 32);
        assert_eq!(choose(&check, &["i0", "i1"]), [true, true]);
        assert!(
            check
                .take(&[ranked("i0", 0), ranked("i1", 5)])
                .unwrap()
                .is_empty()
        );
        check.close();
        assert!(!check.recheck("i2", &content("i2")));
        // One of two differs: another model.
        let error = check.finish(false).unwrap_err();
        assert!(error.contains("1 of the 2"), "{error}");
        assert!(check.refused());
        let two = SpotCheck::new(vec![2, 5], [(("a".into(), content("a")), 1)].into(), 1).unwrap();
        assert!(two.recheck("a", &content("a")));
        let error = two.take(&[ranked("a", 2)]).unwrap_err();
        assert!(
            error.contains("rows of runs 2, 5 were made")
                && error.contains("`zoorepro runs --delete ID` for each of 2, 5"),
            "{error}"
        );
    }

    #[test]
    fn a_lane_that_stops_before_any_recheck_stores_nothing_and_one_after_decides() {
        let check = check(5, 4);
        assert_eq!(choose(&check, &["new", "i0"]), [false, true]);
        assert!(check.take(&[ranked("new", 1)]).unwrap().is_empty());
        assert!(check.finish(true).unwrap().is_empty());

        let check = self::check(5, 4);
        assert_eq!(choose(&check, &["i0", "i1"]), [true, true]);
        assert!(check.take(&[ranked("i0", 0)]).unwrap().is_empty());
        assert_eq!(check.finish(true).unwrap().concat().len(), 1);
    }

    #[test]
    fn nothing_stored_means_no_check() {
        assert!(SpotCheck::new(vec![1], HashMap::new(), 8).is_none());
    }
}
