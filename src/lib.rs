//! Saring: an event-sourced comment moderation and spam-captcha service for news sites.
//!
//! Read `domain/` to learn the product, `store/` for how facts are kept, `policy/` for how spam is
//! recognised, `projections/` for what readers and moderators see, and `http/` for the API.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod app;
pub mod auth;
pub mod background;
pub mod captcha;
pub mod clientip;
pub mod config;
pub mod console;
pub mod domain;
pub mod http;
pub mod i18n;
pub mod known_reader;
pub mod limits;
pub mod migrate;
pub mod policy;
pub mod pow;
pub mod privacy;
pub mod projections;
pub mod serve;
pub mod service;
pub mod store;
