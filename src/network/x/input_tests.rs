//! X's input forms read through the core readers: lists of IDs, names and profile links, CSV
//! exports, and the data archive's `block.js`. The core readers are network-neutral; these
//! tests pin what X's rules make of every form.

use std::path::PathBuf;

use super::archive;
use super::identity::testing::{id, name};
use super::identity::{IDENTITIES, RESERVED_PATHS};
use crate::input::{self, InputError, InvalidLine, Parsed, SEVERAL_FIELDS};
use crate::target::Target;

/// Which reader a byte stream goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Csv,
    List,
    BlockJs,
}

fn parse(source: &str, bytes: &[u8]) -> Parsed {
    input::parse(source, bytes, &IDENTITIES)
}

fn read(paths: &[PathBuf]) -> Result<Parsed, InputError> {
    input::read(paths, &IDENTITIES)
}

fn detect(bytes: &[u8]) -> Format {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if archive::is_archive(bytes) {
        return Format::BlockJs;
    }
    match input::detect(bytes, &IDENTITIES) {
        input::Format::Csv => Format::Csv,
        input::Format::List => Format::List,
    }
}

mod tests {
    use super::*;

    /// Parses and insists that every line was usable.
    fn targets(text: &str) -> Vec<Target> {
        let parsed = parse("in", text.as_bytes());
        assert!(
            parsed.invalid.is_empty(),
            "unexpected: {:?}",
            parsed.invalid
        );
        parsed.targets
    }

    fn invalid(bytes: &[u8]) -> Vec<String> {
        parse("in", bytes)
            .invalid
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    // --- list ------------------------------------------------------------------------------

    #[test]
    fn list_reads_ids_at_names_and_bare_names() {
        assert_eq!(
            targets("12345\n@Jack_1\nsome_name\n18446744073709551615\n"),
            vec![id(12345), name("Jack_1"), name("some_name"), id(u64::MAX)]
        );
    }

    #[test]
    fn at_digits_is_a_screen_name_and_bare_digits_an_id() {
        assert_eq!(targets("@123\n123"), vec![name("123"), id(123)]);
    }

    #[test]
    fn duplicates_are_kept_in_order() {
        assert_eq!(
            targets("7\n@a\n7\n@A\n"),
            vec![id(7), name("a"), id(7), name("A")]
        );
    }

    #[test]
    fn profile_links_in_every_form_name_the_user() {
        let forms = [
            "https://twitter.com/Jack",
            "https://x.com/Jack",
            "http://x.com/Jack",
            "https://www.twitter.com/Jack",
            "https://mobile.twitter.com/Jack",
            "https://mobile.x.com/Jack/",
            "HTTPS://X.COM/Jack",
            "www.x.com/Jack",
            "x.com/Jack",
            "twitter.com/Jack",
            "https://x.com/Jack?ref_src=twsrc%5Etfw",
            "https://x.com/Jack#top",
            "https://x.com/Jack/?s=20&t=abc#frag",
            "https://x.com/@Jack",
        ];
        for form in forms {
            assert_eq!(targets(form), vec![name("Jack")], "{form}");
        }
    }

    #[test]
    fn intent_links_give_the_id_or_the_name() {
        assert_eq!(
            targets(
                "https://twitter.com/intent/user?user_id=783214\n\
                 https://x.com/intent/user?screen_name=Jack\n\
                 https://x.com/intent/follow?screen_name=Jack&user_id=9\n\
                 https://x.com/i/user/42\n"
            ),
            vec![id(783214), name("Jack"), id(9), id(42)]
        );
    }

    #[test]
    fn site_pages_and_other_sites_are_not_users() {
        assert_eq!(
            invalid(
                b"https://x.com/home\n\
                  https://x.com/i/lists/123\n\
                  https://twitter.com/settings/\n\
                  https://x.com/\n\
                  https://x.com/intent/user\n\
                  https://x.com/jack/status/1\n\
                  https://example.com/jack\n\
                  https://x.com/intent/user?user_id=abc\n"
            ),
            vec![
                "in:1: link to `/home` is not a user profile",
                "in:2: link `/i/lists/123` is not a profile link (expected https://x.com/NAME)",
                "in:3: link to `/settings` is not a user profile",
                "in:4: link does not name a user",
                "in:5: intent link has neither `user_id` nor `screen_name`",
                "in:6: link `/jack/status/1` is not a profile link (expected https://x.com/NAME)",
                "in:7: `https://example.com/jack` is not an X/Twitter profile link",
                "in:8: intent link: user ID `abc` is not a number",
            ]
        );
    }

    #[test]
    fn bom_crlf_blank_lines_whitespace_and_comments_are_fine() {
        let text = "\u{FEFF}# blocked in 2019\r\n\r\n  123  \r\n\t@jack\r\n   # indented comment\r\n\
                    dril # the funny one\r\nhttps://x.com/a?x=1 #c\r\n   \r\n";
        assert_eq!(
            targets(text),
            vec![id(123), name("jack"), name("dril"), name("a")]
        );
    }

    #[test]
    fn hash_without_space_is_not_a_comment() {
        assert_eq!(
            invalid(b"jack#1\n"),
            vec!["in:1: screen name `jack#1` may only contain letters, digits and `_`"]
        );
    }

    #[test]
    fn headerless_single_column_csv_with_quotes_and_trailing_commas() {
        assert_eq!(
            targets("\"@jack\",\n\"123\"\n456,\n\"dril\" ,\n,\n\"\"\n"),
            vec![name("jack"), id(123), id(456), name("dril")]
        );
    }

    #[test]
    fn several_fields_without_a_header_suggest_adding_one() {
        assert_eq!(
            invalid(b"123,jack\n@ok\n"),
            vec![format!("in:1: {SEVERAL_FIELDS}")]
        );
        assert!(SEVERAL_FIELDS.contains("header row"));
    }

    #[test]
    fn bad_list_lines_are_reported_with_exact_text_and_line() {
        let text = "1\n0\n-5\n@\nsixteen_chars_xx\n99999999999999999999\nfine\nhas space\n";
        let parsed = parse("blocks.txt", text.as_bytes());
        assert_eq!(parsed.targets, vec![id(1), name("fine")]);
        let shown: Vec<String> = parsed.invalid.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            vec![
                "blocks.txt:2: user ID must be greater than zero",
                "blocks.txt:3: user ID `-5` is negative",
                "blocks.txt:4: screen name is empty",
                "blocks.txt:5: screen name `sixteen_chars_xx` is longer than 15 characters",
                "blocks.txt:6: user ID `99999999999999999999` is too large (more than 64 bits)",
                "blocks.txt:8: screen name `has space` may only contain letters, digits and `_`",
            ]
        );
    }

