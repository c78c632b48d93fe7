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
//!
//! The client facts of submissions sealed since `network_days` exists are in a second box,
//! `sealed.net` (`key`, `nonce`, `box`), under the key of the submission's UTC day
//! ([`super::keys::Keys::day_key`]); without that key (deleted by the retention pass) the
//! submission opens with every other field and empty client facts. Older sealed submissions
//! keep their client facts in the author's box.
//!
//! Since body keys exist (format `v: 2`), the body is not in the author's box but in a third
//! one, `sealed.body` (`key`, `nonce`, `box`), encrypted under a key derived from both the
//! author's key and the body's own key ([`super::keys::Keys::submission_keys`]): deleting the
//! body key (the retention pass purging a spam or rejected body) leaves the body unreadable
//! while the rest opens, and deleting the author key (erasure) leaves it unreadable too, with
//! no list of the author's body keys to find. Submissions sealed before (`v: 1`) keep the body
//! in the author's box, and unsealed ones keep it in plaintext: both still open as before.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD as B64;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Map, Value, json};

use super::keys::Key;

/// The sealed object's format version: 2 since the body has a box of its own (1: the body is
/// in the author's box; opening reads both).
const SEAL_VERSION: u64 = 2;

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

fn net_aad(comment_id: &str, key_id: &str) -> Vec<u8> {
    format!("saring-sealed-net-v1\0{comment_id}\0{key_id}").into_bytes()
}

fn body_aad(comment_id: &str, key_id: &str) -> Vec<u8> {
    format!("saring-sealed-body-v1\0{comment_id}\0{key_id}").into_bytes()
}

/// The key a body box is sealed with: SHA-256 over both random keys, so either one deleted
/// leaves the body unreadable (no list of an author's body keys is needed for erasure).
fn body_cipher_key(author: &Key, body: &Key) -> Key {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(b"saring-body-key-v1\0");
    h.update(author);
    h.update(body);
    h.finalize().into()
}

/// What client facts read as when they cannot be opened.
fn no_client() -> Value {
    json!({"ip": "", "user_agent": null})
}

fn encrypt(key: &Key, plain: &[u8], aad: &[u8]) -> Result<([u8; 24], Vec<u8>), SealError> {
    let nonce: [u8; 24] = rand::random();
    let sealed = XChaCha20Poly1305::new(key.into())
        .encrypt(XNonce::from_slice(&nonce), Payload { msg: plain, aad })
        .map_err(|_| SealError::Cipher)?;
    Ok((nonce, sealed))
}

/// Opens a box object (`nonce`, `box`) with `key`; `None` if it does not open.
fn decrypt(key: &Key, sealed: &Value, aad: &[u8]) -> Option<Value> {
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
                aad,
            },
        )
        .ok()?;
    serde_json::from_slice(&plain).ok()
}

