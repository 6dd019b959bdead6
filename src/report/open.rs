//! Opening the inputs of a run for a report: an input that cannot be opened is a file of the
//! report too, with its error.

use super::{Reporter, Summary};
use crate::input;
use crate::validate::FileReport;
use std::io;

fn open_or_say(arg: &str, unreadable: &mut bool) -> Result<input::Input, String> {
    input::open(arg).map_err(|e| {
        let e = format!("{e:#}");
        crate::say::error(&e);
        *unreadable = true;
        e
    })
}

/// Opens an input. One that cannot be opened is said on standard error, noted in
/// `unreadable`, and is also a file of the report, with its error, so that every input
/// given appears in it.
pub fn open_reported(
    arg: &str,
    unreadable: &mut bool,
    reporter: &mut dyn Reporter,
    summary: &mut Summary,
) -> io::Result<Option<input::Input>> {
    let error = match open_or_say(arg, unreadable) {
        Ok(i) => return Ok(Some(i)),
        Err(e) => e,
    };
    let file = FileReport {
        path: arg.to_string(),
        error: Some(error),
        ..FileReport::default()
    };
    reporter.begin_file(&file.path)?;
    reporter.end_file(&file)?;
    summary.add(&file);
    Ok(None)
}
