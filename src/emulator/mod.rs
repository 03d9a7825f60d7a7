//! The API emulator (in progress).
