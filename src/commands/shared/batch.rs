//! The one bound on the input tensors a command holds at once, checked before anything is
//! allocated (`verify`, `determinism`).

/// Refuses a batch whose input tensors (`copies` of them alive at once) would take more than
/// [`crate::cli::BATCH_TENSOR_BYTES`]: `--batch 100000` must be a message, not an allocation
/// failure that aborts the process.
pub(crate) fn check_batch_memory(
    flag: &str,
    batch: usize,
    sample_len: usize,
    copies: usize,
) -> anyhow::Result<()> {
    let per_batch = 4 * sample_len as u64 * copies as u64;
    let bytes = per_batch.saturating_mul(batch as u64);
    if bytes > crate::cli::BATCH_TENSOR_BYTES {
        let most = (crate::cli::BATCH_TENSOR_BYTES / per_batch.max(1)).max(1);
        anyhow::bail!(
            "{flag} {batch} needs {:.1} GiB of input tensors for {sample_len}-value \
             samples, more than the {} GiB allowed; use a batch of at most {most}",
            bytes as f64 / f64::from(1u32 << 30),
            crate::cli::BATCH_TENSOR_BYTES >> 30
        );
    }
    Ok(())
}
