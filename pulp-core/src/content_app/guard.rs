//! Content guards as the content app evaluates them (declared in [`crate::content_guard`]).

pub use crate::content_guard::{ContentGuardCheck, GuardCheck, GuardDenied};
