use clap::Parser;

fn main() {
    let cli = match zoorepro::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => match zoorepro::cli::one_line_error(&e) {
            // A bad value (a number out of range, a choice a flag does not take) is bad input
            // like any other: the same one-line message and exit 2.
            Some(line) => {
                eprintln!(
                    "zoorepro: error: {}",
                    zoorepro::util::escape::terminal(&line)
                );
                std::process::exit(2);
            }
            None => e.exit(),
        },
    };
    std::process::exit(zoorepro::commands::run(cli));
}
