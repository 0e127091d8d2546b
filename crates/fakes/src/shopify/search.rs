//! The `query:` argument's search syntax, as far as integrations use it:
//! `sku:A OR sku:B`, `updated_at:>='2026-11-24T10:00:00Z'`, `email:jan@example.com`,
//! terms joined by spaces (AND) or `OR`, `-` to negate, a trailing `*` for a prefix.

use super::store::parse_time;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Eq,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Debug)]
struct Term {
    key: String,
    op: Op,
    value: String,
    negated: bool,
}

/// A parsed query: any of the groups, each needing all its terms.
#[derive(Debug, Default)]
pub struct Search {
    groups: Vec<Vec<Term>>,
}

fn tokens(query: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    for c in query.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => current.push(c),
            (None, '\'' | '"') => quote = Some(c),
            (None, c) if c.is_whitespace() => {
                if !current.is_empty() {
                    out.push(std::mem::take(&mut current));
                }
            }
            (None, c) => current.push(c),
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

impl Search {
    pub fn parse(query: &str) -> Search {
        let mut groups = vec![Vec::new()];
        for token in tokens(query) {
            if token == "OR" {
                groups.push(Vec::new());
                continue;
            }
            if token == "AND" {
                continue;
            }
            let (negated, token) = match token.strip_prefix('-') {
                Some(rest) => (true, rest.to_owned()),
                None => (false, token),
            };
            let (key, rest) = token.split_once(':').unwrap_or(("", token.as_str()));
            let (op, value) = [(">=", Op::Ge), ("<=", Op::Le), (">", Op::Gt), ("<", Op::Lt)]
                .into_iter()
                .find_map(|(prefix, op)| rest.strip_prefix(prefix).map(|v| (op, v)))
                .unwrap_or((Op::Eq, rest));
            let value = value.trim_matches(|c| c == '\'' || c == '"').to_owned();
            if let Some(group) = groups.last_mut() {
                group.push(Term {
                    key: key.to_owned(),
                    op,
                    value,
                    negated,
                });
            }
        }
        groups.retain(|g| !g.is_empty());
        Search { groups }
    }

    /// Whether an object matches; `field` gives an object's values for a search key.
    pub fn matches(&self, field: impl Fn(&str) -> Vec<String>) -> bool {
        self.groups.is_empty()
            || self.groups.iter().any(|group| {
                group.iter().all(|term| {
                    let hit = field(&term.key).iter().any(|have| term.hit(have));
                    hit != term.negated
                })
            })
    }
}

impl Term {
    fn hit(&self, have: &str) -> bool {
        let ordering = match (parse_time(have), parse_time(&self.value)) {
            (Some(a), Some(b)) => a.cmp(&b),
            _ => match (have.parse::<f64>(), self.value.parse::<f64>()) {
                (Ok(a), Ok(b)) => a.total_cmp(&b),
                _ if self.op == Op::Eq => {
                    let have = have.to_lowercase();
                    let want = self.value.to_lowercase();
                    return match want.strip_suffix('*') {
                        Some(prefix) => have.starts_with(prefix),
                        None if self.key.is_empty() => have.contains(&want),
                        None => have == want,
                    };
                }
                _ => have.cmp(self.value.as_str()),
            },
        };
        match self.op {
            Op::Eq => ordering.is_eq(),
            Op::Gt => ordering.is_gt(),
            Op::Ge => ordering.is_ge(),
            Op::Lt => ordering.is_lt(),
            Op::Le => ordering.is_le(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn or_groups_dates_and_prefixes() {
        let search = Search::parse("sku:A-1 OR sku:'B 2'");
        assert!(search.matches(|_| vec!["b 2".into()]));
        assert!(!search.matches(|_| vec!["C".into()]));
        let since = Search::parse("updated_at:>='2026-11-24T10:00:00Z'");
        assert!(since.matches(|_| vec!["2026-11-24T10:00:00Z".into()]));
        assert!(!since.matches(|_| vec!["2026-11-24T09:59:59Z".into()]));
        assert!(Search::parse("email:jan*").matches(|_| vec!["jan@example.com".into()]));
        assert!(Search::parse("").matches(|_| Vec::new()));
    }
}
