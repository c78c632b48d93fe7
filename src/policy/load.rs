//! Reading policy files: TOML with spans, `extends`, named lists, validation with line:column.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use sha2::{Digest, Sha256};
use toml::Spanned;

use super::Description;
use super::error::PolicyError;
use super::model::{Model, Threshold};
use super::rules::{
    DomainSet, EmailSet, Field, FieldSet, HistoryCheck, Kind, Rule, compile_domain,
};
use super::{Outcome, Thresholds};

/// Deepest chain of `extends` followed; deeper chains are almost surely a loop.
const MAX_EXTENDS: usize = 4;
/// Largest policy or list file read, so a mistaken path to a huge file fails fast.
const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;
/// Largest model file read (a 2^18-bucket model is 512 KiB).
const MAX_MODEL_FILE_BYTES: u64 = 16 * 1024 * 1024;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    policy: Option<PolicyMeta>,
    thresholds: Option<ThresholdsFile>,
    scoring: Option<ScoringFile>,
    site: Option<SiteFile>,
    #[serde(default)]
    lists: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    rule: Vec<RuleFile>,
    #[serde(default, rename = "override")]
    overrides: Vec<OverrideFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyMeta {
    name: Option<String>,
    extends: Option<Spanned<String>>,
    #[allow(dead_code)]
    description: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ThresholdsFile {
    hold: Spanned<f64>,
    spam: Spanned<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScoringFile {
    obfuscation: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SiteFile {
    #[serde(default)]
    own_domains: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OverrideFile {
    id: Spanned<String>,
    score: Option<f64>,
    enabled: Option<bool>,
    outcome: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    id: Spanned<String>,
    kind: Spanned<String>,
    description: Option<Description>,
    fields: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    score: f64,
    obfuscation: Option<f64>,
    outcome: Option<Spanned<String>>,
    #[serde(default = "yes")]
    enabled: bool,
    list: Option<Spanned<String>>,
    #[serde(default)]
    lists: Vec<Spanned<String>>,
    #[serde(default)]
    words: Vec<Spanned<String>>,
    #[serde(default)]
    entries: Vec<Spanned<String>>,
    pattern: Option<Spanned<String>>,
    min: Option<f64>,
    max: Option<f64>,
    ratio: Option<f64>,
    check: Option<Spanned<String>>,
    scope: Option<Spanned<String>>,
    #[serde(default)]
    except: Vec<Spanned<String>>,
    #[serde(default)]
    all_of: Vec<Spanned<String>>,
    #[serde(default)]
    any_of: Vec<Spanned<String>>,
    at_least: Option<u32>,
    #[serde(default)]
    of: Vec<Spanned<String>>,
    #[serde(default)]
    none_of: Vec<Spanned<String>>,
    file: Option<Spanned<String>>,
    min_probability: Option<f64>,
    max_probability: Option<f64>,
    max_score: Option<f64>,
}

fn yes() -> bool {
    true
}

/// A rule as read, before compilation, remembering where it came from for errors.
struct RawRule {
    file: usize,
    def: RuleFile,
}

/// One file read during loading.
struct Source {
    path: PathBuf,
    /// Name used in the version hash: relative to the main file's folder, `/`-separated.
    name: String,
    text: String,
}

/// Everything read from disk, before compilation.
pub(crate) struct Loaded {
    pub name: String,
    pub version: String,
    pub thresholds: Thresholds,
    pub obfuscation: f64,
    pub own_domains: DomainSet,
    pub rules: Vec<Rule>,
    pub lists: BTreeMap<String, usize>,
    pub files: Vec<PathBuf>,
    pub models: Vec<Arc<Model>>,
}

struct Loader {
    root: PathBuf,
    sources: Vec<Source>,
    /// Named lists: name -> (file index of the list, entries with their 1-based line numbers).
    lists: HashMap<String, (usize, Vec<(usize, String)>)>,
    list_decl: HashMap<String, (usize, std::ops::Range<usize>)>,
    /// Model files read: path, relative name, SHA-256 of the bytes, the model.
    models: Vec<ModelSource>,
}

struct ModelSource {
    path: PathBuf,
    name: String,
    digest: [u8; 32],
    model: Arc<Model>,
}

/// The main policy file for a path: the file itself, or `policy.toml` / `default.toml` in a folder.
pub(crate) fn main_file(path: &Path) -> PathBuf {
    if path.is_dir() {
        let p = path.join("policy.toml");
        if p.is_file() {
            p
        } else {
            path.join("default.toml")
        }
    } else {
        path.to_path_buf()
    }
}

pub(crate) fn load(path: &Path) -> Result<Loaded, PolicyError> {
    let main = main_file(path);
    let root = main.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut loader = Loader {
        root,
        sources: Vec::new(),
        lists: HashMap::new(),
        list_decl: HashMap::new(),
        models: Vec::new(),
    };

    // Follow `extends` to the base, then apply files from the base outwards.
    let mut chain: Vec<(usize, PolicyFile)> = Vec::new();
    let mut next = Some(main.clone());
    while let Some(path) = next.take() {
        if chain.len() > MAX_EXTENDS {
            let (idx, _) = &chain[chain.len() - 1];
            return Err(loader.err(
                *idx,
                0,
                format!("more than {MAX_EXTENDS} levels of `extends`"),
            ));
        }
        let idx = loader.read(&path)?;
        let text = &loader.sources[idx].text;
        let file: PolicyFile = toml::from_str(text).map_err(|e| {
            let offset = e.span().map_or(0, |s| s.start);
            PolicyError::at_offset(&path, text, offset, e.message().trim().to_string())
        })?;
        if let Some(ext) = file.policy.as_ref().and_then(|p| p.extends.as_ref()) {
            let base = path.parent().unwrap_or(Path::new(".")).join(ext.get_ref());
            if !base.is_file() {
                return Err(loader.err(
                    idx,
                    ext.span().start,
                    format!("extends: no such file {}", ext.get_ref()),
                ));
            }
            next = Some(base);
        }
        chain.push((idx, file));
    }
    chain.reverse();

    let mut name = String::from("policy");
    let mut thresholds: Option<Thresholds> = None;
    let mut obfuscation = 1.0;
    let mut own: Vec<(usize, Spanned<String>)> = Vec::new();
    let mut raw: Vec<RawRule> = Vec::new();

    for (idx, file) in chain {
        if let Some(n) = file.policy.as_ref().and_then(|p| p.name.clone()) {
            name = n;
        }
        if let Some(t) = &file.thresholds {
            if !(t.hold.get_ref().is_finite() && t.spam.get_ref().is_finite())
                || t.spam.get_ref() < t.hold.get_ref()
            {
                return Err(loader.err(
                    idx,
                    t.spam.span().start,
                    "thresholds: spam must be a number at least as high as hold",
                ));
            }
            thresholds = Some(Thresholds {
                hold: *t.hold.get_ref(),
                spam: *t.spam.get_ref(),
            });
        }
        if let Some(o) = file.scoring.as_ref().and_then(|s| s.obfuscation) {
            obfuscation = o;
        }
        if let Some(site) = file.site {
            own.extend(site.own_domains.into_iter().map(|d| (idx, d)));
        }
        for (list_name, path) in file.lists {
            loader.declare_list(idx, list_name, path)?;
        }
        for def in file.rule {
            if let Some(pos) = raw
                .iter()
                .position(|r| r.def.id.get_ref() == def.id.get_ref())
            {
                if raw[pos].file == idx {
                    return Err(loader.err(
                        idx,
                        def.id.span().start,
                        format!("duplicate rule id {}", def.id.get_ref()),
                    ));
                }
                // A rule in an extending file replaces the base rule of the same id.
                raw[pos] = RawRule { file: idx, def };
            } else {
                raw.push(RawRule { file: idx, def });
            }
        }
        for o in file.overrides {
            let Some(r) = raw
                .iter_mut()
                .find(|r| r.def.id.get_ref() == o.id.get_ref())
            else {
                return Err(loader.err(
                    idx,
                    o.id.span().start,
                    format!("override: no rule {}", o.id.get_ref()),
                ));
            };
            if let Some(s) = o.score {
                r.def.score = s;
            }
            if let Some(e) = o.enabled {
                r.def.enabled = e;
            }
            if let Some(out) = o.outcome {
                r.def.outcome = Some(out);
                r.file = idx; // errors in the outcome point at the override
            }
        }
    }
    let Some(thresholds) = thresholds else {
        return Err(loader.err(0, 0, "missing [thresholds] with hold and spam"));
    };

    let mut own_domains = DomainSet::default();
    for (idx, d) in own {
        let dom = compile_domain(d.get_ref()).ok_or_else(|| {
            loader.err(
                idx,
                d.span().start,
                format!("not a domain: {}", d.get_ref()),
            )
        })?;
        own_domains.insert(dom);
    }

    let raw: Vec<RawRule> = raw.into_iter().filter(|r| r.def.enabled).collect();
    for r in &raw {
        if r.def.kind.get_ref() == "model"
            && let Some(f) = &r.def.file
        {
            loader.read_model(r.file, f)?;
        }
    }
    let rules = loader.compile_rules(raw)?;
    let lists = loader
        .lists
        .iter()
        .map(|(k, (_, v))| (k.clone(), v.len()))
        .collect();

    // The version hashes every file read, with its relative name, in a fixed order.
    let mut order: Vec<&Source> = loader.sources.iter().collect();
    order.sort_by(|a, b| a.name.cmp(&b.name));
    let mut h = Sha256::new();
    for s in order {
        h.update((s.name.len() as u64).to_le_bytes());
        h.update(s.name.as_bytes());
        h.update((s.text.len() as u64).to_le_bytes());
        h.update(s.text.as_bytes());
    }
    // Model files are binary: their digest stands for their bytes.
    let mut models: Vec<&ModelSource> = loader.models.iter().collect();
    models.sort_by(|a, b| a.name.cmp(&b.name));
    for m in models {
        h.update((m.name.len() as u64).to_le_bytes());
        h.update(m.name.as_bytes());
        h.update(m.digest);
    }
    let version = hex::encode(&h.finalize()[..16]);
    let mut files: Vec<PathBuf> = loader.sources.iter().map(|s| s.path.clone()).collect();
    files.extend(loader.models.iter().map(|m| m.path.clone()));
    let models = loader.models.iter().map(|m| m.model.clone()).collect();
    Ok(Loaded {
        name,
        version,
        thresholds,
        obfuscation,
        own_domains,
        rules,
        lists,
        files,
        models,
    })
}

fn relative_name(root: &Path, path: &Path) -> String {
    let rel = pathdiff(path, root);
    rel.components()
        .map(|c| match c {
            Component::ParentDir => "..".to_string(),
            other => other.as_os_str().to_string_lossy().into_owned(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// `path` relative to `base` when both are relative or both absolute; otherwise `path` itself.
fn pathdiff(path: &Path, base: &Path) -> PathBuf {
    let p: Vec<Component> = path
        .components()
        .filter(|c| *c != Component::CurDir)
        .collect();
    let b: Vec<Component> = base
        .components()
        .filter(|c| *c != Component::CurDir)
        .collect();
    let common = p.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut out = PathBuf::new();
    for _ in common..b.len() {
        out.push("..");
    }
    for c in &p[common..] {
        out.push(c.as_os_str());
    }
    out
}

impl Loader {
    fn read(&mut self, path: &Path) -> Result<usize, PolicyError> {
        if let Some(i) = self.sources.iter().position(|s| s.path == path) {
            return Ok(i);
        }
        let meta = std::fs::metadata(path).map_err(|e| PolicyError::io(path, e))?;
        if meta.len() > MAX_FILE_BYTES {
            return Err(PolicyError::at_line(
                path,
                1,
                format!("file larger than {MAX_FILE_BYTES} bytes"),
            ));
        }
        let bytes = std::fs::read(path).map_err(|e| PolicyError::io(path, e))?;
        let text = String::from_utf8(bytes).map_err(|e| {
            let off = e.utf8_error().valid_up_to();
            let text = String::from_utf8_lossy(e.as_bytes()).into_owned();
            PolicyError::at_offset(path, &text, off, "not valid UTF-8")
        })?;
        let name = relative_name(&self.root, path);
        self.sources.push(Source {
            path: path.to_path_buf(),
            name,
            text,
        });
        Ok(self.sources.len() - 1)
    }

    /// The path a rule's `file` names: relative to the policy file that declares it.
    fn model_path(&self, idx: usize, file: &str) -> PathBuf {
        self.sources[idx]
            .path
            .parent()
            .unwrap_or(Path::new("."))
            .join(file)
    }

    /// Reads and checks a model file once, however many rules use it.
    fn read_model(&mut self, idx: usize, file: &Spanned<String>) -> Result<(), PolicyError> {
        let path = self.model_path(idx, file.get_ref());
        if self.models.iter().any(|m| m.path == path) {
            return Ok(());
        }
        if !path.is_file() {
            return Err(self.err(
                idx,
                file.span().start,
                format!("model: no such file {}", file.get_ref()),
            ));
        }
        let meta = std::fs::metadata(&path).map_err(|e| PolicyError::io(&path, e))?;
        if meta.len() > MAX_MODEL_FILE_BYTES {
            return Err(PolicyError::at_line(
                &path,
                1,
                format!("model file larger than {MAX_MODEL_FILE_BYTES} bytes"),
            ));
        }
        let bytes = std::fs::read(&path).map_err(|e| PolicyError::io(&path, e))?;
        let model =
            Model::from_bytes(&bytes).map_err(|e| PolicyError::at_line(&path, 1, e.to_string()))?;
        let name = relative_name(&self.root, &path);
        self.models.push(ModelSource {
            path,
            name,
            digest: Sha256::digest(&bytes).into(),
            model: Arc::new(model),
        });
        Ok(())
    }

    fn err(&self, idx: usize, offset: usize, msg: impl Into<String>) -> PolicyError {
        match self.sources.get(idx) {
            Some(s) => PolicyError::at_offset(&s.path, &s.text, offset, msg),
            None => PolicyError::at_line(Path::new("policy"), 1, msg),
        }
    }

    fn declare_list(
        &mut self,
        idx: usize,
        name: String,
        path: Spanned<String>,
    ) -> Result<(), PolicyError> {
        let dir = self.sources[idx]
            .path
            .parent()
            .unwrap_or(Path::new("."))
            .to_path_buf();
        let file = dir.join(path.get_ref());
        if !file.is_file() {
            return Err(self.err(
                idx,
                path.span().start,
                format!("list {name}: no such file {}", path.get_ref()),
            ));
        }
        let li = self.read(&file)?;
        let mut entries = Vec::new();
        for (n, line) in self.sources[li].text.lines().enumerate() {
            let line = match line.find(" #") {
                Some(p) => &line[..p],
                None => line,
            };
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            entries.push((n + 1, line.to_string()));
        }
        self.list_decl.insert(name.clone(), (idx, path.span()));
        // Lists of the same name in an extending file replace the base list.
        self.lists.insert(name, (li, entries));
        Ok(())
    }

    /// The entries of the lists a rule names, plus its inline entries, each with an error builder.
    fn entries(&self, idx: usize, def: &RuleFile) -> Result<Vec<Entry>, PolicyError> {
        let mut out = Vec::new();
        let names = def.list.iter().chain(def.lists.iter());
        for n in names {
            let Some((li, entries)) = self.lists.get(n.get_ref()) else {
                return Err(self.err(
                    idx,
                    n.span().start,
                    format!("no list named {} in [lists]", n.get_ref()),
                ));
            };
            out.extend(entries.iter().map(|(line, e)| Entry {
                text: e.clone(),
                at: At::Line(*li, *line),
            }));
        }
        for w in def.words.iter().chain(def.entries.iter()) {
            out.push(Entry {
                text: w.get_ref().clone(),
                at: At::Offset(idx, w.span().start),
            });
        }
        Ok(out)
    }

    fn entry_err(&self, at: &At, msg: impl Into<String>) -> PolicyError {
        match *at {
            At::Line(li, line) => PolicyError::at_line(&self.sources[li].path, line, msg),
            At::Offset(idx, off) => self.err(idx, off, msg),
        }
    }

    fn compile_rules(&self, raw: Vec<RawRule>) -> Result<Vec<Rule>, PolicyError> {
        let ids: HashMap<String, usize> = raw
            .iter()
            .enumerate()
            .map(|(i, r)| (r.def.id.get_ref().clone(), i))
            .collect();
        let mut rules = Vec::with_capacity(raw.len());
        for r in &raw {
            rules.push(self.compile_rule(r, &ids)?);
        }
        // Meta rules must not depend on themselves, directly or not.
        let mut state = vec![0u8; rules.len()];
        for i in 0..rules.len() {
            if let Some(cycle_at) = find_cycle(&rules, i, &mut state) {
                let r = &raw[cycle_at];
                return Err(self.err(
                    r.file,
                    r.def.id.span().start,
                    format!("meta rule {} depends on itself", r.def.id.get_ref()),
                ));
            }
        }
        Ok(rules)
    }

    fn compile_rule(&self, r: &RawRule, ids: &HashMap<String, usize>) -> Result<Rule, PolicyError> {
        let idx = r.file;
        let def = &r.def;
        let id = def.id.get_ref().clone();
        let at_id = def.id.span().start;
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(self.err(
                idx,
                at_id,
                format!("rule id {id:?}: use letters, digits and _"),
            ));
        }
        let sub = id.starts_with("__");
        let Some(description) = def.description.clone() else {
            return Err(self.err(
                idx,
                at_id,
                format!("rule {id}: description with `id` and `en` is required"),
            ));
        };
        if !def.score.is_finite() || def.score.abs() > 1000.0 {
            return Err(self.err(
                idx,
                at_id,
                format!("rule {id}: score must be a number between -1000 and 1000"),
            ));
        }
        let outcome = match &def.outcome {
            None => None,
            Some(o) => Some(match o.get_ref().as_str() {
                "reject" => Outcome::Reject,
                "spam" => Outcome::Spam,
                "hold" => Outcome::Hold,
                other => {
                    return Err(self.err(
                        idx,
                        o.span().start,
                        format!("outcome {other:?}: use reject, spam or hold"),
                    ));
                }
            }),
        };
        let kind_name = def.kind.get_ref().as_str();
        let need = |v: Option<f64>, what: &str| -> Result<f64, PolicyError> {
            match v {
                Some(x) if x.is_finite() && x >= 0.0 => Ok(x),
                Some(_) => Err(self.err(
                    idx,
                    def.kind.span().start,
                    format!("rule {id}: `{what}` must be a non-negative number"),
                )),
                None => Err(self.err(
                    idx,
                    def.kind.span().start,
                    format!("rule {id}: kind {kind_name} needs `{what}`"),
                )),
            }
        };
        let kind = match kind_name {
            "words" => {
                let entries = self.entries(idx, def)?;
                if entries.is_empty() {
                    return Err(self.err(
                        idx,
                        at_id,
                        format!("rule {id}: words needs `list`, `lists` or `words`"),
                    ));
                }
                let mut words = Vec::with_capacity(entries.len());
                for e in entries {
                    let n = super::normalize::normalize(&e.text).text;
                    if n.is_empty() {
                        return Err(self.entry_err(
                            &e.at,
                            format!("entry {:?} is empty after normalisation", e.text),
                        ));
                    }
                    words.push(n);
                }
                Kind::Words(words)
            }
            "regex" => {
                let Some(p) = &def.pattern else {
                    return Err(self.err(idx, at_id, format!("rule {id}: regex needs `pattern`")));
                };
                super::rules::build_regex(p.get_ref()).map_err(|e| {
                    self.err(
                        idx,
                        p.span().start,
                        format!("rule {id}: bad pattern: {}", first_line(&e)),
                    )
                })?;
                Kind::Regex(p.get_ref().clone())
            }
            "link_count" => Kind::LinkCount {
                min: need(def.min, "min")? as usize,
            },
            "link_domain" | "link_other" => {
                let mut set = DomainSet::default();
                let entries = if kind_name == "link_other" {
                    let mut all = Vec::new();
                    for n in &def.except {
                        let Some((li, es)) = self.lists.get(n.get_ref()) else {
                            return Err(self.err(
                                idx,
                                n.span().start,
                                format!("no list named {} in [lists]", n.get_ref()),
                            ));
                        };
                        all.extend(es.iter().map(|(line, e)| Entry {
                            text: e.clone(),
                            at: At::Line(*li, *line),
                        }));
                    }
                    all.extend(self.entries(idx, def)?);
                    all
                } else {
                    self.entries(idx, def)?
                };
                for e in entries {
                    let d = compile_domain(&e.text).ok_or_else(|| {
                        self.entry_err(&e.at, format!("not a domain: {}", e.text))
                    })?;
                    set.insert(d);
                }
                if kind_name == "link_domain" {
                    if set.is_empty() {
                        return Err(self.err(
                            idx,
                            at_id,
                            format!("rule {id}: link_domain needs domains"),
                        ));
                    }
                    Kind::LinkDomain(set)
                } else {
                    Kind::LinkOther(set)
                }
            }
            "email" => {
                let mut set = EmailSet::default();
                for e in self.entries(idx, def)? {
                    let t = e.text.to_lowercase();
                    if let Some(dom) = t.strip_prefix('@') {
                        let d = compile_domain(dom)
                            .ok_or_else(|| self.entry_err(&e.at, format!("not a domain: {dom}")))?;
                        set.domains.insert(d);
                    } else if t.contains('@') {
                        set.exact.insert(t);
                    } else {
                        return Err(self
                            .entry_err(&e.at, format!("{t:?}: write a full address or @domain")));
                    }
                }
                Kind::Email(set)
            }
            "ip" => {
                let mut nets = Vec::new();
                for e in self.entries(idx, def)? {
                    let net = e.text.parse::<ipnet::IpNet>().ok().or_else(|| {
                        e.text
                            .parse::<std::net::IpAddr>()
                            .ok()
                            .map(ipnet::IpNet::from)
                    });
                    nets.push(net.ok_or_else(|| {
                        self.entry_err(&e.at, format!("not an address or CIDR: {}", e.text))
                    })?);
                }
                Kind::Ip(nets)
            }
            "link_idn" => Kind::LinkIdn,
            "honeypot" => Kind::Honeypot,
            "captcha_path" => {
                let Some(c) = &def.check else {
                    return Err(self.err(
                        idx,
                        at_id,
                        format!("rule {id}: captcha_path needs `check`"),
                    ));
                };
                match crate::pow::CaptchaPath::parse(c.get_ref()) {
                    Some(path) => Kind::CaptchaPath(path),
                    None => {
                        return Err(self.err(
                            idx,
                            c.span().start,
                            format!("check {:?}: use sum, skip, trusted or nojs", c.get_ref()),
                        ));
                    }
                }
            }
            "solve_time" => Kind::SolveTime {
                below_ms: need(def.max, "max")? as u64,
            },
            "duplicate" => {
                let scope = def
                    .scope
                    .as_ref()
                    .map(|s| s.get_ref().as_str())
                    .unwrap_or("author");
                let check = match scope {
                    "author" => HistoryCheck::SameBodySameAuthor,
                    "threads" => HistoryCheck::SameBodyThreads,
                    other => {
                        return Err(self.err(
                            idx,
                            at_id,
                            format!("rule {id}: scope {other:?}: use author or threads"),
                        ));
                    }
                };
                Kind::History {
                    check,
                    min: need(def.min, "min")? as u32,
                }
            }
            "history" => {
                let Some(c) = &def.check else {
                    return Err(self.err(idx, at_id, format!("rule {id}: history needs `check`")));
                };
                let check = match c.get_ref().as_str() {
                    "first_time" => HistoryCheck::FirstTime,
                    "trusted" => HistoryCheck::Trusted,
                    "trusted_unverified" => HistoryCheck::TrustedUnverified,
                    "author_spam" => HistoryCheck::AuthorSpam,
                    "ip_spam" => HistoryCheck::IpSpam,
                    "url_spam" => HistoryCheck::UrlSpam,
                    other => return Err(self.err(idx, c.span().start, format!("check {other:?}: use first_time, trusted, trusted_unverified, author_spam, ip_spam or url_spam"))),
                };
                let min = if check == HistoryCheck::FirstTime {
                    0
                } else {
                    need(def.min, "min")? as u32
                };
                Kind::History { check, min }
            }
            "shouting" => Kind::Shouting {
                min_letters: need(def.min, "min")? as usize,
                ratio: need(def.ratio, "ratio")?,
            },
            "char_run" => Kind::CharRun {
                min: need(def.min, "min")?.max(2.0) as usize,
            },
            "length" => {
                if def.min.is_none() && def.max.is_none() {
                    return Err(self.err(
                        idx,
                        at_id,
                        format!("rule {id}: length needs `min` or `max`"),
                    ));
                }
                Kind::Length {
                    min: def.min.map(|m| m as usize),
                    max: def.max.map(|m| m as usize),
                }
            }
            "mixed_script" => Kind::MixedScript,
            "styled" => Kind::Styled {
                min: need(def.min, "min")? as usize,
            },
            "phone" => Kind::Phone,
            "disguised_word" | "mixed_word" => Kind::DisguisedWord {
                min: def.min.unwrap_or(4.0).max(1.0) as usize,
                islands: kind_name == "disguised_word",
            },
            "model" => {
                let Some(file) = &def.file else {
                    return Err(self.err(
                        idx,
                        at_id,
                        format!("rule {id}: model needs `file` (relative to the policy folder)"),
                    ));
                };
                let path = self.model_path(idx, file.get_ref());
                let model = self
                    .models
                    .iter()
                    .position(|m| m.path == path)
                    .ok_or_else(|| self.err(idx, file.span().start, "model not loaded"))?;
                let prob_ok = |p: f64| p.is_finite() && p > 0.0 && p < 1.0;
                let threshold = match (def.min_probability, def.max_probability) {
                    (Some(p), None) if prob_ok(p) => Threshold::AtLeast(p),
                    (None, Some(p)) if prob_ok(p) => Threshold::AtMost(p),
                    (Some(_), None) | (None, Some(_)) => {
                        return Err(self.err(
                            idx,
                            at_id,
                            format!(
                                "rule {id}: the probability must be between 0 and 1 (exclusive)"
                            ),
                        ));
                    }
                    _ => {
                        return Err(self.err(
                            idx,
                            at_id,
                            format!(
                                "rule {id}: model needs exactly one of `min_probability` or `max_probability`"
                            ),
                        ));
                    }
                };
                let max_score = def.max_score.unwrap_or(def.score);
                if !max_score.is_finite()
                    || max_score.abs() > 1000.0
                    || (max_score != 0.0
                        && def.score != 0.0
                        && max_score.signum() != def.score.signum())
                    || max_score.abs() < def.score.abs()
                {
                    return Err(self.err(
                        idx,
                        at_id,
                        format!(
                            "rule {id}: max_score must be at least as far from 0 as score, on the same side, within 1000"
                        ),
                    ));
                }
                Kind::Model {
                    model,
                    threshold,
                    max_score,
                }
            }
            "meta" => {
                let resolve = |list: &[Spanned<String>]| -> Result<Vec<usize>, PolicyError> {
                    list.iter()
                        .map(|n| {
                            ids.get(n.get_ref()).copied().ok_or_else(|| {
                                self.err(
                                    idx,
                                    n.span().start,
                                    format!("rule {id}: no enabled rule {}", n.get_ref()),
                                )
                            })
                        })
                        .collect()
                };
                let all_of = resolve(&def.all_of)?;
                let any_of = resolve(&def.any_of)?;
                let of = resolve(&def.of)?;
                let none_of = resolve(&def.none_of)?;
                if all_of.is_empty() && any_of.is_empty() && of.is_empty() {
                    return Err(self.err(
                        idx,
                        at_id,
                        format!("rule {id}: meta needs all_of, any_of or at_least with of"),
                    ));
                }
                let at_least = def.at_least.unwrap_or(0) as usize;
                if !of.is_empty() && (at_least == 0 || at_least > of.len()) {
                    return Err(self.err(
                        idx,
                        at_id,
                        format!("rule {id}: at_least must be between 1 and the length of `of`"),
                    ));
                }
                Kind::Meta {
                    all_of,
                    any_of,
                    at_least,
                    of,
                    none_of,
                }
            }
            other => {
                return Err(self.err(
                    idx,
                    def.kind.span().start,
                    format!("unknown kind {other:?}; see docs/policy.md for the kinds"),
                ));
            }
        };
        let fields = match &def.fields {
            None => kind.default_fields(),
            Some(f) => {
                let mut set = FieldSet::default();
                for name in f.get_ref() {
                    let field = Field::parse(name).ok_or_else(|| self.err(idx, f.span().start, format!("unknown field {name:?}: use body, author_name, author_email, author_url, client_ip or user_agent")))?;
                    set.insert(field);
                }
                set
            }
        };
        Ok(Rule {
            id,
            description,
            kind_name: kind_name.to_string(),
            kind,
            fields,
            score: if sub { 0.0 } else { def.score },
            obfuscation: def.obfuscation,
            outcome: if sub { None } else { outcome },
            sub,
        })
    }
}

fn first_line(e: &regex::Error) -> String {
    e.to_string()
        .lines()
        .last()
        .unwrap_or("")
        .trim()
        .to_string()
}

/// Depth-first search for a cycle through meta rules; returns a rule on the cycle.
fn find_cycle(rules: &[Rule], i: usize, state: &mut [u8]) -> Option<usize> {
    match state[i] {
        1 => return Some(i),
        2 => return None,
        _ => {}
    }
    state[i] = 1;
    if let Kind::Meta {
        all_of,
        any_of,
        of,
        none_of,
        ..
    } = &rules[i].kind
    {
        let deps: HashSet<usize> = all_of
            .iter()
            .chain(any_of)
            .chain(of)
            .chain(none_of)
            .copied()
            .collect();
        for d in deps {
            if let Some(c) = find_cycle(rules, d, state) {
                return Some(c);
            }
        }
    }
    state[i] = 2;
    None
}

struct Entry {
    text: String,
    at: At,
}

enum At {
    /// File index and 1-based line of a list entry.
    Line(usize, usize),
    /// File index and byte offset of an inline entry.
    Offset(usize, usize),
}
