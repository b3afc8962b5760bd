//! Output for the operator: human tables, or JSON with `--json` for scripts.

use comfy_table::{ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};
use serde::Serialize;

/// Print `value` as pretty JSON.
pub fn json<T: Serialize + ?Sized>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// Print rows as a table with the given headers.
pub fn table(headers: &[&str], rows: impl IntoIterator<Item = Vec<String>>) {
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED).set_content_arrangement(ContentArrangement::Dynamic).set_header(headers.iter().copied());
    let mut n = 0;
    for r in rows {
        t.add_row(r);
        n += 1;
    }
    if n == 0 {
        println!("(none)");
    } else {
        println!("{t}");
    }
}
