#!/usr/bin/env python3
"""Mastodon.py against `bulk-unblock emulator --network mastodon`.

A client written by others, for the real Mastodon, must run clean against the emulator: if it
does not, the emulator has drifted from the server it models. This script starts the emulator
binary itself (twice: once with the real limits, once with a tiny per-token limit), drives
Mastodon.py through everything a bulk unblocker does, and checks both what the library returned
and what the emulator holds (through its unauthenticated admin routes).

Usage: conformance.py [--binary PATH]  (default: $BULK_UNBLOCK, else target/debug/bulk-unblock)
It needs Mastodon.py (`pip install Mastodon.py`); run.sh next to it sets up a throwaway
virtualenv. Exit status 0 when every check passes.
"""

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request
from importlib.metadata import version
from pathlib import Path

from mastodon import (
    Mastodon,
    MastodonAPIError,
    MastodonNotFoundError,
    MastodonRatelimitError,
    MastodonUnauthorizedError,
)

ROOT = Path(__file__).resolve().parents[3]
SEED = json.loads((ROOT / "sample-data" / "mastodon-seed.json").read_text())
CHECKS = 0


def check(condition, what):
    """Counts a check; stops the script with `what` when it fails."""
    global CHECKS
    if not condition:
        raise AssertionError(what)
    CHECKS += 1


def seed_token(name):
    return next(t for t in SEED["tokens"] if t["name"] == name)


