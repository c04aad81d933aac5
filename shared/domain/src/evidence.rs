//! Evidence: files and links attached to an action instance to show that a control works.
//!
//! A file counts only once what arrived has been checked: its size, its type by magic bytes
//! against its extension, and its SHA-256. These checks are pure functions here; the adapters
//! feed them bytes.

use serde::{Deserialize, Serialize};

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

/// One piece of evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    pub id: String,
    /// The action instance's API id.
    pub action: String,
    pub kind: EvidenceKind,
    /// The file name, or the link's name.
    pub name: String,
    pub url: Option<String>,
    pub content_type: Option<String>,
    pub declared_size: Option<u64>,
    pub size: Option<u64>,
    pub sha256: Option<String>,
    pub detected_type: Option<String>,
    pub status: EvidenceStatus,
    pub reason: Option<String>,
    pub created_by: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub checked_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Archived assessments whose snapshot links to it: it outlives its removal from the action.
    #[serde(default)]
    pub archived_in: Vec<String>,
}

impl Evidence {
    fn new(
        id: String,
        action: String,
        kind: EvidenceKind,
        name: &str,
        by: &str,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Self {
        Self {
            id,
            action,
            kind,
            name: name.trim().to_owned(),
            url: None,
            content_type: None,
            declared_size: None,
            size: None,
            sha256: None,
            detected_type: None,
            status: EvidenceStatus::Pending,
            reason: None,
            created_by: by.to_owned(),
            created_at: at,
            checked_at: None,
            archived_in: Vec::new(),
        }
    }

    /// A declared file, pending until what arrives has been checked.
    pub fn pending_document(
        id: String,
        action: String,
        file_name: &str,
        content_type: &str,
        size: u64,
        by: &str,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Self {
        Self {
            content_type: Some(content_type.to_owned()),
            declared_size: Some(size),
            ..Self::new(id, action, EvidenceKind::Document, file_name, by, at)
        }
    }

    /// A link: nothing arrives, so it counts at once.
    pub fn link(
        id: String,
        action: String,
        name: &str,
        url: &str,
        by: &str,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Self {
        Self {
            url: Some(url.trim().to_owned()),
            status: EvidenceStatus::Verified,
            checked_at: Some(at),
            ..Self::new(id, action, EvidenceKind::Link, name, by, at)
        }
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
}
