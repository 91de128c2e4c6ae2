//! Loose YAML values as compose allows them: scalars written as a number, a boolean or a
//! string, and keys whose value only needs to be present. A leaf: the model, the canonical
//! form and the extension keys all read these.

use serde::Deserialize;
use serde::de::{self, Deserializer};
use serde_json::Value as Json;

/// Fields compose accepts that we only need to know are present.
pub type Any = Option<Json>;

/// A scalar that compose lets users write as a number, a boolean or a string
/// (interpolation always produces strings, so `replicas: ${N}` is text).
#[derive(Clone, Debug, PartialEq)]
pub struct Scalar(pub String);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Json::deserialize(deserializer)? {
            Json::String(s) => Ok(Scalar(s)),
            Json::Number(n) => Ok(Scalar(n.to_string())),
            Json::Bool(b) => Ok(Scalar(b.to_string())),
            other => Err(de::Error::custom(format!("expected a string or number, found {}", kind_of(&other)))),
        }
    }
}

impl Scalar {
    pub fn as_u32(&self) -> Result<u32, String> {
        u32::parse(&self.0)
    }

    pub fn as_bool(&self) -> Result<bool, String> {
        bool::parse(&self.0)
    }
}

/// `external: true` or `external: {name: ...}`: a definition that names something existing.
pub fn is_external(external: &Any) -> bool {
    external.as_ref().is_some_and(|e| e.as_bool() == Some(true) || e.is_object())
}

pub fn scalar_text(value: &Json) -> Option<String> {
    match value {
        Json::String(s) => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        Json::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

pub fn kind_of(value: &Json) -> &'static str {
    match value {
        Json::Null => "nothing",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "a list",
        Json::Object(_) => "a mapping",
    }
}

/// A value compose writes as text in a small language of its own (a duration, a byte size, a
/// number of CPUs), read once, when the document is loaded. A value that does not read keeps
/// its reason, which validation (`compose::fields`) reports at the value's path; the text is
/// kept for messages that quote what was written.
#[derive(Clone, Debug, PartialEq)]
pub struct Parsed<T> {
    text: String,
    value: Result<T, String>,
}

/// A type compose writes as text (see [`Parsed`]).
pub trait ComposeText: Sized + Clone {
    /// Whether compose also takes the value as a YAML number or boolean (`memory: 512`), as
    /// [`Scalar`] does, or only as a string (durations).
    const FROM_SCALAR: bool;
    /// What to write instead, shown with the reason a text does not read.
    const HINT: Option<&'static str> = None;
    fn parse(text: &str) -> Result<Self, String>;
}

impl<T: ComposeText> Parsed<T> {
    pub fn new(text: impl Into<String>) -> Self {
        let text = text.into();
        let value = T::parse(&text);
        Parsed { text, value }
    }

    /// The value, or why the text does not read as one (validation reports that, once).
    pub fn value(&self) -> Result<T, String> {
        self.value.clone()
    }

    /// The value, for the stages after validation: a text that does not read was reported
    /// there (`compose::fields`), so it is simply absent here.
    pub fn ok(&self) -> Option<T> {
        self.value.clone().ok()
    }

    /// The value by reference, for the stages after validation (see [`Parsed::ok`]).
    pub fn ok_ref(&self) -> Option<&T> {
        self.value.as_ref().ok()
    }

    /// Why the text does not read, if it does not.
    pub fn error(&self) -> Option<&str> {
        self.value.as_ref().err().map(String::as_str)
    }

    pub fn text(&self) -> &str {
        &self.text
    }
}

impl<'de, T: ComposeText> Deserialize<'de> for Parsed<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = if T::FROM_SCALAR { Scalar::deserialize(deserializer)?.0 } else { String::deserialize(deserializer)? };
        Ok(Parsed::new(text))
    }
}

/// A whole number, as a number or as text (interpolation makes text: `replicas: ${N}`).
impl ComposeText for u32 {
    const FROM_SCALAR: bool = true;
    fn parse(text: &str) -> Result<Self, String> {
        text.trim().parse().map_err(|_| format!("`{text}` is not a whole number"))
    }
}

/// A boolean, as YAML writes it or as text.
impl ComposeText for bool {
    const FROM_SCALAR: bool = true;
    fn parse(text: &str) -> Result<Self, String> {
        match text {
            "true" | "True" | "TRUE" => Ok(true),
            "false" | "False" | "FALSE" => Ok(false),
            other => Err(format!("`{other}` is not true or false")),
        }
    }
}
