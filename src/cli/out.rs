//! Printing that a closed pipe cannot crash. `println!` panics when the reader has gone
//! (`rprov schema | head -c 10`: "failed printing to stdout: Broken pipe", exit 101). Here a
//! write to a closed stream marks it closed and later writes are dropped: a read-only command
//! ends quietly with its own status, as other Unix tools do, and an apply whose output is no
//! longer read still finishes, records its state and releases its lock.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

static STDOUT_GONE: AtomicBool = AtomicBool::new(false);
static STDERR_GONE: AtomicBool = AtomicBool::new(false);

pub fn stdout(args: std::fmt::Arguments<'_>) {
    write(&STDOUT_GONE, &mut std::io::stdout().lock(), args);
}

pub fn stderr(args: std::fmt::Arguments<'_>) {
    write(&STDERR_GONE, &mut std::io::stderr().lock(), args);
}

fn write(gone: &AtomicBool, w: &mut dyn Write, args: std::fmt::Arguments<'_>) {
    if gone.load(Ordering::Relaxed) {
        return;
    }
    // Any failure to write means nobody reads this stream any more (a full disk behind a
    // redirect is the other case, and nothing better can be done with the text either).
    if w.write_fmt(args).and_then(|()| w.flush()).is_err() {
        gone.store(true, Ordering::Relaxed);
    }
}

/// `print!` to stdout, quietly dropped once the reader is gone.
macro_rules! out {
    ($($arg:tt)*) => { $crate::cli::out::stdout(format_args!($($arg)*)) };
}

/// `println!` to stdout, quietly dropped once the reader is gone.
macro_rules! outln {
    () => { $crate::cli::out::stdout(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::cli::out::stdout(format_args!("{}\n", format_args!($($arg)*))) };
}

/// `eprint!`, quietly dropped once stderr is closed.
macro_rules! err {
    ($($arg:tt)*) => { $crate::cli::out::stderr(format_args!($($arg)*)) };
}

/// `eprintln!`, quietly dropped once stderr is closed.
macro_rules! errln {
    () => { $crate::cli::out::stderr(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::cli::out::stderr(format_args!("{}\n", format_args!($($arg)*))) };
}

pub(crate) use {err, errln, out, outln};
