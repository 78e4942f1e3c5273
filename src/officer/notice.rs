//! Notice documents (publication.md v2, "Due process"): the advance notice
//! of a proposed listing, rendered from a template per language
//! (`ops/templates/notice.<lang>.html`, minijinja with HTML autoescape),
//! and the files that go with a member's due process (notices, objection
//! attachments) under `warehouse/notices/<L>/<entity_id>/`, each recorded
//! with its SHA-256 and checked against it whenever it is read back.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use sha2::Digest;

use crate::base::error::{Classify, ErrorKind};
use crate::base::ids::AsOf;
use crate::base::warehouse::{sync_dir, Warehouse};
use crate::config::regulator::Regulator;

/// The notice languages that ship, with their embedded templates.
const EMBEDDED: [(Lang, &str); 2] = [
    (Lang::ZhCn, include_str!("../../ops/templates/notice.zh-CN.html")),
    (Lang::En, include_str!("../../ops/templates/notice.en.html")),
];

/// Largest objection attachment accepted, in bytes.
pub const MAX_ATTACHMENT_BYTES: u64 = 20 * 1024 * 1024;

/// A notice's language.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Lang {
    #[default]
    ZhCn,
    En,
}

impl Lang {
    pub fn as_str(self) -> &'static str {
        match self {
            Lang::ZhCn => "zh-CN",
            Lang::En => "en",
        }
    }

    pub fn parse(s: &str) -> Option<Lang> {
        match s {
            "zh-CN" | "zh" => Some(Lang::ZhCn),
            "en" => Some(Lang::En),
            _ => None,
        }
    }
}

