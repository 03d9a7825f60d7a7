//! Secrets never appear: not in stdout, stderr or the journal, at the most verbose logging,
//! whatever goes wrong — and a credentials file that others can read is flagged.

mod common;

use std::process::Output;

use common::{Harness, sample, show};

/// The values that must never be printed.
fn secrets(h: &Harness) -> Vec<String> {
    vec![
        h.app.consumer_secret.clone(),
        h.account.access_token.clone(),
        h.account.access_token_secret.clone(),
    ]
}

/// Fails when any secret (or a long piece of one, or its percent-encoded form) shows in `text`.
fn assert_clean(text: &str, secrets: &[String], what: &str) {
    for secret in secrets {
        let encoded: String =
            percent_encoding::utf8_percent_encode(secret, percent_encoding::NON_ALPHANUMERIC)
                .to_string();
        // Access tokens start with the account's (public) user ID: look at what follows it.
        let private = secret
            .split_once('-')
            .map_or(secret.as_str(), |(_, rest)| rest);
        let head: String = private.chars().take(12).collect();
        for needle in [secret.as_str(), encoded.as_str(), head.as_str()] {
            assert!(
                !text.contains(needle),
                "{what} shows a secret (or part of one): `{needle}`\n{text}"
            );
        }
    }
}

fn assert_output_clean(out: &Output, secrets: &[String], what: &str) {
    assert_clean(
        &String::from_utf8_lossy(&out.stdout),
        secrets,
        &format!("{what}: stdout"),
    );
    assert_clean(
        &String::from_utf8_lossy(&out.stderr),
        secrets,
        &format!("{what}: stderr"),
    );
}

fn traced(h: &Harness) -> std::process::Command {
    let mut cmd = h.command();
    cmd.env("RUST_LOG", "trace");
    cmd
}

#[test]
fn the_most_verbose_run_through_faults_and_a_revocation_prints_no_secret() {
    let h = Harness::with_config(|c| {
        c.limits.enabled = false;
        c.faults.over_capacity_rate = 0.2;
        c.faults.internal_error_rate = 0.1;
        c.faults.revoke_after = Some(60);
    });
    let secrets = secrets(&h);
    let log = h.path("j.jsonl");
    let block_js = sample("block.js");
    let out = h.run_with(
        traced(&h),
        &[
            block_js.to_str().unwrap(),
            "--log",
            log.to_str().unwrap(),
            "--rate",
            "1000/s",
            "-vv",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(3),
        "revoked mid-run: {}",
        show(&out)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).len() > 2_000,
        "trace logging produced output to check: {}",
        show(&out)
    );
    assert_output_clean(&out, &secrets, "a traced run");
    let journal = std::fs::read_to_string(&log).unwrap();
    assert!(journal.lines().count() > 10, "the journal has records");
    assert_clean(&journal, &secrets, "the journal");
}

#[test]
fn rejected_credentials_and_failed_checks_print_no_secret() {
    let h = Harness::new();
    let secrets = secrets(&h);
    let list = h.write("list.txt", "12\n@jack\n");
    let log = h.path("j.jsonl");
    let log = log.to_str().unwrap();
    // A wrong token secret: refused at the credentials check.
    let mut wrong = traced(&h);
    wrong.env(
        "TWITTER_ACCESS_TOKEN_SECRET",
        format!("{}x", h.account.access_token_secret),
    );
    let out = h.run_with(wrong, &[list.to_str().unwrap(), "--log", log, "-vv"]);
    assert_eq!(out.status.code(), Some(3), "{}", show(&out));
    assert_output_clean(&out, &secrets, "a rejected run");
    // A revoked token, through export and the dry-run check.
    h.emulator.revoke_token(&h.account.access_token);
    let mut export = traced(&h);
    export.args([
        "export",
        "--out",
        "x.csv",
        "--api-base",
        &h.base_url(),
        "-vv",
    ]);
    let out = export.output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", show(&out));
    assert_output_clean(&out, &secrets, "a rejected export");
    let out = h.run_with(
        traced(&h),
        &[
            list.to_str().unwrap(),
            "--log",
            log,
            "--dry-run",
            "--check",
            "-vv",
        ],
    );
    assert_eq!(out.status.code(), Some(3), "{}", show(&out));
    assert_output_clean(&out, &secrets, "a rejected check");
    // An unreachable server.
    let mut down = traced(&h);
    down.args([
        "run",
        list.to_str().unwrap(),
        "--log",
        log,
        "--api-base",
        "http://127.0.0.1:9",
        "--max-attempts",
        "2",
        "-vv",
    ]);
    let out = down.output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert_output_clean(&out, &secrets, "an unreachable server");
}

#[test]
fn a_credentials_file_works_and_is_flagged_when_others_can_read_it() {
    use std::os::unix::fs::PermissionsExt;
    let h = Harness::new();
    let secrets = secrets(&h);
    let file = h.write(
        "credentials.toml",
        format!(
            "consumer_key = \"{}\"\nconsumer_secret = \"{}\"\naccess_token = \"{}\"\naccess_token_secret = \"{}\"\n",
            h.app.consumer_key,
            h.app.consumer_secret,
            h.account.access_token,
            h.account.access_token_secret
        ),
    );
    let list = h.write("list.txt", "12\n");
    let log = h.path("j.jsonl");
    let cmd = h.command_without_credentials();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let args = [
        list.to_str().unwrap(),
        "--log",
        log.to_str().unwrap(),
        "--credentials",
        file.to_str().unwrap(),
        "--rate",
        "1000/s",
    ];
    let out = h.run_with(cmd, &args);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("readable by group or others") && stderr.contains("chmod 600"),
        "{stderr}"
    );
    assert_output_clean(&out, &secrets, "a run with a credentials file");
    assert_eq!(h.requests_to("/1.1/blocks/destroy.json").len(), 1);

    // Private file: no warning.
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let list = h.write("list2.txt", "3554\n");
    let mut cmd = h.command();
    cmd.env_remove("TWITTER_CONSUMER_SECRET");
    let mut args = args;
    args[0] = list.to_str().unwrap();
    let out = h.run_with(cmd, &args);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("readable by group"),
        "{}",
        show(&out)
    );
}
