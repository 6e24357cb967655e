//! Small helpers every subsystem uses: [`safe_file`] (reading only regular files, the one atomic
//! writer), [`clobber`] (no output replaces an input or the store), [`escape`] (file names and
//! messages made safe for each output), [`folder`] (creating output folders, naming what is in
//! the way), [`hex`] (digests as text), [`text_table`] (aligned
//! columns for a terminal), [`time`] (timestamps) and [`invocation`] (the command line a record
//! names).

pub mod clobber;
pub mod escape;
pub mod folder;
pub mod hex;
pub mod invocation;
pub mod safe_file;
pub mod text_table;
pub mod time;
