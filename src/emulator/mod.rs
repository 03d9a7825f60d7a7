//! Emulators of the social networks' APIs, served over real HTTP on loopback.

pub mod args;
pub mod limits;
pub mod x;
