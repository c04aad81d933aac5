//! Evidence: files and links attached to an action instance to show that a control works.
//!
//! A file counts only once what arrived has been checked: its size, its type by magic bytes
//! against its extension, and its SHA-256. These checks are pure functions here; the adapters
//! feed them bytes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::action::InstanceRef;
use crate::ids::{AssessmentId, EvidenceId, UserId};
use crate::DomainError;

/// Default largest file, in bytes (configurable).
pub const DEFAULT_MAX_FILE_BYTES: u64 = 100 * 1024 * 1024;
/// How many leading bytes type detection reads.
pub const SNIFF_BYTES: usize = 64 * 1024;
/// Longest file name, in characters (Unicode code points, as JSON Schema's `maxLength` counts
/// them), after trimming. Storage never derives a name from it: objects are keyed by evidence
/// id, and the file name comes back only in `Content-Disposition`.
pub const MAX_FILE_NAME_CHARS: usize = 255;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceKind {
    Document,
    Link,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceStatus {
    /// Declared; the file has not arrived or not been checked yet.
    Pending,
    /// Checked: it counts as evidence.
    Verified,
    /// What arrived failed a check; the object was removed.
    Rejected,
}

impl EvidenceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            EvidenceStatus::Pending => "pending",
            EvidenceStatus::Verified => "verified",
            EvidenceStatus::Rejected => "rejected",
        }
    }
}

/// One piece of evidence: what files and links have in common, and the item itself.
///
/// Stored and sent as one flat JSON object: `kind`, then the fields of both kinds, `null`
/// where they do not apply — the form evidence records have always had.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "EvidenceRecord", try_from = "EvidenceRecord")]
pub struct Evidence {
    pub id: EvidenceId,
    /// The action instance it is attached to.
    pub action: InstanceRef,
    /// The file name, or the link's name.
    pub name: String,
    pub item: EvidenceItem,
    pub created_by: UserId,
    pub created_at: DateTime<Utc>,
    /// Archived assessments whose snapshot links to it: it outlives its removal from the action.
    pub archived_in: Vec<AssessmentId>,
}

/// A file or a link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EvidenceItem {
    Document(DocumentEvidence),
    /// Nothing arrives for a link: it counts from the moment it is declared.
    Link {
        url: String,
        /// When it was accepted (a copy keeps its original's).
        checked_at: DateTime<Utc>,
    },
}

/// A declared file and what the check of what arrived found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentEvidence {
    pub content_type: String,
    pub declared_size: u64,
    /// What arrived: its size, hash and type by magic bytes (once checked).
    pub size: Option<u64>,
    pub sha256: Option<String>,
    pub detected_type: Option<String>,
    pub status: EvidenceStatus,
    /// Why it was rejected.
    pub reason: Option<String>,
    pub checked_at: Option<DateTime<Utc>>,
}

impl Evidence {
    /// A declared file, pending until what arrives has been checked.
    pub fn pending_document(
        id: EvidenceId,
        action: InstanceRef,
        file_name: &str,
        content_type: &str,
        size: u64,
        by: &UserId,
        at: DateTime<Utc>,
    ) -> Self {
        let document = DocumentEvidence {
            content_type: content_type.to_owned(),
            declared_size: size,
            size: None,
            sha256: None,
            detected_type: None,
            status: EvidenceStatus::Pending,
            reason: None,
            checked_at: None,
        };
        Self::new(
            id,
            action,
            file_name,
            EvidenceItem::Document(document),
            by,
            at,
        )
    }

    /// A link: nothing arrives, so it counts at once.
    pub fn link(
        id: EvidenceId,
        action: InstanceRef,
        name: &str,
        url: &str,
        by: &UserId,
        at: DateTime<Utc>,
    ) -> Self {
        let item = EvidenceItem::Link {
            url: url.trim().to_owned(),
            checked_at: at,
        };
        Self::new(id, action, name, item, by, at)
    }

    fn new(
        id: EvidenceId,
        action: InstanceRef,
        name: &str,
        item: EvidenceItem,
        by: &UserId,
        at: DateTime<Utc>,
    ) -> Self {
        Self {
            id,
            action,
            name: name.trim().to_owned(),
            item,
            created_by: by.clone(),
            created_at: at,
            archived_in: Vec::new(),
        }
    }

