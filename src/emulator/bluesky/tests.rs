//! End-to-end tests of the Bluesky emulator over real HTTP on loopback: a plain reqwest client
//! speaks XRPC to the entryway and the PDS, and each test asserts on the answers and on what
//! the emulator holds and received.

use super::*;

#[test]
fn the_builtin_seed_is_valid() {
    let seed = Seed::builtin();
    assert_eq!(seed.check(), Ok(()));
    assert!(seed.users.len() > 300, "a few hundred users");
    assert_eq!(seed.accounts.len(), 2);
    assert!(Emulator::new(seed, Config::default()).is_ok());
}
