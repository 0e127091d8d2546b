//! Text in several languages, keyed by a BCP 47 tag such as `pl` or `en-GB`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Names and descriptions per language. Sorted keys keep content hashes stable.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LocalizedText(pub BTreeMap<String, String>);

impl LocalizedText {
    pub fn new(lang: &str, text: impl Into<String>) -> Self {
        let mut map = BTreeMap::new();
        map.insert(lang.to_owned(), text.into());
        LocalizedText(map)
    }

    pub fn with(mut self, lang: &str, text: impl Into<String>) -> Self {
        self.0.insert(lang.to_owned(), text.into());
        self
    }

    /// The text in `lang`, else in its base language (`en` for `en-GB`), else any.
    pub fn get(&self, lang: &str) -> Option<&str> {
        let base = lang.split('-').next().unwrap_or(lang);
        self.0
            .get(lang)
            .or_else(|| self.0.get(base))
            .or_else(|| self.0.values().next())
            .map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.0.values().all(|t| t.trim().is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn falls_back_to_base_language_then_any() {
        let t = LocalizedText::new("pl", "Buty").with("en", "Shoes");
        assert_eq!(t.get("en-GB"), Some("Shoes"));
        assert_eq!(t.get("pl"), Some("Buty"));
        assert_eq!(t.get("de"), Some("Shoes"));
    }
}