    pub fn kind(&self) -> EvidenceKind {
        match self.item {
            EvidenceItem::Document(_) => EvidenceKind::Document,
            EvidenceItem::Link { .. } => EvidenceKind::Link,
        }
    }

    /// A link counts at once; a file once what arrived passed the checks.
    pub fn status(&self) -> EvidenceStatus {
        match &self.item {
            EvidenceItem::Document(d) => d.status,
            EvidenceItem::Link { .. } => EvidenceStatus::Verified,
        }
    }

    pub fn document(&self) -> Option<&DocumentEvidence> {
        match &self.item {
            EvidenceItem::Document(d) => Some(d),
            EvidenceItem::Link { .. } => None,
        }
    }

    pub fn url(&self) -> Option<&str> {
        match &self.item {
            EvidenceItem::Link { url, .. } => Some(url),
            EvidenceItem::Document(_) => None,
        }
    }

    /// The outcome of checking what arrived for a pending file — `size` bytes hashing to
    /// `sha256`, starting with `head` (the first [`SNIFF_BYTES`] or all) — checked `at`:
    /// verified with its detected type, or rejected with the reason to show. `None` for a link
    /// or a file already checked.
    pub fn checked(
        &self,
        size: u64,
        sha256: &str,
        head: &[u8],
        at: DateTime<Utc>,
    ) -> Option<Evidence> {
        let document = self.document()?;
        if document.status != EvidenceStatus::Pending {
            return None;
        }
        let verdict = match file_type_of(&self.name) {
            Some(t) => verify_content(t, document.declared_size, size, head),
            None => Err("the file's type is not accepted".to_owned()),
        };
        let (status, detected_type, reason) = match verdict {
            Ok(v) => (EvidenceStatus::Verified, Some(v.detected_type), None),
            Err(reason) => (EvidenceStatus::Rejected, None, Some(reason)),
        };
        let checked = DocumentEvidence {
            size: Some(size),
            sha256: Some(sha256.to_owned()),
            detected_type,
            status,
            reason,
            checked_at: Some(at),
            ..document.clone()
        };
        Some(Evidence {
            item: EvidenceItem::Document(checked),
            ..self.clone()
        })
    }
}

/// How evidence is stored and sent: one flat object with the fields of both kinds. Records
/// written before [`Evidence`] was an enum of kinds read back the same (and write back
/// byte for byte the same).
#[derive(Serialize, Deserialize)]
struct EvidenceRecord {
    id: EvidenceId,
    action: String,
    kind: EvidenceKind,
    name: String,
    url: Option<String>,
    content_type: Option<String>,
    declared_size: Option<u64>,
    size: Option<u64>,
    sha256: Option<String>,
    detected_type: Option<String>,
    status: EvidenceStatus,
    reason: Option<String>,
    created_by: UserId,
    created_at: DateTime<Utc>,
    checked_at: Option<DateTime<Utc>>,
    #[serde(default)]
    archived_in: Vec<AssessmentId>,
}

impl From<Evidence> for EvidenceRecord {
    fn from(e: Evidence) -> Self {
        let kind = e.kind();
        let status = e.status();
        let mut record = EvidenceRecord {
            id: e.id,
            action: e.action.api_id(),
            kind,
            name: e.name,
            url: None,
            content_type: None,
            declared_size: None,
            size: None,
            sha256: None,
            detected_type: None,
            status,
            reason: None,
            created_by: e.created_by,
            created_at: e.created_at,
            checked_at: None,
            archived_in: e.archived_in,
        };
        match e.item {
            EvidenceItem::Document(d) => {
                record.content_type = Some(d.content_type);
                record.declared_size = Some(d.declared_size);
                record.size = d.size;
                record.sha256 = d.sha256;
                record.detected_type = d.detected_type;
                record.reason = d.reason;
                record.checked_at = d.checked_at;
            }
            EvidenceItem::Link { url, checked_at } => {
                record.url = Some(url);
                record.checked_at = Some(checked_at);
            }
        }
        record
    }
}

impl TryFrom<EvidenceRecord> for Evidence {
    type Error = String;