    #[test]
    fn a_non_utf8_line_is_invalid_without_touching_its_neighbours() {
        let parsed = parse("in", b"1\n\xff\xfejack\n@b\n# caf\xe9 comment\n");
        assert_eq!(parsed.targets, vec![id(1), name("b")]);
        assert_eq!(
            parsed.invalid,
            vec![InvalidLine {
                source: "in".into(),
                line: 2,
                reason: "line is not valid UTF-8".into(),
            }]
        );
    }

    #[test]
    fn empty_input_gives_nothing_and_no_error() {
        assert_eq!(parse("in", b""), Parsed::default());
        assert_eq!(
            parse("in", b"\xEF\xBB\xBF\n\n# only comments\n"),
            Parsed::default()
        );
    }

    #[test]
    fn long_garbage_is_shortened() {
        let line = format!("https://example.com/{}", "a".repeat(500));
        let shown = invalid(line.as_bytes());
        assert_eq!(shown.len(), 1);
        assert!(shown[0].len() < 120, "{}", shown[0]);
    }

    // --- CSV -------------------------------------------------------------------------------

    #[test]
    fn csv_with_id_and_name_columns_prefers_the_id() {
        let text = "note,screen_name,user_id\n\
                    a,jack,12\n\
                    b,@dril,\n\
                    c,,34\n\
                    d,\"@x_y\",\"56\"\n";
        assert_eq!(targets(text), vec![id(12), name("dril"), id(34), id(56)]);
    }

    #[test]
    fn csv_header_names_ignore_case_space_and_quotes() {
        for header in [
            "User_ID",
            " id ",
            "\"account_id\"",
            "accountId",
            "ACCOUNTID",
        ] {
            let text = format!("{header},other\n77,x\n");
            assert_eq!(detect(text.as_bytes()), Format::Csv, "{header}");
            assert_eq!(targets(&text), vec![id(77)], "{header}");
        }
        for header in ["screen_name", "Username", " HANDLE "] {
            let text = format!("other,{header}\nx,123\n");
            assert_eq!(targets(&text), vec![name("123")], "{header}");
        }
    }

    fn notices(text: &str) -> Vec<String> {
        parse("in", text.as_bytes())
            .notices
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn a_lone_column_name_on_the_first_line_is_a_header_and_says_so() {
        // Regression: a list starting with the screen name `handle` lost it without a word.
        assert_eq!(targets("handle\njack\n"), vec![name("jack")]);
        assert_eq!(
            notices("handle\njack\n"),
            [
                "in:1: taken as a CSV header (column `handle`), not as a screen name; write \
              `@handle` if it is one"
            ]
        );
        for (text, line, column) in [
            ("# exported\n\n User_ID \n5\n", 3, "User_ID"),
            ("\"Username\"\n@x\n", 1, "Username"),
            ("id,\n5\n", 1, "id"),
        ] {
            let parsed = parse("in", text.as_bytes());
            assert_eq!(parsed.notices.len(), 1, "{text:?}");
            assert_eq!(parsed.notices[0].line, line, "{text:?}");
            assert!(
                parsed.notices[0]
                    .message
                    .starts_with(&format!("taken as a CSV header (column `{column}`)")),
                "{text:?}: {}",
                parsed.notices[0]
            );
        }
        // Several named columns are a header beyond doubt; a list naming `handle` later on is
        // a list; and `@handle` is a screen name.
        for text in [
            "user_id,screen_name\n1,a\n",
            "note,handle\nx,a\n",
            "jack\nhandle\n",
            "@handle\njack\n",
        ] {
            assert_eq!(notices(text), Vec::<String>::new(), "{text:?}");
        }
        assert_eq!(targets("@handle\n"), vec![name("handle")]);
    }

    #[test]
    fn csv_prefers_user_id_over_a_plain_id_column() {
        assert_eq!(targets("id,user_id\n1,2\n"), vec![id(2)]);
    }

    #[test]
    fn csv_rows_without_a_target_or_with_a_bad_id_are_invalid() {
        let text = "user_id,screen_name,note\n\
                    ,,hello\n\
                    abc,jack,\n\
                    1.23E+18,,\n\
                    ,bad-name,\n\
                    5,,\n";
        let parsed = parse("f.csv", text.as_bytes());
        assert_eq!(parsed.targets, vec![id(5)]);
        let shown: Vec<String> = parsed.invalid.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            vec![
                "f.csv:2: row has neither a user ID nor a screen name",
                "f.csv:3: column `user_id`: user ID `abc` is not a number",
                "f.csv:4: column `user_id`: user ID `1.23E+18` is not a number (a spreadsheet \
                 may have rewritten it in scientific notation; format the column as text)",
                "f.csv:5: column `screen_name`: screen name `bad-name` may only contain \
                 letters, digits and `_`",
            ]
        );
    }

