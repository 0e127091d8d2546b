//! Notes for people — a customer, the shop's staff — written by the merchant, in their
//! language, in the flow's configuration. Connectors only carry them.
//!
//! A template's `{name}` takes a value of the record (`{tracking}`, `{carrier}`, …). A
//! part in `[…]` is left out when a value in it is missing. A template with a missing
//! value outside `[…]` is passed over and the next one is tried; when none is complete,
//! there is no note.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Value(String),
    /// Left out when one of its values is missing.
    Optional(Vec<Part>),
}

/// One note template, checked when it is read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct NoteTemplate {
    text: String,
    parts: Vec<Part>,
}

impl From<NoteTemplate> for String {
    fn from(template: NoteTemplate) -> String {
        template.text
    }
}

impl TryFrom<String> for NoteTemplate {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut optional: Option<Vec<Part>> = None;
        let mut rest = text.as_str();
        while let Some(at) = rest.find(['{', '[', ']']) {
            let (before, from) = rest.split_at(at);
            let target = optional.as_mut().unwrap_or(&mut parts);
            if !before.is_empty() {
                target.push(Part::Text(before.to_owned()));
            }
            match from.as_bytes()[0] {
                b'{' => {
                    let end = from
                        .find('}')
                        .ok_or_else(|| format!("`{text}`: a `{{` is not closed"))?;
                    let name = &from[1..end];
                    if name.is_empty() || !name.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                    {
                        return Err(format!("`{text}`: `{{{name}}}` is not a value's name"));
                    }
                    target.push(Part::Value(name.to_owned()));
                    rest = &from[end + 1..];
                }
                b'[' if optional.is_none() => {
                    optional = Some(Vec::new());
                    rest = &from[1..];
                }
                b'[' => return Err(format!("`{text}`: `[…]` cannot be nested")),
                _ => {
                    let inner = optional
                        .take()
                        .ok_or_else(|| format!("`{text}`: a `]` without its `[`"))?;
                    parts.push(Part::Optional(inner));
                    rest = &from[1..];
                }
            }
        }
        if optional.is_some() {
            return Err(format!("`{text}`: a `[` is not closed"));
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        Ok(NoteTemplate { text, parts })
    }
}

impl NoteTemplate {
    /// The template from its text, for defaults written in code.
    pub fn new(text: &str) -> Result<Self, String> {
        NoteTemplate::try_from(text.to_owned())
    }

    /// The names of the values it uses, for checking them against those a flow has.
    pub fn names(&self) -> Vec<&str> {
        fn walk<'a>(parts: &'a [Part], names: &mut Vec<&'a str>) {
            for part in parts {
                match part {
                    Part::Text(_) => {}
                    Part::Value(name) => names.push(name),
                    Part::Optional(inner) => walk(inner, names),
                }
            }
        }
        let mut names = Vec::new();
        walk(&self.parts, &mut names);
        names
    }

    /// The note with these values, or `None` if a value outside `[…]` is missing.
    fn render(&self, value: &dyn Fn(&str) -> Option<String>) -> Option<String> {
        fn fill(parts: &[Part], value: &dyn Fn(&str) -> Option<String>) -> Option<String> {
            let mut text = String::new();
            for part in parts {
                match part {
                    Part::Text(t) => text.push_str(t),
                    Part::Value(name) => text.push_str(&value(name)?),
                    Part::Optional(inner) => text.push_str(&fill(inner, value).unwrap_or_default()),
                }
            }
            Some(text)
        }
        fill(&self.parts, value)
    }
}

/// The first complete note of `templates`, if any is.
pub fn note(templates: &[NoteTemplate], value: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    templates.iter().find_map(|t| t.render(value))
}

/// A problem for each value `templates` name that is not among `known`.
pub fn unknown_names(templates: &[NoteTemplate], known: &[&str]) -> Vec<String> {
    templates
        .iter()
        .flat_map(|t| t.names())
        .filter(|n| !known.contains(n))
        .map(|n| {
            format!(
                "`{{{n}}}` is not one of the values a note can use: {}",
                known.join(", ")
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn optional_parts_go_when_their_value_is_missing_and_incomplete_templates_are_passed_over() {
        let templates = [
            NoteTemplate::new("Wysłano[ przez {carrier}], numer przesyłki {tracking}.")
                .expect("parses"),
            NoteTemplate::new("Wysłano ({reference}).").expect("parses"),
        ];
        let both = [
            ("carrier", "InPost"),
            ("tracking", "123"),
            ("reference", "WZ/1"),
        ];
        assert_eq!(
            note(&templates, &values(&both)).as_deref(),
            Some("Wysłano przez InPost, numer przesyłki 123.")
        );
        let no_carrier = [("tracking", "123"), ("reference", "WZ/1")];
        assert_eq!(
            note(&templates, &values(&no_carrier)).as_deref(),
            Some("Wysłano, numer przesyłki 123.")
        );
        let untracked = [("reference", "WZ/1")];
        assert_eq!(
            note(&templates, &values(&untracked)).as_deref(),
            Some("Wysłano (WZ/1).")
        );
        assert_eq!(note(&templates[..1], &values(&untracked)), None);
        assert_eq!(note(&[], &values(&both)), None, "no templates, no note");
    }

    #[test]
    fn malformed_templates_and_unknown_values_are_refused_by_name() {
        for bad in [
            "Shipped {tracking",
            "Shipped [with {carrier}",
            "a ] b",
            "[[x]]",
            "{Bad}",
            "{}",
        ] {
            assert!(NoteTemplate::new(bad).is_err(), "{bad}");
        }
        let template = NoteTemplate::new("Shipped {trackin}").expect("parses");
        let problems = unknown_names(&[template], &["carrier", "tracking"]);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].contains("`{trackin}`"), "{problems:?}");
        let parsed: Vec<NoteTemplate> =
            serde_json::from_str(r#"["Shipped[ with {carrier}]"]"#).expect("reads");
        assert_eq!(
            serde_json::to_string(&parsed).expect("writes"),
            r#"["Shipped[ with {carrier}]"]"#
        );
    }
}