    fn try_from(r: EvidenceRecord) -> Result<Self, String> {
        let action = InstanceRef::parse(&r.action)
            .ok_or_else(|| format!("evidence {} names action {:?}", r.id, r.action))?;
        let missing = |field: &str| format!("evidence {} ({:?}) has no {field}", r.id, r.kind);
        let item = match r.kind {
            EvidenceKind::Document => EvidenceItem::Document(DocumentEvidence {
                content_type: r.content_type.ok_or_else(|| missing("content_type"))?,
                declared_size: r.declared_size.ok_or_else(|| missing("declared_size"))?,
                size: r.size,
                sha256: r.sha256,
                detected_type: r.detected_type,
                status: r.status,
                reason: r.reason,
                checked_at: r.checked_at,
            }),
            EvidenceKind::Link => EvidenceItem::Link {
                url: r.url.ok_or_else(|| missing("url"))?,
                checked_at: r.checked_at.unwrap_or(r.created_at),
            },
        };
        Ok(Evidence {
            id: r.id,
            action,
            name: r.name,
            item,
            created_by: r.created_by,
            created_at: r.created_at,
            archived_in: r.archived_in,
        })
    }
}

/// How a file of one extension must look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileType {
    pub extension: &'static str,
    /// Content types a client may declare for it.
    pub content_types: &'static [&'static str],
    /// MIME types magic-byte detection may find for it; empty: text (valid UTF-8, no NUL).
    pub magic: &'static [&'static str],
}

const OOXML_WORD: &str = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
const OOXML_SHEET: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
const OOXML_SLIDES: &str =
    "application/vnd.openxmlformats-officedocument.presentationml.presentation";
const CFB: &str = "application/x-ole-storage";

/// The seeds' accepted types plus the modern Office formats, CSV and JSON.
pub const FILE_TYPES: &[FileType] = &[
    FileType {
        extension: "pdf",
        content_types: &["application/pdf"],
        magic: &["application/pdf"],
    },
    FileType {
        extension: "png",
        content_types: &["image/png"],
        magic: &["image/png"],
    },
    FileType {
        extension: "jpg",
        content_types: &["image/jpeg"],
        magic: &["image/jpeg"],
    },
    FileType {
        extension: "jpeg",
        content_types: &["image/jpeg"],
        magic: &["image/jpeg"],
    },
    FileType {
        extension: "txt",
        content_types: &["text/plain"],
        magic: &[],
    },
    FileType {
        extension: "csv",
        content_types: &["text/csv", "text/plain"],
        magic: &[],
    },
    FileType {
        extension: "json",
        content_types: &["application/json"],
        magic: &[],
    },
    FileType {
        extension: "zip",
        content_types: &["application/zip", "application/x-zip-compressed"],
        magic: &["application/zip"],
    },
    FileType {
        extension: "rar",
        content_types: &["application/vnd.rar", "application/x-rar-compressed"],
        magic: &["application/vnd.rar", "application/x-rar-compressed"],
    },
    FileType {
        extension: "mkv",
        content_types: &["video/x-matroska"],
        magic: &["video/x-matroska"],
    },
    FileType {
        extension: "doc",
        content_types: &["application/msword"],
        magic: &["application/msword", CFB],
    },
    FileType {
        extension: "xls",
        content_types: &["application/vnd.ms-excel"],
        magic: &["application/vnd.ms-excel", CFB],
    },
    FileType {
        extension: "ppt",
        content_types: &["application/vnd.ms-powerpoint"],
        magic: &["application/vnd.ms-powerpoint", CFB],
    },
    // An Office Open XML file is a zip; detection from its first bytes may see only that.
    FileType {
        extension: "docx",
        content_types: &[OOXML_WORD],
        magic: &[OOXML_WORD, "application/zip"],
    },
    FileType {
        extension: "xlsx",
        content_types: &[OOXML_SHEET],
        magic: &[OOXML_SHEET, "application/zip"],
    },
    FileType {
        extension: "pptx",
        content_types: &[OOXML_SLIDES],
        magic: &[OOXML_SLIDES, "application/zip"],
    },
];

/// Why a declared file is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeclarationError {
    /// 415
    #[error("{0}")]
    Unsupported(String),
    /// 413
    #[error("{0}")]
    TooLarge(String),
    /// 422
    #[error(transparent)]
    Invalid(#[from] DomainError),
}

