//! `zoorepro recipes`: the preprocessing presets.

use std::io::Write;

use super::shared::terminal;

use crate::cli::ListArgs;
use crate::exit;
use crate::image::recipe::{self, ChannelOrder};

pub fn run(args: &ListArgs) -> anyhow::Result<i32> {
    let presets = recipe::presets();
    if args.output.json {
        terminal::print_json(&presets)?;
        return Ok(exit::SUCCESS);
    }
    let width = terminal::stdout_width();
    let mut out = terminal::stdout();
    let header = format!(
        "{:<28} {:<20} {:<9} {:>9} {:<28} {:<26} {:<8} description",
        "name", "resize", "filter", "scale", "mean", "std", "layout"
    );
    writeln!(out, "{}", terminal::fit(&header, width))?;
    for r in &presets {
        let resize = r.resize_mode.describe(r.resize_size, r.crop_size);
        let channels = match r.channels {
            ChannelOrder::Rgb => "rgb",
            ChannelOrder::Bgr => "bgr",
        };
        let line = format!(
            "{:<28} {:<20} {:<9} {:>9} {:<28} {:<26} {:<8} {}",
            r.name,
            resize,
            r.filter.name(),
            r.scale,
            format!("{:?}", r.mean),
            format!("{:?}", r.std),
            format!("{} {channels}", r.layout.name()),
            r.description
        );
        writeln!(out, "{}", terminal::fit(&line, width))?;
    }
    Ok(exit::SUCCESS)
}
