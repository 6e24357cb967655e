use clap::Parser;

fn main() {
    let cli = match zoorepro::cli::Cli::try_parse() {
        Ok(cli) => cli,
        // A number out of range is bad input like any other: the same one-line message and exit 2.
        Err(e) if e.kind() == clap::error::ErrorKind::ValueValidation => {
            let text = e.to_string();
            let line = text.lines().next().unwrap_or_default();
            let line = line.strip_prefix("error: ").unwrap_or(line);
            eprintln!(
                "zoorepro: error: {}",
                zoorepro::util::escape::terminal(line)
            );
            std::process::exit(2);
        }
        Err(e) => e.exit(),
    };
    std::process::exit(zoorepro::commands::run(cli));
}