fn extension(file_name: &str) -> Option<String> {
    let (_, ext) = file_name.rsplit_once('.')?;
    Some(ext.to_ascii_lowercase())
}

/// Checks a file before its upload: name, type and size.
pub fn check_declaration(
    file_name: &str,
    content_type: &str,
    size: u64,
    max: u64,
) -> Result<&'static FileType, DeclarationError> {
    let name = file_name.trim();
    if name.is_empty()
        || name.chars().count() > MAX_FILE_NAME_CHARS
        || name
            .chars()
            .any(|c| c.is_control() || c == '/' || c == '\\')
    {
        return Err(DomainError::invalid(
            "file_name",
            format!(
                "give a plain file name of 1 to {MAX_FILE_NAME_CHARS} characters, without / or \\"
            ),
        )
        .into());
    }
    let allowed: Vec<&str> = FILE_TYPES.iter().map(|t| t.extension).collect();
    let ext = extension(name).unwrap_or_default();
    let file_type = FILE_TYPES
        .iter()
        .find(|t| t.extension == ext)
        .ok_or_else(|| {
            DeclarationError::Unsupported(format!(
                "files of type .{ext} are not accepted as evidence; accepted: .{}",
                allowed.join(" .")
            ))
        })?;
    let declared = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if !file_type.content_types.contains(&declared.as_str()) {
        return Err(DeclarationError::Unsupported(format!(
            "content_type {declared:?} does not match a .{ext} file; use {}",
            file_type.content_types.join(" or ")
        )));
    }
    if size == 0 {
        return Err(DomainError::invalid("size", "an empty file is no evidence").into());
    }
    if size > max {
        return Err(DeclarationError::TooLarge(format!(
            "the file is {size} bytes; at most {max} are accepted"
        )));
    }
    Ok(file_type)
}

/// The file type a stored file name declares.
pub fn file_type_of(file_name: &str) -> Option<&'static FileType> {
    let ext = extension(file_name)?;
    FILE_TYPES.iter().find(|t| t.extension == ext)
}

/// What verification found in an arrived file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub size: u64,
    pub detected_type: String,
}

/// Checks what arrived: its size against the declaration and its leading bytes against the
/// extension. `head` holds the first [`SNIFF_BYTES`] (or all) of the file. The error is the
/// reason to show the user.
pub fn verify_content(
    file_type: &FileType,
    declared_size: u64,
    actual_size: u64,
    head: &[u8],
) -> Result<Verified, String> {
    if actual_size != declared_size {
        return Err(format!(
            "{actual_size} bytes arrived but {declared_size} were declared"
        ));
    }
    if file_type.magic.is_empty() {
        if head.contains(&0) {
            return Err(format!(
                "a .{} file must be text, but this one holds binary data",
                file_type.extension
            ));
        }
        // A cut in the middle of a character at the end of `head` is fine.
        if let Err(e) = std::str::from_utf8(head) {
            if e.error_len().is_some() {
                return Err(format!(
                    "a .{} file must be UTF-8 text",
                    file_type.extension
                ));
            }
        }
        if file_type.extension == "json" {
            let first = head.iter().find(|b| !b.is_ascii_whitespace());
            if !matches!(first, Some(b'{') | Some(b'[')) {
                return Err("a .json file must hold a JSON object or array".into());
            }
        }
        return Ok(Verified {
            size: actual_size,
            detected_type: file_type.content_types[0].to_owned(),
        });
    }
    match infer::get(head) {
        Some(t) if file_type.magic.contains(&t.mime_type()) => Ok(Verified {
            size: actual_size,
            detected_type: t.mime_type().to_owned(),
        }),
        Some(t) => Err(format!(
            "the file's content is {} (.{}), not what its .{} name says",
            t.mime_type(),
            t.extension(),
            file_type.extension
        )),
        None => Err(format!(
            "the file's content is not a .{} file",
            file_type.extension
        )),
    }
}

