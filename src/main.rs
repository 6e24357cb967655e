use clap::Parser;

fn main() {
    let cli = zoorepro::cli::Cli::parse();
    std::process::exit(zoorepro::commands::run(cli));
}
