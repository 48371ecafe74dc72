//! The user-space helper of the ASM LLM gateway: the module hands it the
//! agents' requests over generic netlink ([`genl`]), it routes each over
//! the configured providers ([`route`], [`config`]) in their wire formats
//! ([`providers`]) and sends the answer back ([`client`]).

pub mod client;
pub mod config;
pub mod genl;
pub mod providers;
pub mod route;