impl std::str::FromStr for Lang {
    type Err = String;
    fn from_str(s: &str) -> Result<Lang, String> {
        Lang::parse(s).ok_or_else(|| format!("'{s}' is not a notice language (zh-CN, en)"))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum NoticeError {
    #[error("notice template {file}: {source}")]
    Template { file: String, source: minijinja::Error },
    #[error("{what}: {source}")]
    Io { what: String, source: std::io::Error },
    #[error("{path}: the file does not match the SHA-256 its decision recorded (expected {expected}, found {found}); it is not shown")]
    Tampered { path: String, expected: String, found: String },
    #[error("'{0}' is not a document path under notices/")]
    BadPath(String),
    #[error("attachment {path}: {problem}")]
    Attachment { path: String, problem: String },
}

impl Classify for NoticeError {
    fn kind(&self) -> ErrorKind {
        match self {
            NoticeError::Io { source, .. } => Classify::kind(source),
            _ => ErrorKind::Input,
        }
    }
}

/// The templates and the regulator notices are rendered with.
pub struct Notices {
    env: minijinja::Environment<'static>,
    pub regulator: Regulator,
}

impl Notices {
    /// The templates in `dir` (`notice.zh-CN.html`, `notice.en.html`), or
    /// the embedded ones; each is compiled now, so a broken template is
    /// refused before any notice is issued.
    pub fn load(dir: Option<&Path>, regulator: Regulator) -> Result<Notices, NoticeError> {
        let mut env = minijinja::Environment::new();
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Lenient);
        for (lang, embedded) in EMBEDDED {
            let name = format!("notice.{}.html", lang.as_str());
            let text = match dir {
                None => embedded.to_string(),
                Some(d) => std::fs::read_to_string(d.join(&name)).map_err(|source| NoticeError::Io {
                    what: format!("reading {}", d.join(&name).display()),
                    source,
                })?,
            };
            env.add_template_owned(name.clone(), text)
                .map_err(|source| NoticeError::Template { file: name.clone(), source })?;
        }
        Ok(Notices { env, regulator })
    }

    /// The notice document of `facts` in `lang`.
    pub fn render(&self, lang: Lang, facts: &NoticeFacts) -> Result<String, NoticeError> {
        let name = format!("notice.{}.html", lang.as_str());
        let template =
            self.env.get_template(&name).map_err(|source| NoticeError::Template { file: name.clone(), source })?;
        let regulator = minijinja::context! {
            name => self.regulator.name.get(lang.as_str()),
            address => self.regulator.address.get(lang.as_str()),
            contact => self.regulator.contact.get(lang.as_str()),
        };
        template
            .render(minijinja::context! {
                notice => &facts.notice,
                regulator => regulator,
                entity => &facts.entity,
                list => &facts.list,
                basis => &facts.basis,
                reasons => &facts.reasons,
                joint => &facts.joint,
            })
            .map_err(|source| NoticeError::Template { file: name, source })
    }
}

/// Everything a notice says, in the shape the templates read.
#[derive(Clone, Debug, serde::Serialize)]
pub struct NoticeFacts {
    pub notice: NoticeHeader,
    pub entity: NoticeEntity,
    pub list: NoticeList,
    /// `direct` or `joint`.
    pub basis: String,
    /// A direct member's reasons with the records behind them.
    pub reasons: Vec<NoticeReason>,
    /// A joint member's rules, path and roots.
    pub joint: Option<NoticeJoint>,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct NoticeHeader {
    pub id: String,
    pub date: String,
    pub date_zh: String,
    pub deadline: String,
    pub deadline_zh: String,
    pub days: u32,
}

impl NoticeHeader {
    pub fn new(id: &str, date: AsOf, deadline: AsOf, days: u32) -> NoticeHeader {
        NoticeHeader {
            id: id.to_string(),
            date: date.to_string(),
            date_zh: chinese_date(date),
            deadline: deadline.to_string(),
            deadline_zh: chinese_date(deadline),
            days,
        }
    }
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct NoticeEntity {
    pub id: String,
    pub name: String,
    pub region: String,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct NoticeList {
    pub id: String,
    pub title: String,
    pub legal_basis: Option<String>,
    pub measures: Vec<String>,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct NoticeReason {
    pub rule_id: String,
    pub title: Option<String>,
    pub records: Vec<NoticeRecord>,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct NoticeRecord {
    pub id: String,
    pub dataset: String,
    pub date: String,
    /// The record's contract columns with a value.
    pub fields: BTreeMap<String, String>,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct NoticeJoint {
    pub rules: Vec<String>,
    pub via: Vec<NoticeVia>,
    pub roots: Vec<String>,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct NoticeVia {
    pub id: String,
    pub relation: String,
    pub share_pct: Option<String>,
}

/// `2026年12月13日`.
pub fn chinese_date(d: AsOf) -> String {
    use chrono::Datelike;
    let d = d.date();
    format!("{}年{}月{}日", d.year(), d.month(), d.day())
}

/// A new notice id: the day and eight random hex digits.
pub fn new_notice_id(today: AsOf) -> String {
    use rand::RngCore;
    format!("N{}-{:08x}", today.date().format("%Y%m%d"), rand::rng().next_u32())
}

/// The folder of a member's due-process documents, relative to the warehouse.
pub fn documents_dir(list: &str, entity: &str) -> PathBuf {
    Path::new("notices").join(list).join(entity)
}

/// A document written under the warehouse: its path (relative) and SHA-256.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stored {
    pub path: String,
    pub sha256: String,
}

/// Writes `bytes` to `relative` under the warehouse, never over an
/// existing file, owner-only (0600), flushed with its folder.
pub fn store_document(wh: &Warehouse, relative: &Path, bytes: &[u8]) -> Result<Stored, NoticeError> {
    let path = wh.root().join(relative);
    let io = |what: &str| {
        let what = format!("{what} {}", path.display());
        move |source| NoticeError::Io { what, source }
    };
    let dir = path.parent().expect("a document lives in a folder");
    std::fs::create_dir_all(dir).map_err(io("creating the folder of"))?;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&path)
        .map_err(io("creating"))?;
    f.write_all(bytes).map_err(io("writing"))?;
    f.sync_all().map_err(io("flushing"))?;
    sync_dir(dir).map_err(io("flushing the folder of"))?;
    Ok(Stored { path: relative.to_string_lossy().into_owned(), sha256: hex::encode(sha2::Sha256::digest(bytes)) })
}

/// Reads a stored document back, refusing a path outside `notices/`, a
/// symbolic link, or content that does not match `sha256`.
pub fn read_document(wh: &Warehouse, relative: &str, sha256: &str) -> Result<Vec<u8>, NoticeError> {
    let rel = Path::new(relative);
    let plain = rel.components().all(|c| matches!(c, std::path::Component::Normal(_)));
    if !plain || !rel.starts_with("notices") {
        return Err(NoticeError::BadPath(relative.to_string()));
    }
    let path = wh.root().join(rel);
    let io = |source| NoticeError::Io { what: format!("reading {relative}"), source };
    let mut f = std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW).open(&path).map_err(io)?;
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes).map_err(io)?;
    let found = hex::encode(sha2::Sha256::digest(&bytes));
    if found != sha256 {
        return Err(NoticeError::Tampered { path: relative.to_string(), expected: sha256.to_string(), found });
    }
    Ok(bytes)
}

/// Reads an objection attachment an officer gives: a regular file (not a
/// link), at most [`MAX_ATTACHMENT_BYTES`]; returns its bytes and the
/// extension it is stored with.
pub fn read_attachment(path: &Path) -> Result<(Vec<u8>, String), NoticeError> {
    let shown = path.display().to_string();
    let problem = |p: String| NoticeError::Attachment { path: shown.clone(), problem: p };
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| problem(e.to_string()))?;
    let meta = f.metadata().map_err(|e| problem(e.to_string()))?;
    if !meta.is_file() {
        return Err(problem("not a regular file".into()));
    }
    if meta.len() > MAX_ATTACHMENT_BYTES {
        return Err(problem(format!("{} bytes, more than the {MAX_ATTACHMENT_BYTES} accepted", meta.len())));
    }
    let mut bytes = Vec::new();
    f.take(MAX_ATTACHMENT_BYTES + 1).read_to_end(&mut bytes).map_err(|e| problem(e.to_string()))?;
    Ok((bytes, attachment_extension(&shown)))
}

/// The extension an attachment is stored with, from the name it came
/// with: its own when short and alphanumeric (lower-cased), else `bin`.
/// The stored name is always credence's own; only this part is kept.
pub fn attachment_extension(name: &str) -> String {
    Path::new(name)
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .filter(|e| !e.is_empty() && e.len() <= 8 && e.bytes().all(|c| c.is_ascii_alphanumeric()))
        .unwrap_or_else(|| "bin".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_are_written_once_and_checked_when_read() {
        let dir = tempfile::tempdir().unwrap();
        let wh = Warehouse::new(dir.path());
        let rel = documents_dir("l", "E1").join("N1.html");
        let s = store_document(&wh, &rel, b"<p>notice</p>").unwrap();
        assert_eq!(read_document(&wh, &s.path, &s.sha256).unwrap(), b"<p>notice</p>");
        assert!(store_document(&wh, &rel, b"again").is_err(), "never written over");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(dir.path().join(&rel)).unwrap().permissions().mode() & 0o777, 0o600);
        std::fs::write(dir.path().join(&rel), b"<p>forged</p>").unwrap();
        assert!(matches!(read_document(&wh, &s.path, &s.sha256), Err(NoticeError::Tampered { .. })));
        assert!(matches!(read_document(&wh, "notices/../warehouse.db", &s.sha256), Err(NoticeError::BadPath(_))));
        assert!(matches!(read_document(&wh, "marts/x", &s.sha256), Err(NoticeError::BadPath(_))));
    }

    /// A document replaced by a link is not followed, even to a file of the
    /// very content its decision recorded.
    #[test]
    fn a_document_replaced_by_a_link_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let wh = Warehouse::new(dir.path());
        let rel = documents_dir("l", "E1").join("N1.html");
        let s = store_document(&wh, &rel, b"<p>notice</p>").unwrap();
        let elsewhere = dir.path().join("copy.html");
        std::fs::write(&elsewhere, b"<p>notice</p>").unwrap();
        std::fs::remove_file(dir.path().join(&rel)).unwrap();
        std::os::unix::fs::symlink(&elsewhere, dir.path().join(&rel)).unwrap();
        let refused = read_document(&wh, &s.path, &s.sha256).unwrap_err();
        assert!(matches!(refused, NoticeError::Io { .. }), "{refused}");
    }