class Emulator:
    """One `bulk-unblock emulator --network mastodon` process and its start-up lines."""

    def __init__(self, binary, *flags):
        self.proc = subprocess.Popen(
            [binary, "emulator", "--network", "mastodon", "--port", "0", *flags],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        first = self.proc.stdout.readline().strip()
        check(first.startswith("listening on http://127.0.0.1:"), f"first line: {first!r}")
        self.base = first.removeprefix("listening on ")
        self.accounts = {}
        for _ in range(2):
            # account ACCT id ID token TOKEN
            words = self.proc.stdout.readline().split()
            check(words[0::2] == ["account", "id", "token"], f"account line: {words}")
            self.accounts[words[1]] = {"id": words[3], "token": words[5]}

    def admin(self, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.base + path, data=data, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())

    def client(self, token, **kwargs):
        return Mastodon(access_token=token, api_base_url=self.base, **kwargs)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()


def bulk_unblock_run(emu):
    owner = emu.accounts["demo_owner"]
    m = emu.client(owner["token"])

    me = m.account_verify_credentials()
    check(str(me.id) == owner["id"], f"verify_credentials id {me.id}")
    check(me.acct == "demo_owner" and me.username == "demo_owner", f"acct {me.acct}")

    # The whole blocks list through Link headers: 200 blocks, 8 of them suspended accounts.
    first = m.blocks(limit=80)
    check(len(first) == 80, f"first page {len(first)}")
    second = m.fetch_next(first)
    check(second is not None and len(second) == 80, "second page")
    everything = m.fetch_remaining(first)
    ids = [str(a.id) for a in everything]
    check(len(ids) == 192 and len(set(ids)) == 192, f"{len(ids)} blocks listed")
    check(not any(getattr(a, "suspended", False) for a in everything), "suspended listed")
    check(m.fetch_next(m.blocks(limit=80, max_id=4002)) is None, "a short page has no next")

    # Lookup: a listed remote account by its full address, a local one by its username.
    remote = next(a for a in everything if "@" in a.acct)
    found = m.account_lookup("@" + remote.acct)
    check(str(found.id) == str(remote.id), "lookup of a remote account")
    local = next(a for a in everything if "@" not in a.acct)
    check(str(m.account_lookup(local.acct + "@mastodon.test").id) == str(local.id), "local lookup")
    check(m.account(remote.id).acct == remote.acct, "an account by ID")
    try:
        m.account_lookup("ghost@nowhere.example")
        check(False, "an unknown account was found")
    except MastodonNotFoundError as e:
        check("Record not found" in str(e), f"not found: {e}")

    # Unblock and undo; unblocking twice is no error.
    rel = m.account_unblock(remote.id)
    check(rel.blocking is False and str(rel.id) == str(remote.id), f"unblock: {rel}")
    check(m.account_unblock(remote.id).blocking is False, "second unblock")
    state = emu.admin("/admin/state")
    check(str(remote.id) not in state["users"][0]["blocked"], "the emulator dropped the block")
    rel = m.account_block(remote.id)
    check(rel.blocking is True, "block again")
    check(str(m.blocks(limit=1)[0].id) == str(remote.id), "the new block is listed first")

    # A suspended account is hidden from the list but unblockable by ID.
    suspended = next(
        a["id"]
        for a in SEED["accounts"]
        if a.get("suspended") and a["id"] in SEED["users"][0]["blocks"]
    )
    check(m.account_unblock(suspended).blocking is False, "unblock a suspended account")

    # Domain blocks.
    domains = m.domain_blocks()
    check(list(domains) == SEED["users"][0]["domain_blocks"][::-1], f"domains {domains}")
    m.domain_unblock("spam.example")
    check("spam.example" not in m.domain_blocks(), "domain unblocked")
    m.domain_block("spam.example")
    check(m.domain_blocks()[0] == "spam.example", "domain blocked again")

    # The bulk-unblock scopes lack read:follows: relationships is a scope refusal, not a fault.
    # (Mastodon.py casts that error body to the list type it expected and loses the message,
    # so the message is checked in the emulator's log.)
    try:
        m.account_relationships(remote.id)
        check(False, "relationships passed without read:follows")
    except MastodonAPIError as e:
        check(e.args[1] == 403, f"403: {e}")
    refusal = emu.admin("/admin/requests")[-1]
    check(
        refusal["error_code"] == "This action is outside the authorized scopes",
        f"403 body: {refusal}",
    )
    full = emu.client(seed_token("demo-full")["token"])
    rels = full.account_relationships([remote.id, emu.accounts["other_owner"]["id"]])
    check(rels[0].blocking is True and rels[1].blocked_by is True, f"relationships {rels}")

    # A read-only token reads but cannot write.
    ro = emu.client(seed_token("demo-read-only")["token"])
    check(len(ro.blocks()) == 40, "default page of 40")
    try:
        ro.account_unblock(remote.id)
        check(False, "a read-only token unblocked")
    except MastodonAPIError as e:
        check(e.args[1] == 403, f"read-only write: {e}")

    # The version check asks the instance endpoints.
    versioned = emu.client(owner["token"], version_check_mode="created")
    check(versioned.retrieve_mastodon_version() == "4.3.2", "instance version")
    check(getattr(versioned, "mastodon_api_version", None) == 2, "api version")

    # Revoked mid-run.
    emu.admin("/admin/revoke", {"token": owner["token"]})
    try:
        m.account_verify_credentials()
        check(False, "a revoked token worked")
    except MastodonUnauthorizedError as e:
        check("The access token was revoked" in str(e), f"revoked: {e}")

    log = emu.admin("/admin/requests")
    check(all(r["status"] != 0 for r in log), "every request answered")
    check(any("max_id" in r["params"] for r in log), "the client paged with max_id")


def rate_limits(binary):
    # Three requests per token and hour: the fourth is refused.
    emu = Emulator(binary, "--token-limit", "3", "--token-period", "1h")
    try:
        token = emu.accounts["demo_owner"]["token"]
        m = emu.client(token, ratelimit_method="throw")
        for _ in range(3):
            m.account_verify_credentials()
        check(m.ratelimit_limit == 3 and m.ratelimit_remaining == 0, "headers parsed")
        now = time.time()
        check(now < m.ratelimit_reset <= now + 3600 + 2, f"reset {m.ratelimit_reset - now:.1f}s away")
        try:
            m.blocks()
            check(False, "the fourth request passed")
        except MastodonRatelimitError:
            check(True, "429 raises MastodonRatelimitError")
    finally:
        emu.stop()
    # Two per two seconds, waited out: Mastodon.py sleeps until the ISO 8601 reset.
    emu = Emulator(binary, "--token-limit", "2", "--token-period", "2s")
    try:
        m = emu.client(emu.accounts["demo_owner"]["token"], ratelimit_method="wait")
        started = time.time()
        for _ in range(5):
            m.account_verify_credentials()
        check(time.time() - started < 10, "waited for resets, not for ever")
        log = emu.admin("/admin/requests")
        statuses = [r["status"] for r in log]
        check(statuses.count(200) == 5, f"statuses {statuses}")
    finally:
        emu.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--binary",
        default=os.environ.get("BULK_UNBLOCK", str(ROOT / "target" / "debug" / "bulk-unblock")),
    )
    binary = parser.parse_args().binary
    emu = Emulator(binary)
    try:
        bulk_unblock_run(emu)
    finally:
        emu.stop()
    rate_limits(binary)
    print(f"Mastodon.py {version('Mastodon.py')} conformance: {CHECKS} checks passed")


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        print(f"Mastodon.py conformance FAILED: {e}", file=sys.stderr)
        sys.exit(1)
