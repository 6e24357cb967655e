//! Small helpers every subsystem uses: [`safe_file`] (reading only regular files, the one atomic
//! writer), [`escape`] (file names and messages made safe for each output), [`hex`] (digests as
//! text) and [`time`] (timestamps).

pub mod escape;
pub mod hex;
pub mod safe_file;
pub mod time;