    /// A notice language is `zh-CN` (or `zh`) or `en`; anything else is
    /// refused by name, never read as the default.
    #[test]
    fn notice_languages_are_named_exactly() {
        for (text, lang) in [("zh-CN", Lang::ZhCn), ("zh", Lang::ZhCn), ("en", Lang::En)] {
            assert_eq!(text.parse::<Lang>(), Ok(lang), "{text}");
        }
        for odd in ["fr", "EN", "zh-TW", ""] {
            assert_eq!(odd.parse::<Lang>(), Err(format!("'{odd}' is not a notice language (zh-CN, en)")));
        }
    }

    /// An attachment is a regular file of at most the limit, never a link
    /// or a folder, stored with its own short extension (a mutant that
    /// doubled the limit survived every test; nothing tested this).
    #[test]
    fn attachments_are_regular_files_up_to_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let at_limit = dir.path().join("statement.PDF");
        std::fs::File::create(&at_limit).unwrap().set_len(MAX_ATTACHMENT_BYTES).unwrap();
        let (bytes, ext) = read_attachment(&at_limit).unwrap();
        assert_eq!((bytes.len() as u64, ext.as_str()), (MAX_ATTACHMENT_BYTES, "pdf"));
        let over = dir.path().join("big.pdf");
        std::fs::File::create(&over).unwrap().set_len(MAX_ATTACHMENT_BYTES + 1).unwrap();
        let refused = read_attachment(&over).unwrap_err().to_string();
        assert!(
            refused.contains(&format!(
                "{} bytes, more than the {MAX_ATTACHMENT_BYTES} accepted",
                MAX_ATTACHMENT_BYTES + 1
            )),
            "{refused}"
        );
        let link = dir.path().join("link.pdf");
        std::os::unix::fs::symlink(&at_limit, &link).unwrap();
        assert!(matches!(read_attachment(&link), Err(NoticeError::Attachment { .. })), "a link is not followed");
        let folder = dir.path().join("folder.pdf");
        std::fs::create_dir(&folder).unwrap();
        let refused = read_attachment(&folder).unwrap_err().to_string();
        assert!(refused.contains("not a regular file"), "{refused}");
        assert_eq!(attachment_extension("scan.tar.gz"), "gz");
        for odd in ["noext", "x.", "x.verylongext", "x.p-d"] {
            assert_eq!(attachment_extension(odd), "bin", "{odd}");
        }
    }

