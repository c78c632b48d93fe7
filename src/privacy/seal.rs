//! Sealing the personal fields of a stored `CommentSubmitted` with its author's key.
//!
//! The name, email, website, body and client facts (address group, user agent) are taken out of
//! the event's data, serialised together and encrypted with XChaCha20-Poly1305 under the author's
//! key ([`super::keys`]) with a random 24-byte nonce; the event keeps empty values in their
//! place and one `sealed` object (`v`, `key` id, `nonce`, `box`, base64). The comment id and
//! the key id are the associated data, so a sealed box cannot be moved to another comment.
//! The body is sealed too because a body often names its author.
//!
//! Opening puts the fields back. Without the key (erased) the event opens as an erased
//! submission: the fields stay empty and `erased` is `true`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD as B64;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde_json::{Map, Value, json};

use super::keys::Key;

/// The sealed object's format version.
const SEAL_VERSION: u64 = 1;

/// The fields sealed, each with the value left in its place.
fn personal_fields() -> [(&'static str, Value); 5] {
    [
        ("author_name", json!("")),
        ("author_email", json!("")),
        ("author_url", Value::Null),
        ("body", json!("")),
        ("client", json!({"ip": "", "user_agent": null})),
    ]
}

/// Why a submission could not be sealed.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// The data is not a JSON object with a comment id.
    #[error("a CommentSubmitted event needs an object with a comment_id to be sealed")]
    NotASubmission,
    /// The cipher refused (cannot happen with a 32-byte key; kept typed rather than a panic).
    #[error("sealing failed")]
    Cipher,
}

fn aad(comment_id: &str, key_id: &str) -> Vec<u8> {
    format!("saring-sealed-v1\0{comment_id}\0{key_id}").into_bytes()
}

/// The author identity of an unsealed submission's data: its email, or its address group.
pub fn author_of_data(data: &Value) -> String {
    let email = data
        .get("author_email")
        .and_then(Value::as_str)
        .unwrap_or("");
    let ip = data
        .pointer("/client/ip")
        .and_then(Value::as_str)
        .unwrap_or("");
    super::keys::author_of(email, ip)
}

/// Whether the data still needs sealing: a submission that is neither sealed nor erased.
pub fn needs_sealing(data: &Value) -> bool {
    data.is_object()
        && data.get("sealed").is_none()
        && !data.get("erased").and_then(Value::as_bool).unwrap_or(false)
}

/// The key id a sealed submission names.
pub fn sealed_key_id(data: &Value) -> Option<&str> {
    data.pointer("/sealed/key").and_then(Value::as_str)
}

/// Seals the personal fields of a submission's data in place.
pub fn seal(data: &mut Value, key_id: &str, key: &Key) -> Result<(), SealError> {
    let comment_id = data
        .get("comment_id")
        .and_then(Value::as_str)
        .ok_or(SealError::NotASubmission)?
        .to_string();
    let Value::Object(map) = data else {
        return Err(SealError::NotASubmission);
    };
    let mut personal = Map::new();
    for (field, empty) in personal_fields() {
        if let Some(v) = map.insert(field.to_string(), empty) {
            personal.insert(field.to_string(), v);
        }
    }
    let plain = serde_json::to_vec(&Value::Object(personal)).map_err(|_| SealError::Cipher)?;
    let nonce: [u8; 24] = rand::random();
    let sealed = XChaCha20Poly1305::new(key.into())
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: &plain,
                aad: &aad(&comment_id, key_id),
            },
        )
        .map_err(|_| SealError::Cipher)?;
    map.insert(
        "sealed".into(),
        json!({
            "v": SEAL_VERSION,
            "key": key_id,
            "nonce": B64.encode(nonce),
            "box": B64.encode(sealed),
        }),
    );
    Ok(())
}

