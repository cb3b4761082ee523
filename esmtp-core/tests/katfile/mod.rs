//! The data file format: `#` comment lines, records separated by blank lines, each record a
//! set of `name = value` lines. Values are hex, except `count` and `truncate` (decimal) and
//! `ascii` (text, taken literally apart from the spaces around `=`, so no published input may
//! begin or end with a space).
//!
//! Used by `tests/kat.rs` and, through a `#[path]` module, by the crate's own unit tests of its
//! internal primitives.

use std::fmt;

pub struct Record {
    at: String,
    fields: Vec<(String, String)>,
}

impl fmt::Display for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.get("count") {
            Some(c) => write!(f, "{} (count {c})", self.at),
            None => f.write_str(&self.at),
        }
    }
}

impl Record {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn hex(&self, name: &str) -> Vec<u8> {
        let v = self.get(name).unwrap_or_else(|| panic!("{self}: missing field `{name}`"));
        hex::decode(v).unwrap_or_else(|e| panic!("{self}: field `{name}` is not hex: {e}"))
    }

    /// The message input: the hex field `name`, or else the `ascii` field.
    pub fn input(&self, name: &str) -> Vec<u8> {
        match (self.get(name), self.get("ascii")) {
            (Some(_), None) => self.hex(name),
            (None, Some(text)) => text.as_bytes().to_vec(),
            _ => panic!("{self}: needs exactly one of `{name}` and `ascii`"),
        }
    }

    pub fn number(&self, name: &str) -> Option<usize> {
        self.get(name)
            .map(|v| v.parse().unwrap_or_else(|e| panic!("{self}: field `{name}` is not a number: {e}")))
    }
}

pub fn parse(file: &str, text: &str) -> Vec<Record> {
    // Provenance is part of the data: a file that does not say where it came from is rejected.
    assert!(text.starts_with("# source: "), "{file}: must begin with a `# source:` line");
    let mut records = Vec::new();
    let mut current: Option<Record> = None;
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_end();
        if line.is_empty() {
            records.extend(current.take());
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let (name, value) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("{file}:{}: expected `name = value`, got {line:?}", i + 1));
        let (name, value) = (name.trim(), value.trim());
        assert!(!name.is_empty() && !name.contains(' '), "{file}:{}: bad field name {name:?}", i + 1);
        let record =
            current.get_or_insert_with(|| Record { at: format!("{file}:{}", i + 1), fields: Vec::new() });
        assert!(record.get(name).is_none(), "{file}:{}: field `{name}` repeated in one record", i + 1);
        record.fields.push((name.to_owned(), value.to_owned()));
    }
    records.extend(current);
    records
}

pub fn load(file: &str, expected: usize) -> Vec<Record> {
    let path = format!("{}/testdata/kat/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
    let records = parse(file, &text);
    assert_eq!(records.len(), expected, "{file}: wrong number of records");
    records
}