/// Checks a link: http or https with a host, at most 2048 characters.
pub fn check_link(name: &str, url: &str) -> Result<(), DomainError> {
    if name.trim().is_empty() || name.chars().count() > 255 {
        return Err(DomainError::invalid(
            "name",
            "give a name of 1 to 255 characters",
        ));
    }
    let lower = url.trim().to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
        .ok_or_else(|| DomainError::invalid("url", "only http and https links are accepted"))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty()
        || url.len() > 2048
        || url.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(DomainError::invalid("url", "not a valid link"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = &[
        0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, b'I', b'H', b'D', b'R',
    ];

    #[test]
    fn declarations_are_checked_by_extension_type_and_size() {
        let pdf = check_declaration(
            "SOC 2 report.PDF",
            "application/pdf",
            1000,
            DEFAULT_MAX_FILE_BYTES,
        )
        .unwrap();
        assert_eq!(pdf.extension, "pdf");
        assert!(matches!(
            check_declaration("setup.exe", "application/octet-stream", 10, 100),
            Err(DeclarationError::Unsupported(_))
        ));
        assert!(matches!(
            check_declaration("noext", "application/pdf", 10, 100),
            Err(DeclarationError::Unsupported(_))
        ));
        assert!(matches!(
            check_declaration("a.pdf", "image/png", 10, 100),
            Err(DeclarationError::Unsupported(_))
        ));
        assert!(matches!(
            check_declaration("a.pdf", "application/pdf", 101, 100),
            Err(DeclarationError::TooLarge(_))
        ));
        assert!(matches!(
            check_declaration("a.pdf", "application/pdf", 0, 100),
            Err(DeclarationError::Invalid(_))
        ));
        assert!(matches!(
            check_declaration("../a.pdf", "application/pdf", 1, 100),
            Err(DeclarationError::Invalid(_))
        ));
        // The name's limit is in characters, whatever their UTF-8 length.
        for c in ["a", "é", "文"] {
            let at_limit = format!("{}.pdf", c.repeat(MAX_FILE_NAME_CHARS - 4));
            assert!(
                check_declaration(&at_limit, "application/pdf", 1, 100).is_ok(),
                "{c}"
            );
            let over = format!("{c}{at_limit}");
            match check_declaration(&over, "application/pdf", 1, 100) {
                Err(DeclarationError::Invalid(e)) => {
                    assert!(e.to_string().contains("file_name"), "{e}")
                }
                other => panic!("{c}: {other:?}"),
            }
        }
        for t in FILE_TYPES {
            let name = format!("f.{}", t.extension);
            assert!(
                check_declaration(&name, t.content_types[0], 1, 100).is_ok(),
                "{name}"
            );
        }
    }

    #[test]
    fn content_must_match_the_extension() {
        let png = file_type_of("shot.png").unwrap();
        let pdf = file_type_of("report.pdf").unwrap();
        assert_eq!(
            verify_content(png, 16, 16, PNG).unwrap().detected_type,
            "image/png"
        );
        let err = verify_content(pdf, 16, 16, PNG).unwrap_err();
        assert!(err.contains("image/png"), "{err}");
        assert!(verify_content(pdf, 8, 8, b"%PDF-1.4").is_ok());
        assert!(verify_content(pdf, 9, 8, b"%PDF-1.4")
            .unwrap_err()
            .contains("declared"));
        assert!(verify_content(pdf, 5, 5, b"hello").is_err());
    }

    #[test]
    fn text_types_must_be_text() {
        let txt = file_type_of("notes.txt").unwrap();
        let json = file_type_of("export.json").unwrap();
        assert!(verify_content(txt, 5, 5, "héllo".as_bytes()).is_ok());
        assert!(verify_content(txt, 4, 4, b"a\0bc").is_err());
        assert!(verify_content(txt, 2, 2, &[0xff, 0xfe]).is_err());
        assert!(verify_content(json, 8, 8, b" {\"a\":1}").is_ok());
        assert!(verify_content(json, 5, 5, b"hello").is_err());
        assert!(verify_content(txt, 16, 16, PNG).is_err());
    }

    #[test]
    fn links_are_http_or_https() {
        assert!(check_link("Policy", "https://intranet.acme.test/policy").is_ok());
        assert!(check_link("Policy", "http://acme.test").is_ok());
        for bad in [
            "ftp://acme.test",
            "javascript:alert(1)",
            "https://",
            "https://a b",
            "acme.test",
        ] {
            assert!(check_link("x", bad).is_err(), "{bad}");
        }
        assert!(check_link("", "https://acme.test").is_err());
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn user(u: &str) -> UserId {
        UserId::parse(u).unwrap()
    }

    /// Records as the code before the enum of kinds stored them (and the API sent them),
    /// field for field: a verified file, a rejected one, a pending one without `archived_in`,
    /// a link, and a link copied into another group (its own creation time, its original's
    /// check time).
    const STORED: [&str; 5] = [
        r#"{"id":"0f8e3a1c","action":"encryption-at-rest","kind":"document","name":"Key policy.pdf","url":null,"content_type":"application/pdf","declared_size":15,"size":15,"sha256":"ab12","detected_type":"application/pdf","status":"verified","reason":null,"created_by":"cara","created_at":"2025-03-01T10:00:00Z","checked_at":"2025-03-01T10:01:00Z","archived_in":["a1"]}"#,
        r#"{"id":"e2","action":"infosec-policy@g1","kind":"document","name":"audit.pdf","url":null,"content_type":"application/pdf","declared_size":70,"size":70,"sha256":"cd34","detected_type":null,"status":"rejected","reason":"the file's content is image/png (.png), not what its .pdf name says","created_by":"cara","created_at":"2025-03-01T10:00:00Z","checked_at":"2025-03-01T10:01:00Z","archived_in":[]}"#,
        r#"{"id":"e3","action":"encryption-at-rest","kind":"document","name":"notes.txt","url":null,"content_type":"text/plain","declared_size":5,"size":null,"sha256":null,"detected_type":null,"status":"pending","reason":null,"created_by":"cara","created_at":"2025-03-01T10:00:00Z","checked_at":null}"#,
        r#"{"id":"e4","action":"encryption-at-rest","kind":"link","name":"KMS","url":"https://console.aws.amazon.com/kms","content_type":null,"declared_size":null,"size":null,"sha256":null,"detected_type":null,"status":"verified","reason":null,"created_by":"cara","created_at":"2025-03-01T10:00:00Z","checked_at":"2025-03-01T10:00:00Z","archived_in":[]}"#,
        r#"{"id":"9a0b","action":"infosec-policy@g2","kind":"link","name":"Policy","url":"https://intranet.acme.test/policy","content_type":null,"declared_size":null,"size":null,"sha256":null,"detected_type":null,"status":"verified","reason":null,"created_by":"ada","created_at":"2025-04-01T09:00:00Z","checked_at":"2025-03-01T10:00:00Z","archived_in":[]}"#,
    ];

    #[test]
    fn records_stored_before_the_enum_of_kinds_decode_and_encode_the_same() {
        let decoded: Vec<Evidence> = STORED
            .iter()
            .map(|s| serde_json::from_str(s).unwrap_or_else(|e| panic!("{s}: {e}")))
            .collect();
        let EvidenceItem::Document(verified) = &decoded[0].item else {
            panic!("{:?}", decoded[0])
        };
        assert_eq!(verified.status, EvidenceStatus::Verified);
        assert_eq!(
            (
                verified.declared_size,
                verified.size,
                verified.sha256.as_deref()
            ),
            (15, Some(15), Some("ab12"))
        );
        assert_eq!(decoded[0].archived_in, [AssessmentId::parse("a1").unwrap()]);
        assert_eq!(decoded[1].status(), EvidenceStatus::Rejected);
        assert_eq!(decoded[1].action.api_id(), "infosec-policy@g1");
        assert_eq!(decoded[2].status(), EvidenceStatus::Pending);
        assert!(decoded[2].archived_in.is_empty());
        assert_eq!(
            decoded[3].item,
            EvidenceItem::Link {
                url: "https://console.aws.amazon.com/kms".into(),
                checked_at: at("2025-03-01T10:00:00Z")
            }
        );
        assert_eq!(decoded[4].kind(), EvidenceKind::Link);
        for (stored, e) in STORED.iter().zip(&decoded) {
            let again = serde_json::to_value(e).unwrap();
            let mut want: serde_json::Value = serde_json::from_str(stored).unwrap();
            // Written without `archived_in`, it comes back with an empty one.
            want.as_object_mut()
                .unwrap()
                .entry("archived_in")
                .or_insert(serde_json::json!([]));
            assert_eq!(again, want);
        }
        assert_eq!(serde_json::to_string(&decoded[0]).unwrap(), STORED[0]);
    }

    #[test]
    fn records_that_cannot_be_evidence_are_refused() {
        for (from, to) in [
            (
                r#""content_type":"application/pdf""#,
                r#""content_type":null"#,
            ),
            (r#""declared_size":15"#, r#""declared_size":null"#),
            (r#""action":"encryption-at-rest""#, r#""action":"a#b""#),
            (r#""id":"0f8e3a1c""#, r#""id":"../x""#),
            (r#""created_by":"cara""#, r#""created_by":"""#),
        ] {
            let broken = STORED[0].replace(from, to);
            assert_ne!(broken, STORED[0]);
            assert!(serde_json::from_str::<Evidence>(&broken).is_err(), "{to}");
        }
        let no_url = STORED[3].replace(
            r#""url":"https://console.aws.amazon.com/kms""#,
            r#""url":null"#,
        );
        assert!(serde_json::from_str::<Evidence>(&no_url).is_err());
    }

    #[test]
    fn new_evidence_reads_as_it_always_did() {
        let action = InstanceRef::parse("encryption-at-rest").unwrap();
        let t = at("2025-03-01T10:00:00Z");
        let link = Evidence::link(
            EvidenceId::parse("e4").unwrap(),
            action.clone(),
            " KMS ",
            " https://console.aws.amazon.com/kms ",
            &user("cara"),
            t,
        );
        assert_eq!(serde_json::to_string(&link).unwrap(), STORED[3]);
        let pending = Evidence::pending_document(
            EvidenceId::parse("e3").unwrap(),
            action,
            "notes.txt",
            "text/plain",
            5,
            &user("cara"),
            t,
        );
        let mut want: serde_json::Value = serde_json::from_str(STORED[2]).unwrap();
        want["archived_in"] = serde_json::json!([]);
        assert_eq!(serde_json::to_value(&pending).unwrap(), want);
        assert_eq!(pending.url(), None);
        assert_eq!(link.url(), Some("https://console.aws.amazon.com/kms"));
    }

    #[test]
    fn a_check_verifies_or_rejects_a_pending_file_once() {
        let t = at("2025-03-01T10:00:00Z");
        let later = at("2025-03-01T10:05:00Z");
        let pending = |name: &str, size: u64| {
            Evidence::pending_document(
                EvidenceId::generate(),
                InstanceRef::parse("encryption-at-rest").unwrap(),
                name,
                "image/png",
                size,
                &user("cara"),
                t,
            )
        };
        let png = pending("shot.png", 16);
        let verified = png.checked(16, "ab", PNG, later).unwrap();
        let d = verified.document().unwrap();
        assert_eq!(d.status, EvidenceStatus::Verified);
        assert_eq!(
            (
                d.size,
                d.sha256.as_deref(),
                d.detected_type.as_deref(),
                d.checked_at
            ),
            (Some(16), Some("ab"), Some("image/png"), Some(later))
        );
        assert_eq!(verified.created_at, t);
        assert_eq!(verified.checked(16, "ab", PNG, later), None, "checked once");

        let short = png.checked(15, "cd", PNG, later).unwrap();
        assert_eq!(short.status(), EvidenceStatus::Rejected);
        assert!(short
            .document()
            .unwrap()
            .reason
            .as_deref()
            .unwrap()
            .contains("declared"));
        assert_eq!(short.document().unwrap().detected_type, None);

        let renamed = pending("shot.pdf", 16)
            .checked(16, "ab", PNG, later)
            .unwrap();
        assert!(renamed
            .document()
            .unwrap()
            .reason
            .as_deref()
            .unwrap()
            .contains("image/png"));
        let unknown = pending("shot.exe", 16)
            .checked(16, "ab", PNG, later)
            .unwrap();
        assert_eq!(unknown.status(), EvidenceStatus::Rejected);

        let link = Evidence::link(
            EvidenceId::generate(),
            InstanceRef::parse("encryption-at-rest").unwrap(),
            "KMS",
            "https://acme.test",
            &user("cara"),
            t,
        );
        assert_eq!(
            link.checked(16, "ab", PNG, later),
            None,
            "nothing arrives for a link"
        );
    }
}
