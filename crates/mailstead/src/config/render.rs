//! Renders the description tables: the commented `mailstead.toml` that `mailstead init` writes,
//! and the markdown reference `docs/config.md`. Both walk [`Config::sections`] in order, so a new
//! option appears in both without touching this file.

use std::fmt::Write as _;

use super::Config;
use super::schema::OptionDoc;

const HEADER: &str = "\
# mailstead.toml: configuration of the Mailstead mail server.
#
# Written by `mailstead init`. Each option is shown with its documentation and current value;
# delete a line to return to its default. Durations are whole seconds (`_secs`), sizes whole
# bytes. Relative paths are relative to the data directory (the directory of this file).
# Accounts, aliases and domains are not configured here: they live in the store and are managed
# with `mailstead account` and `mailstead alias`. Changes take effect on restart; check them
# first with `mailstead check-config --data DIR`. Reference: docs/config.md.
";

/// The commented TOML text for `config`.
pub fn template(config: &Config) -> String {
    let values = table(config);
    let defaults = table(&Config::default());
    let mut out = String::from(HEADER);
    for section in Config::sections() {
        let _ = write!(out, "\n\n{}\n[{}]\n", comment(section.doc), section.name);
        let mut table_arrays = String::new();
        for option in section.options {
            let value = lookup(&values, section.name, option.key);
            out.push('\n');
            out.push_str(&comment(&option.doc));
            out.push('\n');
            if value != lookup(&defaults, section.name, option.key) {
                let _ = writeln!(out, "# (default: {})", option.default);
            }
            match value {
                Some(toml::Value::Array(items)) if is_table_array(option) => {
                    for item in items.iter().filter_map(toml::Value::as_table) {
                        let _ = writeln!(table_arrays, "\n[[{}.{}]]", section.name, option.key);
                        for (k, v) in item {
                            let _ = writeln!(table_arrays, "{k} = {v}");
                        }
                    }
                }
                Some(v) => {
                    let _ = writeln!(out, "{} = {v}", option.key);
                }
                None => {}
            }
        }
        out.push_str(&table_arrays);
    }
    out
}

/// The markdown reference, `docs/config.md`.
#[cfg(test)]
pub fn markdown() -> String {
    let dev = table(&Config::template_config("localhost", true));
    let production = table(&Config::template_config("localhost", false));
    let mut out = String::from(
        "# Configuration reference\n\n\
         <!-- Generated from crates/mailstead/src/config/sections.rs. Do not edit: change the doc \
         comments there, then run `MAILSTEAD_BLESS=1 cargo test -p mailstead config`. -->\n\n\
         Mailstead reads one file, `mailstead.toml`, in the data directory (`--data DIR`). \
         `mailstead init` writes it with every option commented; `mailstead check-config` \
         validates it without starting the server. Errors name the file, line and column, and \
         say how to fix them.\n\n\
         Durations are whole seconds (keys ending in `_secs`), sizes whole bytes. Relative paths \
         are relative to the data directory. Every option has a default, so an empty file is \
         valid; unknown keys are errors. Changes take effect on restart.\n",
    );
    for section in Config::sections() {
        let _ = write!(out, "\n## `[{}]`\n\n{}\n", section.name, section.doc);
        for option in section.options {
            let _ = write!(out, "\n### `{}.{}`\n\n", section.name, option.key);
            let _ = write!(out, "Type: {} · Default: `{}`", option.type_name, option.default);
            let dev_value = lookup(&dev, section.name, option.key);
            if let Some(v) = dev_value.filter(|v| Some(*v) != lookup(&production, section.name, option.key)) {
                let _ = write!(out, " · With `init --dev`: `{v}`");
            }
            let _ = write!(out, "\n\n{}\n", option.doc);
        }
    }
    out
}

fn is_table_array(option: &OptionDoc) -> bool {
    option.type_name.starts_with("array of tables")
}

/// `text` as `#` comment lines.
fn comment(text: &str) -> String {
    let lines: Vec<String> =
        text.lines().map(|l| if l.is_empty() { "#".to_string() } else { format!("# {l}") }).collect();
    lines.join("\n")
}

fn table(config: &Config) -> toml::Table {
    toml::Table::try_from(config).unwrap_or_default()
}

fn lookup<'t>(table: &'t toml::Table, section: &str, key: &str) -> Option<&'t toml::Value> {
    table.get(section)?.get(key)
}