/// Opens a sealed submission's data in place with its key, or, when the key is gone (`None`)
/// or the box does not open, leaves the fields empty and marks it `erased`. Returns whether
/// the fields were restored. Data that is not sealed is left as it is (`true`).
pub fn open(data: &mut Value, key: Option<&Key>) -> bool {
    let Value::Object(map) = data else {
        return true;
    };
    let Some(sealed) = map.remove("sealed") else {
        return true;
    };
    let restored = key.and_then(|key| {
        let comment_id = map.get("comment_id")?.as_str()?;
        let key_id = sealed.get("key")?.as_str()?;
        let nonce = B64.decode(sealed.get("nonce")?.as_str()?).ok()?;
        let sealed_box = B64.decode(sealed.get("box")?.as_str()?).ok()?;
        if nonce.len() != 24 {
            return None;
        }
        let plain = XChaCha20Poly1305::new(key.into())
            .decrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: &sealed_box,
                    aad: &aad(comment_id, key_id),
                },
            )
            .ok()?;
        match serde_json::from_slice(&plain).ok()? {
            Value::Object(personal) => Some(personal),
            _ => None,
        }
    });
    match restored {
        Some(personal) => {
            map.extend(personal);
            true
        }
        None => {
            for (field, empty) in personal_fields() {
                map.insert(field.to_string(), empty);
            }
            map.insert("erased".into(), Value::Bool(true));
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn submission(name: &str, email: &str, body: &str) -> Value {
        json!({
            "type": "CommentSubmitted",
            "comment_id": "7b0c5d43-2c0c-5a6f-9d53-0f6f0a1c2b3d",
            "thread": "berita-1",
            "parent_id": null,
            "author_name": name,
            "author_email": email,
            "author_url": "https://sari.example",
            "body": body,
            "client": {"ip": "203.0.113.9", "user_agent": "Firefox"},
            "captcha_solve_ms": 4000,
            "lang": "id",
            "submitted_at": "2026-11-28T10:00:00Z",
        })
    }

    fn text(v: &Value) -> String {
        serde_json::to_string(v).unwrap()
    }

    #[test]
    fn sealed_data_names_nothing_personal_and_opens_to_the_original() {
        let original = submission("Sari Wulandari", "sari@contoh.id", "Saya Sari dari Bogor.");
        let key: Key = [7; 32];
        let mut data = original.clone();
        seal(&mut data, "key-1", &key).unwrap();
        let stored = text(&data);
        for secret in [
            "Sari",
            "sari@contoh.id",
            "Bogor",
            "203.0.113.9",
            "Firefox",
            "sari.example",
        ] {
            assert!(!stored.contains(secret), "{secret} in {stored}");
        }
        assert_eq!(data["thread"], "berita-1", "the rest stays readable");
        assert_eq!(sealed_key_id(&data), Some("key-1"));
        assert!(!needs_sealing(&data));
        assert!(open(&mut data, Some(&key)));
        assert_eq!(data, original);
    }

    #[test]
    fn without_its_key_a_sealed_submission_opens_erased() {
        let mut data = submission("Sari", "sari@contoh.id", "Halo");
        seal(&mut data, "key-1", &[7; 32]).unwrap();
        let mut wrong = data.clone();
        assert!(!open(&mut data, None));
        assert_eq!(data["erased"], true);
        assert_eq!(data["author_name"], "");
        assert_eq!(data["client"]["ip"], "");
        assert!(data.get("sealed").is_none());
        assert!(
            !needs_sealing(&data),
            "an erased submission is not sealed again"
        );
        assert!(
            !open(&mut wrong, Some(&[8; 32])),
            "another key does not open it"
        );
        assert_eq!(wrong["body"], "");
    }

    #[test]
    fn a_box_moved_to_another_comment_does_not_open() {
        let key: Key = [7; 32];
        let mut data = submission("Sari", "sari@contoh.id", "Halo");
        seal(&mut data, "key-1", &key).unwrap();
        data["comment_id"] = json!("00000000-0000-4000-8000-000000000000");
        assert!(!open(&mut data, Some(&key)));
    }

    proptest! {
        #[test]
        fn any_submission_round_trips(name in ".{0,40}", email in ".{0,40}", body in ".{0,400}",
                                      key in any::<[u8; 32]>()) {
            let original = submission(&name, &email, &body);
            let mut data = original.clone();
            seal(&mut data, "k", &key).unwrap();
            prop_assert!(open(&mut data, Some(&key)));
            prop_assert_eq!(data, original);
        }
    }
}
