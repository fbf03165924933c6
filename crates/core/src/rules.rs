//! The path and file rules every dialect applies (SPEC section 3), in one place. Messages the
//! Jivox seed gives are reproduced verbatim; the others follow their pattern.

use crate::Code;
use crate::error::{Error, Result};

/// The union of the seeds' allowed types, in the order the reference config lists them.
pub const DEFAULT_EXTENSIONS: &[&str] = &[
    "jpg", "jpeg", "png", "gif", "webp", "svg", "bmp", "tiff", "ico", "apng", "psd", "pdf", "doc", "docx", "xls",
    "xlsx", "ppt", "pptx", "txt", "rtf", "csv", "mp4", "avi", "mov", "wmv", "flv", "webm", "mkv", "mp3", "wav", "ogg",
    "m4a", "flac", "html", "htm", "css", "js", "json", "xml", "ttf", "otf", "woff", "woff2", "zip",
];

pub const MAX_PATH_LEN: usize = 512;

/// A validated asset key: `path` is the folder (possibly empty), `name` the file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetKey {
    pub path: String,
    pub name: String,
}

impl AssetKey {
    /// The full key, `path/name` (or `name` at the root).
    pub fn key(&self) -> String {
        join(&self.path, &self.name)
    }
    /// The lowercase extension, without the dot.
    pub fn extension(&self) -> String {
        extension_of(&self.name)
    }
}

pub fn join(folder: &str, name: &str) -> String {
    if folder.is_empty() { name.to_owned() } else { format!("{folder}/{name}") }
}

pub fn extension_of(name: &str) -> String {
    match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() || !ext.is_empty() => ext.to_ascii_lowercase(),
        _ => String::new(),
    }
}

#[derive(Debug, Clone)]
pub struct Rules {
    /// Lowercase extensions, in the order error messages list them.
    pub allowed_extensions: Vec<String>,
}

impl Default for Rules {
    fn default() -> Self {
        Self { allowed_extensions: DEFAULT_EXTENSIONS.iter().map(|s| (*s).to_owned()).collect() }
    }
}

fn invalid(message: impl Into<String>) -> Error {
    Error::invalid(Code::PathInvalid, message)
}

/// The character rules and sequence rules shared by folders and keys.
fn check_text(s: &str) -> Result<()> {
    if s.contains('\0') {
        return Err(invalid("Path contains a null byte (\\u0000)."));
    }
    if s.chars().count() > MAX_PATH_LEN {
        return Err(invalid(format!("Path exceeds max length of {MAX_PATH_LEN} characters.")));
    }
    for c in s.chars() {
        let code = c as u32;
        if code < 0x20 {
            return Err(invalid(format!("Path contains a control character (U+{code:04X}).")));
        }
        if code == 0x7F || code == 0x85 || (0xA0..=0xFF).contains(&code) {
            return Err(invalid(format!("Path contains a disallowed character (U+{code:04X}).")));
        }
    }
    if s.starts_with('/') {
        return Err(invalid("Path must not start with \"/\" (absolute path)."));
    }
    if s.contains("..") {
        return Err(invalid("Path contains illegal sequence \"..\" (directory traversal)."));
    }
    if s.contains("./") {
        return Err(invalid("Path contains illegal sequence \"./\" (directory traversal)."));
    }
    if s.contains("//") {
        return Err(invalid("Path contains illegal sequence \"//\"."));
    }
    Ok(())
}

impl Rules {
    pub fn new(allowed_extensions: Vec<String>) -> Self {
        Self { allowed_extensions: allowed_extensions.into_iter().map(|e| e.to_ascii_lowercase()).collect() }
    }

    /// A folder path as a client names it: `abc/def`, with one trailing `/` tolerated
    /// (`test/uploads/`). The empty string is the root.
    pub fn folder(&self, raw: &str) -> Result<String> {
        check_text(raw)?;
        let trimmed = raw.strip_suffix('/').unwrap_or(raw);
        Ok(trimmed.to_owned())
    }

    /// A full asset key to write, `folder/name`: every path rule plus the extension rule.
    pub fn key(&self, raw: &str) -> Result<AssetKey> {
        let key = self.lookup_key(raw)?;
        self.check_extension(&key.extension())?;
        Ok(key)
    }

    /// A full asset key to look up (read, change, delete): every path rule, but not the
    /// extension rule, so that narrowing `allowed_extensions` never makes a stored asset
    /// unreachable. Only writes of new content are held to the list.
    pub fn lookup_key(&self, raw: &str) -> Result<AssetKey> {
        check_text(raw)?;
        if raw.is_empty() {
            return Err(invalid("File name is required."));
        }
        if raw.ends_with('/') {
            return Err(invalid("File name must not end with \"/\"."));
        }
        let (path, name) = raw.rsplit_once('/').unwrap_or(("", raw));
        Ok(AssetKey { path: path.to_owned(), name: name.to_owned() })
    }

    /// A key to write given as a folder and a file name (Jivox upload).
    pub fn key_in(&self, folder: &str, name: &str) -> Result<AssetKey> {
        let folder = self.folder(folder)?;
        self.key(&join(&folder, name))
    }

    /// A key to look up given as a folder and a file name (Jivox deleteFile).
    pub fn lookup_key_in(&self, folder: &str, name: &str) -> Result<AssetKey> {
        let folder = self.folder(folder)?;
        self.lookup_key(&join(&folder, name))
    }

