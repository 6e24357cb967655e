//! Small helpers every subsystem uses: [`safe_file`] (reading only regular files, the one atomic
//! writer) and [`escape`] (file names and messages made safe for each output).

pub mod escape;
pub mod safe_file;
