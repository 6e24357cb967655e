//! Decoded batches for a caller that runs its own model (the Python `zoorepro.Loader`): the
//! images `verify` would read (dataset order, `--shard`, the same names and labels, the same
//! refusals) decoded by `verify`'s stages ([`pipeline::prepare`]) on a worker thread, handed over
//! through a queue of one batch so that memory stays bounded however slowly the caller takes
//! them. Dropping [`Batches`] (or [`Batches::close`]) stops the worker after the batch it is on.

use std::ops::ControlFlow;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, bounded};

use super::pipeline::{self, PipelineError, Preparation};
use crate::dataset::{Dataset, Shard};
use crate::image::pipelines::PillowCompat;
use crate::image::recipe::Recipe;

/// Why the batches stopped before the end of the images.
#[derive(Debug, thiserror::Error)]
pub enum BatchesError {
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    #[error("internal error: {0}")]
    Panicked(String),
}

/// One batch, packed: the images that decoded, in dataset order, and those that did not.
#[derive(Debug, Default)]
pub struct Batch {
    /// Each decoded image's name (its identity in the store: the basename).
    pub names: Vec<String>,
    /// Each decoded image's class index, `None` where the set does not label it.
    pub labels: Vec<Option<u16>>,
    /// The decoded images' tensors, one after another: `names.len()` samples of the recipe's
    /// sample shape.
    pub tensor: Vec<f32>,
    /// Images of this batch that could not be read or decoded: (path relative to the set, why),
    /// which `verify` counts as failed.
    pub failed: Vec<(String, String)>,
}

/// What [`Batches::next`] found.
#[derive(Debug)]
pub enum Next {
    Batch(Batch),
    Failed(BatchesError),
    /// Nothing within the wait: the caller may check for interrupts and ask again.
    Waiting,
    /// Every image was delivered.
    Done,
}

/// How to decode: the recipe, Pillow release, images per batch and decoding threads.
#[derive(Clone)]
pub struct Plan {
    pub recipe: Recipe,
    pub compat: PillowCompat,
    pub batch: usize,
    /// `None`: every core (rayon's default), as `verify` without `--threads`.
    pub threads: Option<usize>,
    pub shard: Option<Shard>,
}

/// Batch buffers a caller has finished with, kept for the next batches: a new buffer costs a
/// fill and the page faults of fresh memory, a returned one neither (docs/python.md#speed).
pub const SPARES: usize = 2;

/// The worker decoding `dataset`'s images in batches, and the queue it hands them over.
pub struct Batches {
    receiver: Option<Receiver<Result<Batch, BatchesError>>>,
    worker: Option<JoinHandle<()>>,
    spares: Sender<Vec<f32>>,
}

/// Gives a [`Batch`]'s tensor back to the [`Batches`] it came from, to be decoded into again.
#[derive(Clone)]
pub struct Recycler(Sender<Vec<f32>>);

impl Recycler {
    /// Keeps `tensor` for a later batch; dropped instead when [`SPARES`] are kept already or
    /// the batches have ended.
    pub fn give_back(&self, tensor: Vec<f32>) {
        let _ = self.0.try_send(tensor);
    }
}

impl Batches {
    /// Starts decoding on a worker thread of its own.
    pub fn start(dataset: Dataset, plan: Plan) -> Batches {
        let (sender, receiver) = bounded(1);
        let (spares, spare_rx) = bounded(SPARES);
        let worker = std::thread::Builder::new()
            .name("zoorepro-batches".into())
            .spawn(move || {
                let outcome = catch_unwind(AssertUnwindSafe(|| {
                    work(&dataset, &plan, &sender, &spare_rx)
                }));
                let error = match outcome {
                    Ok(Ok(())) => return,
                    Ok(Err(error)) => error,
                    Err(payload) => BatchesError::Panicked(panic_text(&*payload)),
                };
                let _ = sender.send(Err(error));
            });
        match worker {
            Ok(worker) => Batches {
                receiver: Some(receiver),
                worker: Some(worker),
                spares,
            },
            Err(error) => {
                // No worker: the first `next` says why.
                let (sender, receiver) = bounded(1);
                let _ = sender.send(Err(BatchesError::Panicked(format!(
                    "cannot start the decoding thread: {error}"
                ))));
                Batches {
                    receiver: Some(receiver),
                    worker: None,
                    spares,
                }
            }
        }
    }

