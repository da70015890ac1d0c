//! windtunnel command line (being written).
fn main() {}
