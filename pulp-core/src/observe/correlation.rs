//! Correlation ids (Pulp's `Correlation-ID`): one per request, carried by the tasks the
//! request dispatches.

use std::future::Future;

/// The header clients send (pulp-cli's `--cid`) and responses carry.
pub const CORRELATION_ID_HEADER: &str = "correlation-id";

/// Longest id accepted from a client; a longer one is replaced by a generated id.
const MAX_LEN: usize = 128;

tokio::task_local! {
    static CORRELATION_ID: String;
}

/// The correlation id of the request or task this code runs for, if any.
pub fn current_correlation_id() -> Option<String> {
    CORRELATION_ID.try_with(Clone::clone).ok()
}

/// Runs `future` with `cid` as its correlation id (seen by [`current_correlation_id`]).
pub async fn with_correlation_id<F: Future>(cid: String, future: F) -> F::Output {
    CORRELATION_ID.scope(cid, future).await
}

/// A new id, in the form Pulp generates (32 hexadecimal digits).
pub fn generate() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// The client's id when it is usable in a log line and a response header: 1 to 128
/// printable ASCII characters without spaces.
pub fn accept(text: &str) -> Option<String> {
    let usable =
        !text.is_empty() && text.len() <= MAX_LEN && text.bytes().all(|b| b.is_ascii_graphic());
    usable.then(|| text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_id_is_kept_when_printable_and_short() {
        assert_eq!(accept("abc-123").as_deref(), Some("abc-123"));
        assert_eq!(accept(""), None);
        assert_eq!(accept("a b"), None);
        assert_eq!(accept("é"), None);
        assert_eq!(accept(&"x".repeat(MAX_LEN + 1)), None);
    }

    #[test]
    fn generated_ids_are_32_hex_digits_and_differ() {
        let (a, b) = (generate(), generate());
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[tokio::test]
    async fn the_id_is_seen_inside_its_scope_only() {
        assert_eq!(current_correlation_id(), None);
        let seen = with_correlation_id("cid-1".into(), async { current_correlation_id() }).await;
        assert_eq!(seen.as_deref(), Some("cid-1"));
    }
}
