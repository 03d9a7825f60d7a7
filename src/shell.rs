//! Shell quoting, for the command that resumes a job.
//!
//! When a job stops early the summary prints the command to run again. It must survive being
//! pasted into a POSIX shell whatever the file names hold.

/// The command line of this process, quoted for a POSIX shell.
pub fn resume_command() -> String {
    std::env::args()
        .enumerate()
        .map(|(i, a)| {
            if i == 0 {
                "bulk-unblock".to_owned()
            } else {
                shell_quote(&a)
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Quotes one word for a POSIX shell when it needs it.
pub fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:@%+,".contains(&b));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_survives_a_shell() {
        assert_eq!(shell_quote("blocks.csv"), "blocks.csv");
        assert_eq!(shell_quote("my blocks.csv"), "'my blocks.csv'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
