//! The shape of the code, checked: no module imports a command, and the top-level modules of
//! `src/` import each other without a cycle.
//!
//! The commands sit above the machinery (input, plan, executor, pace, journal, writer, network
//! clients); when machinery reaches up into a command, or two modules need each other, a change
//! to one drags the other along. This reads the sources (test-only code aside) and lists every
//! `crate::module` each top-level module names.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Every top-level module and the top-level modules its non-test code names.
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("src readable") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            // Test-only files: `tests.rs` and `*_tests.rs` are declared under `#[cfg(test)]`.
            if !name.ends_with(".rs") || name == "tests.rs" || name.ends_with("_tests.rs") {
                continue;
            }
            let relative = path.strip_prefix(&src).unwrap();
            let first = relative.iter().next().unwrap().to_string_lossy();
            let module = first.trim_end_matches(".rs").to_owned();
            if module == "lib" || module == "main" {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("source readable");
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            let named = graph.entry(module.clone()).or_default();
            for target in crate_paths(code) {
                if target != module {
                    named.insert(target);
                }
            }
        }
    }
    graph
}

/// The first segment of every `crate::…` path in `code`, `use crate::{a, b::c}` included.
fn crate_paths(code: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let word: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !word.is_empty() && word != "self" {
                    found.insert(word);
                }
            }
        } else {
            let word: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !word.is_empty() {
                found.insert(word);
            }
        }
    }
    found
}

#[test]
fn no_module_imports_a_command() {
    let graph = imports();
    let offenders: Vec<&String> = graph
        .iter()
        .filter(|(module, named)| *module != "commands" && named.contains("commands"))
        .map(|(module, _)| module)
        .collect();
    assert!(
        offenders.is_empty(),
        "these import a command: {offenders:?}"
    );
}

#[test]
fn the_modules_import_each_other_without_a_cycle() {
    let graph = imports();
    assert!(graph.len() > 20, "the sources were read: {graph:?}");
    // Kahn's algorithm: what remains after peeling every module nothing depends on is cyclic.
    let mut remaining = graph.clone();
    loop {
        let leaves: Vec<String> = remaining
            .iter()
            .filter(|(_, named)| named.iter().all(|n| !remaining.contains_key(n)))
            .map(|(module, _)| module.clone())
            .collect();
        if leaves.is_empty() {
            break;
        }
        for leaf in leaves {
            remaining.remove(&leaf);
        }
    }
    assert!(
        remaining.is_empty(),
        "these modules import each other in a cycle: {remaining:#?}"
    );
}

#[test]
fn the_reader_finds_grouped_and_plain_paths() {
    let found =
        crate_paths("use crate::{a::B, c, self};\nuse crate::d::{E, F};\nfn g() { crate::h::i() }");
    let expected: BTreeSet<String> = ["a", "c", "d", "h"].map(String::from).into();
    assert_eq!(found, expected);
}