    /// Fixed facts of a direct and a joint member, with text that must be escaped.
    fn facts(joint: bool) -> NoticeFacts {
        let record = |id: &str, dataset: &str, fields: &[(&str, &str)]| NoticeRecord {
            id: id.into(),
            dataset: dataset.into(),
            date: "2026-06-01".into(),
            fields: fields.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        };
        NoticeFacts {
            notice: NoticeHeader::new(
                "N20261203-0a1b2c3d",
                "2026-12-03".parse().unwrap(),
                "2026-12-13".parse().unwrap(),
                10,
            ),
            entity: NoticeEntity {
                id: "91650100MA0000001X".into(),
                name: "Harbor <Lights> & Co.".into(),
                region: "650100".into(),
            },
            list: NoticeList {
                id: "serious-dishonesty".into(),
                title: "List of seriously dishonest market entities".into(),
                legal_basis: Some("SAMR Order No. 44, Article 2".into()),
                measures: vec!["public_procurement_ban".into(), "enhanced_inspection".into(), "custom_measure".into()],
            },
            basis: if joint { "joint" } else { "direct" }.into(),
            reasons: if joint {
                vec![]
            } else {
                vec![
                    NoticeReason {
                        rule_id: "DG_FRAUD".into(),
                        title: Some("Fraud or counterfeit, serious".into()),
                        records: vec![record(
                            "V-1",
                            "violations",
                            &[
                                ("category", "counterfeit"),
                                ("severity", "grave"),
                                ("fine_cny", "50000.00"),
                                ("status", "effective"),
                            ],
                        )],
                    },
                    NoticeReason {
                        rule_id: "C_UNRESOLVED".into(),
                        title: None,
                        records: vec![record(
                            "C-9",
                            "complaints",
                            &[("category", "refund"), ("outcome", "unresolved")],
                        )],
                    },
                ]
            },
            joint: joint.then(|| NoticeJoint {
                rules: vec!["JS_CONTROL".into()],
                via: vec![NoticeVia {
                    id: "91650100MA0000002Y".into(),
                    relation: "control".into(),
                    share_pct: Some("60".into()),
                }],
                roots: vec!["91650100MA0000002Y".into()],
            }),
        }
    }

    #[test]
    fn each_notice_template_renders_its_golden_file() {
        let notices = Notices::load(None, crate::config::regulator::load_or_default(None).unwrap()).unwrap();
        let dir = crate::repo_root().join("tests/golden");
        for lang in [Lang::ZhCn, Lang::En] {
            for joint in [false, true] {
                let html = notices.render(lang, &facts(joint)).unwrap();
                let name = format!("notice-{}-{}.html", if joint { "joint" } else { "direct" }, lang.as_str());
                let path = dir.join(&name);
                if std::env::var("UPDATE_GOLDEN").is_ok() {
                    std::fs::write(&path, &html).unwrap();
                }
                let expected =
                    std::fs::read_to_string(&path).unwrap_or_else(|_| panic!("{name}: run with UPDATE_GOLDEN=1"));
                assert_eq!(html, expected, "{name} differs from its golden file (UPDATE_GOLDEN=1 rewrites it)");
                assert!(html.contains("Harbor &lt;Lights&gt; &amp; Co."), "{name}: escaped");
            }
        }
    }

    #[test]
    fn a_broken_template_is_refused_when_loaded() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("notice.zh-CN.html"), "{% if %}").unwrap();
        std::fs::write(dir.path().join("notice.en.html"), "ok").unwrap();
        let e =
            Notices::load(Some(dir.path()), crate::config::regulator::load_or_default(None).unwrap()).err().unwrap();
        assert!(e.to_string().starts_with("notice template notice.zh-CN.html:"), "{e}");
    }

    #[test]
    fn chinese_dates_read_as_an_official_document_writes_them() {
        assert_eq!(chinese_date("2026-12-03".parse().unwrap()), "2026年12月3日");
    }
}
