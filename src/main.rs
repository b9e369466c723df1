fn main() -> std::process::ExitCode {
    postamat::cli::main()
}