    /// The next batch, waiting at most `wait`. After `Done` or `Failed` it keeps saying `Done`.
    pub fn next(&mut self, wait: Duration) -> Next {
        let Some(receiver) = &self.receiver else {
            return Next::Done;
        };
        match receiver.recv_timeout(wait) {
            Ok(Ok(batch)) => Next::Batch(batch),
            Ok(Err(error)) => {
                self.close();
                Next::Failed(error)
            }
            Err(RecvTimeoutError::Timeout) => Next::Waiting,
            Err(RecvTimeoutError::Disconnected) => {
                self.close();
                Next::Done
            }
        }
    }

    /// Where a caller gives its batches' tensors back once it is done with them.
    pub fn recycler(&self) -> Recycler {
        Recycler(self.spares.clone())
    }

    /// Stops the worker: it ends after the batch it is decoding, and this waits for it.
    pub fn close(&mut self) {
        // The worker's next send fails once the receiver is gone, which stops its stages.
        drop(self.receiver.take());
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

impl Drop for Batches {
    fn drop(&mut self) {
        self.close();
    }
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".into())
}

/// The worker: every image of the shard through `verify`'s stages, each batch packed and sent;
/// a set's `--ground-truth` rows are checked once every image was read, as `verify` does.
fn work(
    dataset: &Dataset,
    plan: &Plan,
    sender: &Sender<Result<Batch, BatchesError>>,
    spares: &Receiver<Vec<f32>>,
) -> Result<(), BatchesError> {
    let samples = dataset
        .stream_shard(plan.shard)
        .map_err(PipelineError::from)?
        .map(|sample| {
            sample.map(|mut sample| {
                sample.refuse_control_characters();
                sample
            })
        });
    let preparation = Preparation {
        recipe: &plan.recipe,
        compat: plan.compat,
    };
    let sample_len = plan.recipe.sample_len();
    let mut receiver_gone = false;
    pipeline::prepare(samples, preparation, plan.batch, plan.threads, |prepared| {
        let batch = pack(prepared, sample_len, spares.try_recv().ok());
        if sender.send(Ok(batch)).is_err() {
            receiver_gone = true;
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    })?;
    if !receiver_gone {
        dataset.check_ground_truth().map_err(PipelineError::from)?;
    }
    Ok(())
}

/// The decoded images of a batch, packed one after another, and the failed ones named. The
/// stages' buffer is taken rather than copied (a spare, else a new buffer, takes its place):
/// the images that decoded are moved down over the slots of those that did not, and the end
/// cut off.
fn pack(prepared: pipeline::Prepared<'_>, sample_len: usize, spare: Option<Vec<f32>>) -> Batch {
    let buffer_len = prepared.tensor.len();
    let replacement = match spare {
        Some(mut spare) => {
            // Cut to its batch's images when it was packed; the slots are written before use.
            spare.resize(buffer_len, 0.0);
            spare
        }
        None => vec![0.0; buffer_len],
    };
    let mut batch = Batch {
        tensor: std::mem::replace(prepared.tensor, replacement),
        ..Batch::default()
    };
    for (i, (entry, outcome)) in prepared.entries.iter().zip(&prepared.outcomes).enumerate() {
        match outcome {
            Ok(()) => {
                let kept = batch.names.len();
                if kept != i {
                    batch
                        .tensor
                        .copy_within(i * sample_len..(i + 1) * sample_len, kept * sample_len);
                }
                batch.names.push(entry.name.clone());
                batch.labels.push(entry.label);
            }
            Err(why) => batch.failed.push((entry.file.clone(), why.to_string())),
        }
    }
    batch.tensor.truncate(batch.names.len() * sample_len);
    batch
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::recipe::preset;

    fn png(level: u8) -> Vec<u8> {
        let image = image::RgbImage::from_pixel(7, 5, image::Rgb([level, 2 * level, 3]));
        let mut out = std::io::Cursor::new(Vec::new());
        image.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    }

    /// A flat folder of `count` PNGs (image `i` of grey level 10 + i) and one broken file.
    fn folder(count: usize) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..count {
            let name = format!("ILSVRC2012_val_{:08}.png", i + 1);
            std::fs::write(dir.path().join(name), png(10 + i as u8)).unwrap();
        }
        let broken = format!("ILSVRC2012_val_{:08}.png", count + 1);
        std::fs::write(dir.path().join(broken), b"not an image").unwrap();
        dir
    }

    fn plan(batch: usize, shard: Option<Shard>) -> Plan {
        Plan {
            recipe: preset("keras-caffe").unwrap(),
            compat: PillowCompat::V13,
            batch,
            threads: Some(2),
            shard,
        }
    }

    fn collect(batches: &mut Batches) -> Vec<Batch> {
        let mut out = Vec::new();
        loop {
            match batches.next(Duration::from_secs(30)) {
                Next::Batch(batch) => out.push(batch),
                Next::Done => return out,
                Next::Failed(error) => panic!("{error}"),
                Next::Waiting => panic!("no batch within 30 s"),
            }
        }
    }

    #[test]
    fn batches_hold_each_image_as_preprocess_makes_it_in_dataset_order() {
        let dir = folder(5);
        let dataset = Dataset::open(dir.path()).unwrap();
        let mut batches = Batches::start(dataset, plan(2, None));
        let got = collect(&mut batches);
        let sizes: Vec<usize> = got.iter().map(|b| b.names.len()).collect();
        // The broken sixth file shares the third batch with the fifth image, and is named there.
        assert_eq!(sizes, [2, 2, 1]);
        assert_eq!(got[2].failed.len(), 1);
        assert!(got[2].failed[0].0.ends_with("00000006.png"));
        let recipe = preset("keras-caffe").unwrap();
        let names: Vec<&String> = got.iter().flat_map(|b| &b.names).collect();
        let tensors: Vec<&[f32]> = got
            .iter()
            .flat_map(|b| b.tensor.chunks(recipe.sample_len()))
            .collect();
        for (i, (name, tensor)) in names.iter().zip(tensors).enumerate() {
            assert_eq!(**name, format!("ILSVRC2012_val_{:08}.png", i + 1));
            let mut want = vec![0f32; recipe.sample_len()];
            crate::image::pipelines::preprocess(
                &png(10 + i as u8),
                &[(&recipe, PillowCompat::V13)],
                &mut [&mut want],
            )
            .remove(0)
            .unwrap();
            assert_eq!(tensor, &want[..], "image {i}");
        }
    }

    #[test]
    fn a_broken_image_inside_a_batch_leaves_the_others_packed_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let level = |n: usize| 10 + n as u8;
        for n in 1..=6 {
            let name = format!("ILSVRC2012_val_{n:08}.png");
            let bytes = if n == 3 {
                b"not an image".to_vec()
            } else {
                png(level(n))
            };
            std::fs::write(dir.path().join(name), bytes).unwrap();
        }
        let dataset = Dataset::open(dir.path()).unwrap();
        let got = collect(&mut Batches::start(dataset, plan(4, None)));
        let recipe = preset("keras-caffe").unwrap();
        let len = recipe.sample_len();
        let numbers: Vec<Vec<usize>> = got
            .iter()
            .map(|b| b.names.iter().map(|n| n[15..23].parse().unwrap()).collect())
            .collect();
        assert_eq!(numbers, [vec![1, 2, 4], vec![5, 6]]);
        assert!(got[0].failed[0].0.ends_with("00000003.png"));
        for (batch, numbers) in got.iter().zip(&numbers) {
            assert_eq!(batch.tensor.len(), numbers.len() * len);
            for (tensor, &n) in batch.tensor.chunks(len).zip(numbers) {
                let mut want = vec![0f32; len];
                crate::image::pipelines::preprocess(
                    &png(level(n)),
                    &[(&recipe, PillowCompat::V13)],
                    &mut [&mut want],
                )
                .remove(0)
                .unwrap();
                assert_eq!(tensor, &want[..], "image {n}");
            }
        }
    }

    #[test]
    fn tensors_given_back_are_decoded_into_again_and_hold_the_new_images() {
        let dir = folder(12);
        let recipe = preset("keras-caffe").unwrap();
        let len = recipe.sample_len();
        let dataset = Dataset::open(dir.path()).unwrap();
        let mut batches = Batches::start(dataset, plan(2, None));
        let recycler = batches.recycler();
        let (mut given_back, mut reused, mut image) = (Vec::new(), 0, 0);
        loop {
            let batch = match batches.next(Duration::from_secs(30)) {
                Next::Batch(batch) => batch,
                Next::Done => break,
                other => panic!("{other:?}"),
            };
            reused += usize::from(given_back.contains(&batch.tensor.as_ptr()));
            for tensor in batch.tensor.chunks(len) {
                let mut want = vec![0f32; len];
                crate::image::pipelines::preprocess(
                    &png(10 + image as u8),
                    &[(&recipe, PillowCompat::V13)],
                    &mut [&mut want],
                )
                .remove(0)
                .unwrap();
                assert_eq!(tensor, &want[..], "image {image}");
                image += 1;
            }
            // Only as many as are kept: a tensor dropped and freed could come back as a new
            // buffer at the same address, which would look like reuse.
            if given_back.len() < SPARES {
                given_back.push(batch.tensor.as_ptr());
                recycler.give_back(batch.tensor);
            }
        }
        assert_eq!(image, 12);
        assert!(reused > 0, "no batch was decoded into a tensor given back");
    }

    #[test]
    fn a_shard_gives_the_images_verify_gives_it() {
        let dir = folder(12);
        let shard = Shard { index: 1, count: 3 };
        let dataset = Dataset::open(dir.path()).unwrap();
        let mut batches = Batches::start(dataset, plan(4, Some(shard)));
        let got: Vec<String> = collect(&mut batches)
            .into_iter()
            .flat_map(|b| b.names)
            .collect();
        let want: Vec<String> = (1..=12)
            .map(|i| format!("ILSVRC2012_val_{i:08}.png"))
            .filter(|name| shard.contains(name))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn a_name_with_a_control_character_is_refused_as_verify_refuses_it() {
        let dir = folder(2);
        std::fs::write(dir.path().join("odd\nname.png"), png(40)).unwrap();
        let dataset = Dataset::open(dir.path()).unwrap();
        let mut batches = Batches::start(dataset, plan(8, None));
        let got = collect(&mut batches);
        let failed: Vec<&(String, String)> = got.iter().flat_map(|b| &b.failed).collect();
        assert!(
            failed
                .iter()
                .any(|(file, why)| file == "odd\nname.png" && why.contains("control character")),
            "{failed:?}"
        );
        assert!(got.iter().flat_map(|b| &b.names).all(|n| !n.contains('\n')));
    }

    #[test]
    fn closing_early_stops_the_worker() {
        let dir = folder(40);
        let dataset = Dataset::open(dir.path()).unwrap();
        let mut batches = Batches::start(dataset, plan(1, None));
        assert!(matches!(
            batches.next(Duration::from_secs(30)),
            Next::Batch(_)
        ));
        // close joins the worker: returning at all shows it stopped.
        batches.close();
        assert!(matches!(batches.next(Duration::ZERO), Next::Done));
    }
}