    #[test]
    fn csv_short_rows_blank_rows_comments_bom_and_crlf() {
        let text = "\u{FEFF}# exported 2024\r\n\r\n   \r\nname,screen_name\r\n\
                    Jack Dorsey,jack\r\nshort\r\n,,\r\n  # indented comment\r\n\
                    # comment\r\nX,\"#tag\"\r\nY, dril \r\n";
        let parsed = parse("f.csv", text.as_bytes());
        assert_eq!(parsed.targets, vec![name("jack"), name("dril")]);
        let shown: Vec<String> = parsed.invalid.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            vec![
                "f.csv:6: row has neither a user ID nor a screen name",
                "f.csv:10: column `screen_name`: screen name `#tag` may only contain letters, \
                 digits and `_`",
            ]
        );
    }

    #[test]
    fn csv_quoted_multiline_fields_keep_real_line_numbers() {
        let text = "user_id,bio\n\
                    1,\"line one\nline two\nline three\"\n\
                    oops,\"a\r\nb\"\n\
                    2,x\n\
                    zero,\n";
        let parsed = parse("f.csv", text.as_bytes());
        assert_eq!(parsed.targets, vec![id(1), id(2)]);
        let lines: Vec<u64> = parsed.invalid.iter().map(|i| i.line).collect();
        assert_eq!(lines, vec![5, 8]);
    }

    #[test]
    fn csv_rows_after_skipped_blank_and_comment_lines_keep_their_line() {
        // Regression: the csv crate dates a record from the end of the previous one.
        let text = "user_id\n1\n\n\nabc\n# note\n#\n\ndef\n";
        let lines: Vec<u64> = parse("f", text.as_bytes())
            .invalid
            .iter()
            .map(|i| i.line)
            .collect();
        assert_eq!(lines, vec![5, 9]);
    }

    #[test]
    fn csv_non_utf8_in_a_target_cell_is_invalid_but_ignored_columns_may_hold_anything() {
        let parsed = parse("f.csv", b"user_id,note\n1,caf\xe9\n\xff2,x\n3,\n");
        assert_eq!(parsed.targets, vec![id(1), id(3)]);
        assert_eq!(
            parsed
                .invalid
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            vec!["f.csv:3: line is not valid UTF-8"]
        );
    }

    // --- block.js --------------------------------------------------------------------------

    const BLOCK_JS: &str = r#"window.YTD.block.part0 = [
  {
    "blocking" : {
      "accountId" : "1234567890",
      "userLink" : "https://twitter.com/intent/user?user_id=1234567890"
    }
  },
  {
    "blocking" : {
      "userLink" : "https://twitter.com/intent/user?user_id=1"
    }
  },
  {
    "blocking" : {
      "accountId" : "12x",
      "userLink" : "https://twitter.com/intent/user?user_id=12x"
    }
  },
  { "blocking" : { "accountId" : "42" } },
  { "following" : { "accountId" : "43" } }
]"#;

    #[test]
    fn block_js_entries_and_bad_entries_with_their_lines() {
        let parsed = parse("block.js", BLOCK_JS.as_bytes());
        assert_eq!(parsed.targets, vec![id(1234567890), id(42)]);
        let shown: Vec<String> = parsed.invalid.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            vec![
                "block.js:8: archive entry has no accountId",
                "block.js:13: accountId: user ID `12x` is not a number",
                "block.js:20: archive entry has neither a `blocking` nor a `muting` object",
            ]
        );
    }

    #[test]
    fn block_js_is_recognised_by_content_with_bom_any_part_and_mute_wrapper() {
        let text = "\u{FEFF}\n  window.YTD.mute.part3 = [ {\"muting\":{\"accountId\":\"9\"}} ];\n";
        assert_eq!(detect(text.as_bytes()), Format::BlockJs);
        assert_eq!(targets(text), vec![id(9)]);
        assert_eq!(targets("window.YTD.block.part0 = [ ]"), vec![]);
        assert_eq!(targets("window.YTD.block.part0 = []\n"), vec![]);
    }

    #[test]
    fn block_js_numeric_account_id_and_trailing_comma_are_tolerated() {
        assert_eq!(
            targets("window.YTD.block.part0 = [{\"blocking\":{\"accountId\":7}},\n]"),
            vec![id(7)]
        );
    }

    fn broken(bytes: &[u8]) -> Vec<String> {
        parse("in", bytes)
            .broken
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn block_js_syntax_error_costs_its_entry_only_and_names_where_it_is() {
        let text = "window.YTD.block.part0 = [\n  { \"blocking\" : { \"accountId\" : \"1\" } },\n  \
                    { \"blocking\" : { \"accountId\" : \"2\" }\n  { oops }\n]\n";
        let parsed = parse("block.js", text.as_bytes());
        // Entries before the damage are still usable; the damage is reported once, at the
        // line where the damaged entry starts.
        assert_eq!(parsed.targets, vec![id(1)]);
        assert!(parsed.broken.is_empty(), "{:?}", parsed.broken);
        assert_eq!(parsed.invalid.len(), 1, "{:?}", parsed.invalid);
        let shown = parsed.invalid[0].to_string();
        assert!(
            shown.starts_with("block.js:3: archive entry is not valid JSON: "),
            "{shown}"
        );
        assert!(shown.ends_with("(line 4, column 3)"), "{shown}");
    }

    /// An archive as the site writes it (pretty) or squeezed onto one line (minified), and
    /// the line each entry starts on.
    fn archive(entries: &[String], pretty: bool) -> (String, Vec<u64>) {
        let (open, separator, close) = if pretty {
            ("[\n", ",\n", "\n]\n")
        } else {
            ("[", ",", "]")
        };
        let mut text = format!("window.YTD.block.part0 = {open}");
        let mut starts = Vec::new();
        for (i, entry) in entries.iter().enumerate() {
            if i > 0 {
                text.push_str(separator);
            }
            starts.push(text.matches('\n').count() as u64 + 1);
            text.push_str(entry);
        }
        text.push_str(close);
        (text, starts)
    }

    fn entry(id: u64, pretty: bool) -> String {
        if pretty {
            format!(
                "  {{\n    \"blocking\" : {{\n      \"accountId\" : \"{id}\",\n      \"userLink\" : \
                 \"https://twitter.com/intent/user?user_id={id}\"\n    }}\n  }}"
            )
        } else {
            format!("{{\"blocking\":{{\"accountId\":\"{id}\"}}}}")
        }
    }

    /// Ways one entry gets damaged by hand edits, each confined to the entry.
    fn damaged(id: u64, how: usize, pretty: bool) -> String {
        let good = entry(id, pretty);
        let quoted = format!("\"{id}\"");
        match how {
            // A stray token inside.
            0 => good.replacen(&quoted, &format!("{quoted} x"), 1),
            // The closing brace lost.
            1 => good[..good.rfind('}').unwrap()].to_owned(),
            // A string left open.
            2 => good.replacen(&quoted, &format!("\"{id}"), 1),
            // A comma where a colon belongs.
            _ => good.replacen("\"accountId\"", "\"accountId\",", 1),
        }
    }

    #[test]
    fn block_js_a_damaged_entry_mid_file_costs_only_itself() {
        for pretty in [true, false] {
            for how in 0..4 {
                let entries = vec![
                    entry(1, pretty),
                    damaged(2, how, pretty),
                    entry(3, pretty),
                    damaged(4, how, pretty),
                    damaged(5, how, pretty),
                    entry(6, pretty),
                    damaged(7, how, pretty),
                ];
                let (text, starts) = archive(&entries, pretty);
                let parsed = parse("block.js", text.as_bytes());
                let case = format!("pretty {pretty}, damage {how}:\n{text}");
                assert!(parsed.broken.is_empty(), "{case}\n{:?}", parsed.broken);
                assert_eq!(parsed.targets, vec![id(1), id(3), id(6)], "{case}");
                let reported: Vec<u64> = parsed.invalid.iter().map(|i| i.line).collect();
                let damaged_starts = [starts[1], starts[3], starts[4], starts[6]];
                assert_eq!(reported, damaged_starts, "{case}\n{:?}", parsed.invalid);
                for bad in &parsed.invalid {
                    assert!(
                        bad.reason.starts_with("archive entry is not valid JSON: "),
                        "{bad}"
                    );
                }
            }
        }
    }

    #[test]
    fn block_js_extra_brace_or_missing_comma_loses_no_entry() {
        let parsed = parse(
            "in",
            b"window.YTD.block.part0 = [\n{\"blocking\":{\"accountId\":\"1\"}}},\n\
              {\"blocking\":{\"accountId\":\"2\"}}\n{\"muting\":{\"accountId\":\"3\"}}\n]",
        );
        assert_eq!(parsed.targets, vec![id(1), id(2), id(3)]);
        let shown: Vec<String> = parsed.invalid.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "in:2: archive file: expected `,` or `]` after an entry",
                "in:4: archive file: expected `,` or `]` after an entry",
            ]
        );
        assert!(parsed.broken.is_empty());
    }

    #[test]
    fn block_js_cut_short_anywhere_is_broken_never_a_shorter_list() {
        let ids = [11, 22, 33];
        for pretty in [true, false] {
            let entries: Vec<String> = ids.iter().map(|&i| entry(i, pretty)).collect();
            let (text, _) = archive(&entries, pretty);
            let close = text.rfind(']').unwrap();
            for cut in "window.YTD.".len()..=close {
                let parsed = parse("block.js", &text.as_bytes()[..cut]);
                let case = format!("pretty {pretty}, cut at {cut}: {:?}", &text[..cut]);
                assert_eq!(parsed.broken.len(), 1, "{case}\n{:?}", parsed.broken);
                assert!(parsed.invalid.is_empty(), "{case}\n{:?}", parsed.invalid);
                // What was read before the cut is a prefix of the entries, and nothing else.
                let read: Vec<Target> = ids
                    .iter()
                    .map(|&i| id(i))
                    .take(parsed.targets.len())
                    .collect();
                assert_eq!(parsed.targets, read, "{case}");
            }
            assert_eq!(parse("block.js", text.as_bytes()).targets.len(), 3);
        }
        assert_eq!(
            broken(b"window.YTD.block.part0 = [\n{\"blocking\":{\"accountId\":\"1\"}},\n{\"bloc"),
            ["in:3: archive entry is cut short: the file ends inside it"]
        );
        assert_eq!(
            broken(b"window.YTD.block.part0 = [\n{\"blocking\":{\"accountId\":\"1\"}},\n"),
            ["in:3: archive file: the JSON array is not closed (the file may be cut short)"]
        );
    }

    #[test]
    fn a_broken_input_is_an_error_of_read_naming_the_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("list.txt");
        let cut = dir.path().join("block.js");
        std::fs::write(&good, "1\n").unwrap();
        std::fs::write(
            &cut,
            "window.YTD.block.part0 = [\n{\"blocking\":{\"accountId\":\"1\"}},\n{\"blocking\":{",
        )
        .unwrap();
        let err = read(&[good.clone(), cut.clone()]).unwrap_err();
        let InputError::Broken { damage } = &err else {
            panic!("wrong error: {err:?}");
        };
        assert_eq!(damage.source, cut.display().to_string());
        assert_eq!(damage.line, 3);
        let shown = err.to_string();
        assert!(shown.contains(&format!("{}:3: ", cut.display())), "{shown}");
        assert!(shown.contains("--skip-invalid does not apply"), "{shown}");
        assert!(read(&[good]).is_ok());
    }

    #[test]
    fn block_js_structural_errors() {
        assert_eq!(
            broken(b"window.YTD.block.part0\n"),
            vec!["in:1: archive file has no `=` after `window.YTD.…`"]
        );
        assert_eq!(
            broken(b"window.YTD.block.part0 =\n{}"),
            vec!["in:2: archive file: expected a JSON array `[` after `=`"]
        );
        assert_eq!(
            broken(b"window.YTD.block.part0 = [\n{\"blocking\":{\"accountId\":\"1\"}}\n"),
            vec!["in:3: archive file: the JSON array is not closed (the file may be cut short)"]
        );
        assert_eq!(
            broken(b"window.YTD.block.part0 = []\nalert(1)\n"),
            vec!["in:2: archive file: unexpected text after the JSON array"]
        );
        let parsed = parse("in", b"window.YTD.block.part0 = [{\"blocking\":{}} {}]");
        assert!(parsed.broken.is_empty());
        assert_eq!(
            parsed
                .invalid
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            vec![
                "in:1: archive entry has no accountId",
                "in:1: archive file: expected `,` or `]` after an entry",
            ]
        );
    }

    // --- detection and I/O -----------------------------------------------------------------

    #[test]
    fn detection_follows_content() {
        assert_eq!(detect(b"window.YTD.block.part0 = []"), Format::BlockJs);
        assert_eq!(detect(b"# c\n\nuser_id\n1\n"), Format::Csv);
        assert_eq!(detect(b"\xEF\xBB\xBFfoo, Screen_Name ,bar\n"), Format::Csv);
        assert_eq!(detect(b"123\nuser_id\n"), Format::List);
        assert_eq!(detect(b"user_ids\n"), Format::List);
        assert_eq!(detect(b"1,2\n"), Format::List);
        assert_eq!(detect(b"// window.YTD.block\n"), Format::List);
        assert_eq!(detect(b""), Format::List);
    }

    #[test]
    fn read_concatenates_files_in_order_and_names_them_in_errors() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.txt");
        let b = dir.path().join("b.csv");
        std::fs::write(&a, "1\nbad-name\n").unwrap();
        std::fs::write(&b, "handle\n@z\n").unwrap();
        let parsed = read(&[b.clone(), a.clone()]).unwrap();
        assert_eq!(parsed.targets, vec![name("z"), id(1)]);
        assert_eq!(parsed.invalid.len(), 1);
        assert_eq!(parsed.invalid[0].source, a.display().to_string());
        assert_eq!(parsed.invalid[0].line, 2);
        assert_eq!(parsed.notices.len(), 1);
        assert_eq!(parsed.notices[0].source, b.display().to_string());
        assert_eq!(parsed.notices[0].line, 1);
    }

    #[test]
    fn missing_files_and_directories_are_errors_naming_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.txt");
        for path in [missing.clone(), dir.path().to_owned()] {
            let err = read(std::slice::from_ref(&path)).unwrap_err();
            let InputError::Read {
                path: named,
                source,
            } = &err
            else {
                panic!("wrong error: {err:?}");
            };
            assert_eq!(named, &path);
            assert!(err.to_string().contains(&path.display().to_string()));
            assert!(std::error::Error::source(&err).is_some());
            if path == missing {
                assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
            } else {
                assert_eq!(source.kind(), std::io::ErrorKind::IsADirectory);
            }
        }
    }

    #[test]
    fn a_large_list_parses_quickly_into_exactly_its_targets() {
        let mut text = String::new();
        for i in 1..=200_000u64 {
            if i % 2 == 0 {
                text.push_str(&format!("{i}\n"));
            } else {
                text.push_str(&format!("@n{i}\n"));
            }
        }
        let started = std::time::Instant::now();
        let parsed = parse("big", text.as_bytes());
        let elapsed = started.elapsed();
        assert_eq!(parsed.targets.len(), 200_000);
        assert!(parsed.invalid.is_empty());
        assert_eq!(parsed.targets[1], id(2));
        assert_eq!(parsed.targets[199_998], name("n199999"));
        // Generous even for an unoptimised build on a busy machine; release is far faster.
        assert!(elapsed.as_secs() < 5, "took {elapsed:?}");
    }

    // --- properties ------------------------------------------------------------------------

    mod properties {
        use super::*;
        use crate::executor::Finished;
        use crate::journal::{Entry, Header, Journal};
        use crate::network::UserRef;
        use crate::outcome::{Action, Outcome};

        /// A target as the generators spell it.
        #[derive(Clone, Debug)]
        enum Model {
            Id(u64),
            ScreenName(String),
        }

        impl Model {
            fn target(&self) -> Target {
                match self {
                    Model::Id(n) => id(*n),
                    Model::ScreenName(s) => name(s),
                }
            }
        }
        use proptest::prelude::*;

        fn line_count(bytes: &[u8]) -> u64 {
            bytes.iter().filter(|&&b| b == b'\n').count() as u64 + 1
        }

        fn arb_target() -> impl Strategy<Value = Model> {
            prop_oneof![
                (1..=u64::MAX).prop_map(Model::Id),
                "[A-Za-z0-9_]{1,15}".prop_map(Model::ScreenName),
            ]
        }

        /// Randomly changes the ASCII case of `s`.
        fn recase(s: &str, mask: u64) -> String {
            s.chars()
                .enumerate()
                .map(|(i, c)| {
                    if mask >> (i % 64) & 1 == 1 {
                        c.to_ascii_uppercase()
                    } else {
                        c.to_ascii_lowercase()
                    }
                })
                .collect()
        }

        fn is_reserved(name: &str) -> bool {
            RESERVED_PATHS.iter().any(|r| name.eq_ignore_ascii_case(r))
        }

        fn looks_like_column(name: &str) -> bool {
            input::detect(name.as_bytes(), &IDENTITIES) == input::Format::Csv
        }

        /// One way of writing `target` on a list line.
        fn render(target: &Model, style: u8, mask: u64) -> String {
            let scheme = ["https://", "http://", "", "HTTPS://"][(mask % 4) as usize];
            let sub = ["", "www.", "mobile."][(mask / 4 % 3) as usize];
            let host = recase(["x.com", "twitter.com"][(mask / 12 % 2) as usize], mask);
            let tail = ["", "/", "?s=20", "/?s=1&t=2#x", "#frag"][(mask / 24 % 5) as usize];
            let prefix = format!("{scheme}{sub}{host}");
            match target {
                Model::Id(n) => match style % 3 {
                    0 => n.to_string(),
                    1 => format!("{prefix}/intent/user?user_id={n}"),
                    _ => format!("{prefix}/i/user/{n}"),
                },
                Model::ScreenName(s) => {
                    let all_digits = s.bytes().all(|b| b.is_ascii_digit());
                    match style % 4 {
                        0 if !all_digits && !looks_like_column(s) => s.clone(),
                        1 if !is_reserved(s) => format!("{prefix}/{s}{tail}"),
                        2 => format!("{prefix}/intent/user?screen_name={s}"),
                        _ => format!("@{s}"),
                    }
                }
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            #[test]
            fn arbitrary_bytes_never_panic_and_lines_are_in_range(
                prefix in 0..3usize,
                body in proptest::collection::vec(any::<u8>(), 0..400),
            ) {
                let mut bytes = [&b""[..], b"window.YTD.block.part0 = [", b"user_id,handle\n"][prefix]
                    .to_vec();
                bytes.extend_from_slice(&body);
                let parsed = parse("p", &bytes);
                let lines = line_count(&bytes);
                for bad in parsed.invalid.iter().chain(&parsed.broken) {
                    prop_assert!(bad.line >= 1 && bad.line <= lines, "{bad} of {lines}");
                }
                for notice in &parsed.notices {
                    prop_assert!(notice.line >= 1 && notice.line <= lines, "{notice} of {lines}");
                }
                prop_assert!(parsed.broken.len() <= 1);
            }

            #[test]
            fn arbitrary_text_lines_never_panic_and_lines_are_in_range(
                prefix in 0..3usize,
                body in "[a-z0-9@#,\"{}\\[\\]:/ .\r\n\t=-]{0,300}",
            ) {
                let head = ["", "window.YTD.block.part0 = [{\"blocking\":", "screen_name,id\n"];
                let bytes = format!("{}{body}", head[prefix]).into_bytes();
                let parsed = parse("p", &bytes);
                let lines = line_count(&bytes);
                for bad in parsed.invalid.iter().chain(&parsed.broken) {
                    prop_assert!(bad.line >= 1 && bad.line <= lines, "{bad} of {lines}");
                }
                for notice in &parsed.notices {
                    prop_assert!(notice.line >= 1 && notice.line <= lines, "{notice} of {lines}");
                }
                prop_assert!(parsed.broken.len() <= 1);
            }

            #[test]
            fn damaged_archive_entries_cost_only_themselves(
                rows in proptest::collection::vec((1..=u64::MAX, prop::option::of(0..4usize)), 0..12),
                pretty in any::<bool>(),
                trailing_comma in any::<bool>(),
            ) {
                let entries: Vec<String> = rows
                    .iter()
                    .map(|&(n, damage)| match damage {
                        Some(how) => damaged(n, how, pretty),
                        None => entry(n, pretty),
                    })
                    .collect();
                let (mut text, starts) = archive(&entries, pretty);
                if trailing_comma && !entries.is_empty() {
                    let close = text.rfind(']').unwrap();
                    text.insert(close, ',');
                }
                let parsed = parse("block.js", text.as_bytes());
                prop_assert!(parsed.broken.is_empty(), "{:?}\n{}", parsed.broken, text);
                let good: Vec<Target> = rows
                    .iter()
                    .filter(|(_, damage)| damage.is_none())
                    .map(|&(n, _)| id(n))
                    .collect();
                prop_assert_eq!(&parsed.targets, &good, "{}", text);
                let bad: Vec<u64> = rows
                    .iter()
                    .zip(&starts)
                    .filter(|((_, damage), _)| damage.is_some())
                    .map(|(_, &line)| line)
                    .collect();
                let reported: Vec<u64> = parsed.invalid.iter().map(|i| i.line).collect();
                prop_assert_eq!(reported, bad, "{:?}\n{}", parsed.invalid, text);
            }

            #[test]
            fn every_accepted_target_round_trips_through_the_journal(
                rows in proptest::collection::vec(
                    (arb_target(), any::<u8>(), any::<u64>(), 0..3usize),
                    1..20,
                ),
                outcome in prop::sample::select(
                    Outcome::ALL.iter().copied().filter(|o| o.is_terminal()).collect::<Vec<_>>(),
                ),
            ) {
                // Accepted input in its many spellings: IDs with leading zeros, `@name`, bare
                // names and profile links, screen names in any case.
                let mut text = String::new();
                for (target, style, mask, zeros) in &rows {
                    let token = match target {
                        Model::Id(n) if style % 3 == 0 => format!("{}{n}", "0".repeat(*zeros)),
                        _ => render(target, *style, *mask),
                    };
                    text.push_str(&token);
                    text.push('\n');
                }
                let parsed = parse("p", text.as_bytes());
                prop_assert!(parsed.invalid.is_empty(), "{:?}", parsed.invalid);
                let expected: Vec<Target> = rows.iter().map(|r| r.0.target()).collect();
                prop_assert_eq!(&parsed.targets, &expected);

                // Each accepted target recorded as a run records it, through the writer.
                let dir = tempfile::tempdir().unwrap();
                let path = dir.path().join("journal.jsonl");
                let (mut journal, _) = Journal::open(&path).unwrap();
                journal
                    .write_header(&Header {
                        journal: crate::journal::FORMAT_NAME.into(),
                        version: crate::journal::FORMAT_VERSION,
                        network: crate::network::NetworkId::X,
                        account_id: "1".into(),
                        account_screen_name: None,
                        action: Action::Unblock,
                        created_at: "2026-01-01T00:00:00Z".into(),
                    })
                    .unwrap();
                for target in &parsed.targets {
                    journal
                        .append(&crate::writer::record(&Finished {
                            target: target.clone(),
                            outcome,
                            user: UserRef::default(),
                            http_status: Some(200),
                            error_code: None,
                            message: None,
                            attempts: 1,
                            at: std::time::UNIX_EPOCH,
                        }))
                        .unwrap();
                }
                journal.sync().unwrap();
                drop(journal);

                let replay = crate::journal::read(&path).unwrap();
                prop_assert_eq!(replay.records, parsed.targets.len() as u64);
                prop_assert_eq!(replay.skipped_total, 0);
                let bytes = std::fs::read(&path).unwrap();
                let written: Vec<(String, String)> = crate::journal::records(&bytes)
                    .filter_map(|(_, entry)| match entry {
                        Ok(Entry::Record { record, .. }) => Some((record.target, record.by)),
                        _ => None,
                    })
                    .collect();
                for ((model, ..), (spelled, by)) in rows.iter().zip(&written) {
                    prop_assert!(replay.is_done(&model.target()), "{model:?}");
                    match model {
                        // The normalised ID: no leading zeros.
                        Model::Id(n) => {
                            prop_assert_eq!(spelled, &n.to_string());
                            prop_assert_eq!(by, "user_id");
                        }
                        // The name without `@`, in the case it was written; done in any case.
                        Model::ScreenName(written_name) => {
                            prop_assert_eq!(spelled, written_name);
                            prop_assert_eq!(by, "screen_name");
                            let twin: String = written_name
                                .chars()
                                .map(|c| if c.is_ascii_uppercase() {
                                    c.to_ascii_lowercase()
                                } else {
                                    c.to_ascii_uppercase()
                                })
                                .collect();
                            prop_assert!(replay.is_done(&name(&twin)), "{written_name}");
                        }
                    }
                }
                prop_assert_eq!(written.len(), parsed.targets.len());
            }

            #[test]
            fn a_generated_list_parses_back_to_its_targets(
                rows in proptest::collection::vec(
                    (arb_target(), any::<u8>(), any::<u64>(), 0..8u8, 0..9u8),
                    0..40,
                ),
                crlf in any::<bool>(),
                bom in any::<bool>(),
            ) {
                let eol = if crlf { "\r\n" } else { "\n" };
                let mut text = String::from(if bom { "\u{FEFF}" } else { "" });
                let mut bad_lines = Vec::new();
                for (target, style, mask, decoration, filler) in &rows {
                    match filler % 3 {
                        1 => text.push_str(&format!("   {eol}")),
                        2 => text.push_str(&format!("# a comment, with commas{eol}")),
                        _ => {}
                    }
                    if filler / 3 == 1 {
                        bad_lines.push(line_count(text.as_bytes()));
                        text.push_str(&format!("not-a-name{eol}"));
                    }
                    let token = render(target, *style, *mask);
                    let line = match decoration {
                        1 => format!("  {token}\t"),
                        2 => format!("{token} # why"),
                        3 => format!("\"{token}\","),
                        4 => format!("{token},"),
                        5 => format!("\"{token}\" # quoted"),
                        _ => token,
                    };
                    text.push_str(&line);
                    text.push_str(eol);
                }
                let parsed = parse("p", text.as_bytes());
                prop_assert_eq!(detect(text.as_bytes()), Format::List);
                let reported: Vec<u64> = parsed.invalid.iter().map(|i| i.line).collect();
                prop_assert_eq!(reported, bad_lines, "{:?}\n{}", parsed.invalid, text);
                let expected: Vec<Target> = rows.iter().map(|r| r.0.target()).collect();
                prop_assert_eq!(parsed.targets, expected);
            }

            #[test]
            fn a_generated_csv_parses_back_to_its_targets(
                id_header in prop::sample::select(&["user_id", "id", "account_id", "accountId"][..]),
                name_header in prop::sample::select(&["screen_name", "username", "handle"][..]),
                header_case in any::<u64>(),
                extra_columns in 0..3usize,
                order_seed in any::<u64>(),
                rows in proptest::collection::vec(
                    (arb_target(), any::<bool>(), any::<bool>(), "[a-z#,\" \n]{0,8}", 0..9u8),
                    1..30,
                ),
                always_quote in any::<bool>(),
                crlf in any::<bool>(),
            ) {
                // Column roles, shuffled by the seed.
                let mut roles: Vec<usize> = (0..2 + extra_columns).collect();
                let mut seed = order_seed;
                for i in (1..roles.len()).rev() {
                    let j = (seed % (i as u64 + 1)) as usize;
                    roles.swap(i, j);
                    seed /= i as u64 + 1;
                }
                let eol = if crlf { "\r\n" } else { "\n" };
                // One writer per row, so blank, comment and bad lines can go in between.
                let write = |bytes: &mut Vec<u8>, record: &[&str]| {
                    let mut writer = csv::WriterBuilder::new()
                        .flexible(true)
                        .comment(Some(b'#'))
                        .quote_style(if always_quote {
                            csv::QuoteStyle::Always
                        } else {
                            csv::QuoteStyle::Necessary
                        })
                        .terminator(if crlf {
                            csv::Terminator::CRLF
                        } else {
                            csv::Terminator::Any(b'\n')
                        })
                        .from_writer(Vec::new());
                    writer.write_record(record).unwrap();
                    bytes.extend(writer.into_inner().unwrap());
                };
                let mut bytes = Vec::new();
                if header_case % 3 == 0 {
                    bytes.extend(format!("# exported{eol}{eol}").as_bytes());
                }
                let header: Vec<String> = roles
                    .iter()
                    .map(|&role| match role {
                        0 => recase(id_header, header_case),
                        1 => format!(" {} ", recase(name_header, header_case >> 20)),
                        n => format!("extra{n}"),
                    })
                    .collect();
                let header: Vec<&str> = header.iter().map(String::as_str).collect();
                write(&mut bytes, &header);
                let mut bad_lines = Vec::new();
                for (target, with_at, fill_both, extra, filler) in &rows {
                    match filler % 3 {
                        1 => bytes.extend(eol.as_bytes()),
                        2 => bytes.extend(format!("# note, \"quoted{eol}").as_bytes()),
                        _ => {}
                    }
                    if filler / 3 == 1 {
                        bad_lines.push(line_count(&bytes));
                        let record: Vec<&str> = roles
                            .iter()
                            .map(|&role| if role == 0 { "abc" } else { "x" })
                            .collect();
                        write(&mut bytes, &record);
                    }
                    let (id_cell, name_cell) = match target {
                        Model::Id(n) => {
                            let decoy = if *fill_both { "decoy" } else { "" };
                            (n.to_string(), decoy.to_owned())
                        }
                        Model::ScreenName(s) => {
                            (String::new(), if *with_at { format!("@{s}") } else { s.clone() })
                        }
                    };
                    let record: Vec<&str> = roles
                        .iter()
                        .map(|&role| match role {
                            0 => id_cell.as_str(),
                            1 => name_cell.as_str(),
                            _ => extra.as_str(),
                        })
                        .collect();
                    write(&mut bytes, &record);
                }
                prop_assert_eq!(detect(&bytes), Format::Csv);
                let parsed = parse("p", &bytes);
                let reported: Vec<u64> = parsed.invalid.iter().map(|i| i.line).collect();
                prop_assert_eq!(
                    reported,
                    bad_lines,
                    "{:?}\n{}",
                    parsed.invalid,
                    String::from_utf8_lossy(&bytes)
                );
                let expected: Vec<Target> = rows.iter().map(|r| r.0.target()).collect();
                prop_assert_eq!(parsed.targets, expected);
            }
        }
    }
}