    pub fn check_extension(&self, ext: &str) -> Result<()> {
        if self.allowed_extensions.iter().any(|a| a == ext) {
            return Ok(());
        }
        Err(Error::invalid(
            Code::ExtensionNotAllowed,
            format!("File extension '{ext}' is not allowed. Allowed: {}", self.allowed_extensions.join(", ")),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn msg(r: Result<AssetKey>) -> String {
        r.expect_err("must be rejected").message
    }

    #[test]
    fn each_rule_has_its_message() {
        let rules = Rules::default();
        let cases: &[(&str, &str)] = &[
            ("a\0b.png", "Path contains a null byte (\\u0000)."),
            ("a/\u{1}.png", "Path contains a control character (U+0001)."),
            ("a\u{1f}.png", "Path contains a control character (U+001F)."),
            ("a\n.png", "Path contains a control character (U+000A)."),
            ("a\u{7f}.png", "Path contains a disallowed character (U+007F)."),
            ("a\u{85}.png", "Path contains a disallowed character (U+0085)."),
            ("caf\u{e9}.png", "Path contains a disallowed character (U+00E9)."),
            ("\u{a0}.png", "Path contains a disallowed character (U+00A0)."),
            ("\u{ff}.png", "Path contains a disallowed character (U+00FF)."),
            ("../x.png", "Path contains illegal sequence \"..\" (directory traversal)."),
            ("a/../x.png", "Path contains illegal sequence \"..\" (directory traversal)."),
            ("a..b.png", "Path contains illegal sequence \"..\" (directory traversal)."),
            ("./x.png", "Path contains illegal sequence \"./\" (directory traversal)."),
            ("a/./x.png", "Path contains illegal sequence \"./\" (directory traversal)."),
            ("/x.png", "Path must not start with \"/\" (absolute path)."),
            ("a//x.png", "Path contains illegal sequence \"//\"."),
            ("a/x.png/", "File name must not end with \"/\"."),
            ("", "File name is required."),
        ];
        for (input, expected) in cases {
            assert_eq!(msg(rules.key(input)), *expected, "input {input:?}");
        }
        let long = format!("{}.png", "a".repeat(508));
        assert!(rules.key(&long).is_ok(), "exactly 512 characters is allowed");
        let too_long = format!("{}.png", "a".repeat(509));
        assert_eq!(msg(rules.key(&too_long)), "Path exceeds max length of 512 characters.");
        // Length counts characters, not bytes.
        let wide = format!("{}.png", "\u{4e00}".repeat(508));
        assert!(rules.key(&wide).is_ok());
    }

    #[test]
    fn extension_rule_lists_the_allowed_types() {
        let rules = Rules::default();
        let m = msg(rules.key("a/b/setup.exe"));
        assert!(m.starts_with("File extension 'exe' is not allowed. Allowed: jpg, jpeg, png, gif,"), "{m}");
        assert!(m.ends_with("woff, woff2, zip"), "{m}");
        assert_eq!(msg(rules.key("SETUP.EXE")).split('.').next(), Some("File extension 'exe' is not allowed"));
        assert!(msg(rules.key("README")).starts_with("File extension '' is not allowed."));
        assert!(rules.key("Photo.PNG").is_ok(), "extensions are case-insensitive");
        // Lookups of stored assets are not held to the list; the path rules still hold.
        assert_eq!(rules.lookup_key("a/b/setup.exe").unwrap().key(), "a/b/setup.exe");
        assert!(rules.lookup_key("../setup.exe").is_err());
        assert_eq!(rules.lookup_key_in("a/", "README").unwrap().key(), "a/README");
        let narrow = Rules::new(vec!["PNG".into()]);
        assert!(narrow.key("a.png").is_ok());
        assert_eq!(msg(narrow.key("a.jpg")), "File extension 'jpg' is not allowed. Allowed: png");
    }

    #[test]
    fn folders_tolerate_one_trailing_slash() {
        let rules = Rules::default();
        assert_eq!(rules.folder("test/uploads/").unwrap(), "test/uploads");
        assert_eq!(rules.folder("").unwrap(), "");
        assert!(rules.folder("a//").is_err());
        assert!(rules.folder("/").is_err());
        assert_eq!(rules.key_in("test/uploads/", "x.png").unwrap().key(), "test/uploads/x.png");
        assert_eq!(rules.key_in("", "x.png").unwrap(), AssetKey { path: String::new(), name: "x.png".into() });
    }

    proptest! {
        #[test]
        fn accepted_keys_stay_in_their_tree_and_round_trip(raw in "[a-z./_ \\-\u{100}-\u{17f}\u{4e00}-\u{4e10}]{0,40}\\.(png|jpg|txt)") {
            let rules = Rules::default();
            if let Ok(key) = rules.key(&raw) {
                // Round trip: the key splits and joins back to exactly what was sent.
                prop_assert_eq!(key.key(), raw.clone());
                // Containment: resolved against an account root, no segment climbs out of it.
                prop_assert!(!raw.starts_with('/'));
                for segment in raw.split('/') {
                    prop_assert!(!segment.is_empty());
                    prop_assert!(segment != "." && segment != "..");
                }
                let root = std::path::Path::new("/accounts/1");
                let joined = root.join(&raw);
                let mut depth: i32 = 0;
                for c in joined.strip_prefix(root).unwrap().components() {
                    match c {
                        std::path::Component::Normal(_) => depth += 1,
                        _ => prop_assert!(false, "component {:?} escapes", c),
                    }
                }
                prop_assert!(depth >= 1);
            }
        }

        #[test]
        fn arbitrary_input_never_panics_and_bad_sequences_are_refused(raw in "\\PC{0,600}") {
            let rules = Rules::default();
            if let Ok(key) = rules.key(&raw) {
                prop_assert!(!raw.contains("..") && !raw.contains("./") && !raw.contains("//"));
                prop_assert!(raw.chars().count() <= MAX_PATH_LEN);
                prop_assert_eq!(key.key(), raw);
            }
        }
    }
}
