//! Rule descriptions by policy version, for verdicts stored without them (event schema 3,
//! see [`crate::domain::codec`]): a matched rule's description is written once, in its policy
//! version's `PolicyActivated` event, rather than in every verdict. Moderators' views fill
//! them back in: from the policy in force when the verdict is its, else from the policy
//! stream's activations, cached per version.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::domain::{DomainEvent, POLICY_STREAM};
use crate::policy::{Description, Policy, Verdict};
use crate::store::StoreError;

use super::Shell;

/// Versions whose descriptions are kept; a site changes its policy a few times a year, and a
/// full cache is simply emptied (the next miss reads the small policy stream again).
const MAX_VERSIONS: usize = 64;

type ByRule = Arc<BTreeMap<String, Description>>;

/// The descriptions of older policy versions, read from the log on first need.
#[derive(Default)]
pub struct Descriptions {
    by_version: Mutex<HashMap<String, ByRule>>,
}

/// Every activation's descriptions on the policy stream, by version (the latest wins).
fn activations(
    mut seen: HashMap<String, BTreeMap<String, Description>>,
    e: &DomainEvent,
) -> HashMap<String, BTreeMap<String, Description>> {
    if let DomainEvent::PolicyActivated {
        version,
        descriptions,
        ..
    } = e
        && !descriptions.is_empty()
    {
        seen.insert(version.clone(), descriptions.clone());
    }
    seen
}

impl Descriptions {
    /// Fills the descriptions `verdict` was stored without. A rule the version's activation
    /// does not describe keeps an empty description (the view still shows its id, score and
    /// match).
    pub async fn fill(
        &self,
        verdict: &mut Verdict,
        current: &Policy,
        shell: &Shell,
    ) -> Result<(), StoreError> {
        if !verdict.lacks_descriptions() {
            return Ok(());
        }
        if verdict.policy_version == current.version() {
            verdict.fill_descriptions(|id| current.description_of(id));
            return Ok(());
        }
        let cached = self.by_version.lock().get(&verdict.policy_version).cloned();
        let found = match cached {
            Some(found) => Some(found),
            None => {
                let loaded = shell.load(POLICY_STREAM, activations).await?;
                let mut cache = self.by_version.lock();
                if cache.len() + loaded.state.len() > MAX_VERSIONS {
                    cache.clear();
                }
                for (version, d) in loaded.state {
                    cache.insert(version, Arc::new(d));
                }
                cache.get(&verdict.policy_version).cloned()
            }
        };
        if let Some(found) = found {
            verdict.fill_descriptions(|id| found.get(id));
        }
        Ok(())
    }
}