/// The UTC day whose key seals a submission's network facts: the day it was submitted (an
/// imported comment's original day), or today if the data names none.
pub fn day_of_data(data: &Value) -> NaiveDate {
    data.get("submitted_at")
        .and_then(Value::as_str)
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map_or_else(
            || Utc::now().date_naive(),
            |t| t.with_timezone(&Utc).date_naive(),
        )
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

/// The body key id a sealed submission's body names, if it has a box of its own.
pub fn sealed_body_key_id(data: &Value) -> Option<&str> {
    data.pointer("/sealed/body/key").and_then(Value::as_str)
}

/// The day key id a sealed submission's network facts name, if they have a box of their own.
pub fn sealed_net_key_id(data: &Value) -> Option<&str> {
    data.pointer("/sealed/net/key").and_then(Value::as_str)
}

/// Seals the personal fields of a submission's data in place: under the author's key, and,
/// when `net` (a day key id and key) is given, the client facts apart under the day key, and
/// when `body` (a body key id and key) is given, the body apart under the author's and the
/// body's keys together.
pub fn seal(
    data: &mut Value,
    key_id: &str,
    key: &Key,
    net: Option<(&str, &Key)>,
    body: Option<(&str, &Key)>,
) -> Result<(), SealError> {
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
    let net_box = match net {
        Some((net_id, net_key)) => {
            let client = personal.remove("client").unwrap_or_else(no_client);
            let plain = serde_json::to_vec(&client).map_err(|_| SealError::Cipher)?;
            let (nonce, sealed) = encrypt(net_key, &plain, &net_aad(&comment_id, net_id))?;
            Some(json!({"key": net_id, "nonce": B64.encode(nonce), "box": B64.encode(sealed)}))
        }
        None => None,
    };
    let body_box = match body {
        Some((body_id, body_key)) => {
            let text = personal.remove("body").unwrap_or_else(|| json!(""));
            let plain = serde_json::to_vec(&text).map_err(|_| SealError::Cipher)?;
            let cipher = body_cipher_key(key, body_key);
            let (nonce, sealed) = encrypt(&cipher, &plain, &body_aad(&comment_id, body_id))?;
            Some(json!({"key": body_id, "nonce": B64.encode(nonce), "box": B64.encode(sealed)}))
        }
        None => None,
    };
    let plain = serde_json::to_vec(&Value::Object(personal)).map_err(|_| SealError::Cipher)?;
    let (nonce, sealed) = encrypt(key, &plain, &aad(&comment_id, key_id))?;
    let mut sealed = json!({
        "v": if body_box.is_some() { SEAL_VERSION } else { 1 },
        "key": key_id,
        "nonce": B64.encode(nonce),
        "box": B64.encode(sealed),
    });
    if let Some(net_box) = net_box {
        sealed["net"] = net_box;
    }
    if let Some(body_box) = body_box {
        sealed["body"] = body_box;
    }
    map.insert("sealed".into(), sealed);
    Ok(())
}

/// Opens a sealed submission's data in place with its key, or, when the key is gone (`None`)
/// or the box does not open, leaves the fields empty and marks it `erased`. Client facts in a
/// box of their own open with `net_key`, the key of their day; without it (deleted by the
/// retention pass) they are left empty and the rest opens. A body in a box of its own opens
/// with the author's key and `body_key`; without the body key (purged) the body is empty and
/// the rest opens. Returns whether the author's fields were restored. Data that is not sealed
/// is left as it is (`true`).
pub fn open(
    data: &mut Value,
    key: Option<&Key>,
    net_key: Option<&Key>,
    body_key: Option<&Key>,
) -> bool {
    let Value::Object(map) = data else {
        return true;
    };
    let Some(sealed) = map.remove("sealed") else {
        return true;
    };
    let comment_id = map
        .get("comment_id")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let restored = key.and_then(|key| {
        let key_id = sealed.get("key")?.as_str()?;
        match decrypt(key, &sealed, &aad(&comment_id, key_id))? {
            Value::Object(personal) => Some((personal, key)),
            _ => None,
        }
    });
    match restored {
        Some((personal, key)) => {
            map.extend(personal);
            if let Some(body) = sealed.get("body") {
                let text = body_key
                    .and_then(|b| {
                        let id = body.get("key")?.as_str()?;
                        decrypt(&body_cipher_key(key, b), body, &body_aad(&comment_id, id))
                    })
                    .filter(Value::is_string)
                    .unwrap_or_else(|| json!(""));
                map.insert("body".into(), text);
            }
            if let Some(net) = sealed.get("net") {
                let client = net_key
                    .and_then(|k| {
                        let id = net.get("key")?.as_str()?;
                        decrypt(k, net, &net_aad(&comment_id, id))
                    })
                    .filter(Value::is_object)
                    .unwrap_or_else(no_client);
                map.insert("client".into(), client);
            }
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
        seal(&mut data, "key-1", &key, None, None).unwrap();
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
        assert!(open(&mut data, Some(&key), None, None));
        assert_eq!(data, original);
    }

    #[test]
    fn without_its_key_a_sealed_submission_opens_erased() {
        let mut data = submission("Sari", "sari@contoh.id", "Halo");
        seal(&mut data, "key-1", &[7; 32], None, None).unwrap();
        let mut wrong = data.clone();
        assert!(!open(&mut data, None, None, None));
        assert_eq!(data["erased"], true);
        assert_eq!(data["author_name"], "");
        assert_eq!(data["client"]["ip"], "");
        assert!(data.get("sealed").is_none());
        assert!(
            !needs_sealing(&data),
            "an erased submission is not sealed again"
        );
        assert!(
            !open(&mut wrong, Some(&[8; 32]), None, None),
            "another key does not open it"
        );
        assert_eq!(wrong["body"], "");
    }

    #[test]
    fn a_box_moved_to_another_comment_does_not_open() {
        let key: Key = [7; 32];
        let mut data = submission("Sari", "sari@contoh.id", "Halo");
        seal(&mut data, "key-1", &key, None, None).unwrap();
        data["comment_id"] = json!("00000000-0000-4000-8000-000000000000");
        assert!(!open(&mut data, Some(&key), None, None));
    }

    #[test]
    fn network_facts_in_their_own_box_open_with_the_day_key_and_read_empty_without_it() {
        let original = submission("Sari", "sari@contoh.id", "Halo");
        let (key, day): (Key, Key) = ([7; 32], [9; 32]);
        let mut data = original.clone();
        seal(&mut data, "key-1", &key, Some(("day-1", &day)), None).unwrap();
        let stored = text(&data);
        assert!(
            !stored.contains("203.0.113.9") && !stored.contains("Firefox"),
            "{stored}"
        );
        assert_eq!(sealed_net_key_id(&data), Some("day-1"));
        let sealed = data.clone();
        assert!(open(&mut data, Some(&key), Some(&day), None));
        assert_eq!(data, original, "both boxes open");

        let mut expired = sealed.clone();
        assert!(
            open(&mut expired, Some(&key), None, None),
            "the author's fields open"
        );
        assert_eq!(expired["author_name"], "Sari");
        assert_eq!(expired["body"], "Halo");
        assert_eq!(expired["client"], json!({"ip": "", "user_agent": null}));
        assert!(expired.get("erased").is_none(), "not an erasure");

        let mut erased = sealed.clone();
        assert!(!open(&mut erased, None, Some(&day), None));
        assert_eq!(
            erased["client"]["ip"], "",
            "an erasure takes the network facts too"
        );
        let mut moved = sealed;
        moved["sealed"]["net"]["key"] = json!("day-2");
        open(&mut moved, Some(&key), Some(&day), None);
        assert_eq!(
            moved["client"]["ip"], "",
            "a box names the key it was sealed with"
        );
    }

    #[test]
    fn a_body_in_its_own_box_needs_both_the_author_and_the_body_key() {
        let original = submission("Sari", "sari@contoh.id", "Saya Sari dari Bogor.");
        let (key, day, body): (Key, Key, Key) = ([7; 32], [9; 32], [5; 32]);
        let mut sealed = original.clone();
        seal(
            &mut sealed,
            "key-1",
            &key,
            Some(("day-1", &day)),
            Some(("41", &body)),
        )
        .unwrap();
        assert!(!text(&sealed).contains("Bogor"), "{sealed}");
        assert_eq!(sealed["sealed"]["v"], 2);
        assert_eq!(sealed_body_key_id(&sealed), Some("41"));
        let mut data = sealed.clone();
        assert!(open(&mut data, Some(&key), Some(&day), Some(&body)));
        assert_eq!(data, original, "every box opens");

        let mut purged = sealed.clone();
        assert!(
            open(&mut purged, Some(&key), Some(&day), None),
            "the rest opens"
        );
        assert_eq!(purged["body"], "");
        assert_eq!(purged["author_name"], "Sari");
        assert_eq!(purged["client"]["ip"], "203.0.113.9");
        assert!(purged.get("erased").is_none(), "a purge is no erasure");

        let mut erased = sealed.clone();
        assert!(!open(&mut erased, None, Some(&day), Some(&body)));
        assert_eq!(erased["body"], "", "the body key alone opens nothing");

        let mut moved = sealed;
        moved["sealed"]["body"]["key"] = json!("42");
        open(&mut moved, Some(&key), Some(&day), Some(&body));
        assert_eq!(moved["body"], "", "a box names the key it was sealed with");
    }

    #[test]
    fn a_submission_sealed_before_body_keys_still_opens_with_its_body() {
        let original = submission("Sari", "sari@contoh.id", "Halo dari Bogor.");
        let key: Key = [7; 32];
        let mut data = original.clone();
        seal(&mut data, "key-1", &key, None, None).unwrap();
        assert_eq!(data["sealed"]["v"], 1);
        assert!(open(&mut data, Some(&key), None, Some(&[5; 32])));
        assert_eq!(data, original);
    }

    #[test]
    fn the_day_of_a_submission_is_its_utc_day() {
        let mut data = submission("Sari", "", "");
        data["submitted_at"] = json!("2026-11-28T23:30:00-02:00");
        assert_eq!(
            day_of_data(&data),
            NaiveDate::from_ymd_opt(2026, 11, 29).unwrap()
        );
    }

    proptest! {
        #[test]
        fn any_submission_round_trips(name in ".{0,40}", email in ".{0,40}", body in ".{0,400}",
                                      key in any::<[u8; 32]>(), body_key in any::<[u8; 32]>()) {
            let original = submission(&name, &email, &body);
            let mut data = original.clone();
            seal(&mut data, "k", &key, None, Some(("1", &body_key))).unwrap();
            prop_assert!(open(&mut data, Some(&key), None, Some(&body_key)));
            prop_assert_eq!(data, original);
        }
    }
}
