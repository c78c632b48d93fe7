//! Finds a proof-of-work stamp for a captcha challenge, as the widget does in the browser, for
//! scripts and curl walk-throughs.
//!
//! cargo run --release --example pow_solve -- SALT DIFFICULTY

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [salt, bits] = args.as_slice() else {
        eprintln!("usage: pow_solve SALT DIFFICULTY");
        return std::process::ExitCode::from(2);
    };
    match bits.parse::<u8>() {
        Ok(bits) if bits <= saring::pow::MAX_DIFFICULTY => {
            println!("{}", saring::pow::solve(salt, bits));
            std::process::ExitCode::SUCCESS
        }
        _ => {
            eprintln!(
                "DIFFICULTY is a number from 0 to {}",
                saring::pow::MAX_DIFFICULTY
            );
            std::process::ExitCode::from(2)
        }
    }
}
