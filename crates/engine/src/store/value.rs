//! Values bound to statements and read from rows, the same for both backends. The
//! store's columns are integers (ids, counts, microseconds since the epoch) and text
//! (names, JSON); a NULL keeps the type it stands for, which PostgreSQL needs.

use std::sync::Arc;

use crate::error::StoreError;

/// The type of a NULL parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Int,
    Text,
}

/// A parameter, borrowed from the caller.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum SqlValue<'a> {
    Null(Kind),
    Int(i64),
    Text(&'a str),
}

/// A value owned by a row or a built statement.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Null(Kind),
    Int(i64),
    Text(String),
}

impl Value {
    pub(crate) fn as_sql(&self) -> SqlValue<'_> {
        match self {
            Value::Null(kind) => SqlValue::Null(*kind),
            Value::Int(i) => SqlValue::Int(*i),
            Value::Text(s) => SqlValue::Text(s),
        }
    }

    fn describe(&self) -> &'static str {
        match self {
            Value::Null(_) => "NULL",
            Value::Int(_) => "an integer",
            Value::Text(_) => "text",
        }
    }
}

/// Something that can be bound as a statement parameter.
pub(crate) trait ToSql {
    fn to_sql(&self) -> SqlValue<'_>;
}

/// The type a `None` of this stands for.
pub(crate) trait NullKind {
    const KIND: Kind;
}

impl ToSql for i64 {
    fn to_sql(&self) -> SqlValue<'_> {
        SqlValue::Int(*self)
    }
}

impl ToSql for i32 {
    fn to_sql(&self) -> SqlValue<'_> {
        SqlValue::Int(i64::from(*self))
    }
}

impl ToSql for u32 {
    fn to_sql(&self) -> SqlValue<'_> {
        SqlValue::Int(i64::from(*self))
    }
}

impl ToSql for bool {
    fn to_sql(&self) -> SqlValue<'_> {
        SqlValue::Int(i64::from(*self))
    }
}

impl ToSql for str {
    fn to_sql(&self) -> SqlValue<'_> {
        SqlValue::Text(self)
    }
}

impl ToSql for String {
    fn to_sql(&self) -> SqlValue<'_> {
        SqlValue::Text(self)
    }
}

impl ToSql for Value {
    fn to_sql(&self) -> SqlValue<'_> {
        self.as_sql()
    }
}

impl<T: ToSql + ?Sized> ToSql for &T {
    fn to_sql(&self) -> SqlValue<'_> {
        (**self).to_sql()
    }
}

impl<T: ToSql + NullKind> ToSql for Option<T> {
    fn to_sql(&self) -> SqlValue<'_> {
        match self {
            Some(value) => value.to_sql(),
            None => SqlValue::Null(T::KIND),
        }
    }
}

impl NullKind for i64 {
    const KIND: Kind = Kind::Int;
}
impl NullKind for i32 {
    const KIND: Kind = Kind::Int;
}
impl NullKind for u32 {
    const KIND: Kind = Kind::Int;
}
impl NullKind for String {
    const KIND: Kind = Kind::Text;
}
impl NullKind for &str {
    const KIND: Kind = Kind::Text;
}
impl NullKind for &String {
    const KIND: Kind = Kind::Text;
}

impl SqlValue<'_> {
    pub(crate) fn to_owned_value(self) -> Value {
        match self {
            SqlValue::Null(kind) => Value::Null(kind),
            SqlValue::Int(i) => Value::Int(i),
            SqlValue::Text(s) => Value::Text(s.to_owned()),
        }
    }
}

/// Something a column can be read as.
pub(crate) trait FromSql: Sized {
    const EXPECTED: &'static str;
    fn from_sql(value: &Value) -> Option<Self>;
}

impl FromSql for i64 {
    const EXPECTED: &'static str = "an integer";
    fn from_sql(value: &Value) -> Option<Self> {
        match value {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }
}

impl FromSql for String {
    const EXPECTED: &'static str = "text";
    fn from_sql(value: &Value) -> Option<Self> {
        match value {
            Value::Text(s) => Some(s.clone()),
            _ => None,
        }
    }
}

impl FromSql for bool {
    const EXPECTED: &'static str = "a boolean";
    fn from_sql(value: &Value) -> Option<Self> {
        match value {
            Value::Int(i) => Some(*i != 0),
            _ => None,
        }
    }
}

impl<T: FromSql> FromSql for Option<T> {
    const EXPECTED: &'static str = T::EXPECTED;
    fn from_sql(value: &Value) -> Option<Self> {
        match value {
            Value::Null(_) => Some(None),
            other => T::from_sql(other).map(Some),
        }
    }
}

/// One row of a result, its values owned.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    columns: Arc<[Box<str>]>,
    values: Vec<Value>,
}

impl Row {
    pub(crate) fn new(columns: Arc<[Box<str>]>, values: Vec<Value>) -> Row {
        Row { columns, values }
    }

    /// The value of column `name`, as `T`.
    pub(crate) fn get<T: FromSql>(&self, name: &str) -> Result<T, StoreError> {
        let index = self
            .columns
            .iter()
            .position(|c| c.as_ref() == name)
            .ok_or_else(|| StoreError::Decode {
                column: name.to_owned(),
                problem: "no such column in the result".to_owned(),
            })?;
        self.get_at(index)
    }

    /// The value of the `index`th column (from 0), as `T`.
    pub(crate) fn get_at<T: FromSql>(&self, index: usize) -> Result<T, StoreError> {
        let column = || {
            self.columns
                .get(index)
                .map_or_else(|| format!("#{index}"), |c| c.to_string())
        };
        let value = self.values.get(index).ok_or_else(|| StoreError::Decode {
            column: column(),
            problem: "no such column in the result".to_owned(),
        })?;
        T::from_sql(value).ok_or_else(|| StoreError::Decode {
            column: column(),
            problem: format!("expected {}, found {}", T::EXPECTED, value.describe()),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_column_of_the_wrong_type_names_the_column() {
        let row = Row::new(
            Arc::from(vec!["id".into(), "name".into()]),
            vec![Value::Int(7), Value::Null(Kind::Text)],
        );
        assert_eq!(row.get::<i64>("id").unwrap(), 7);
        assert_eq!(row.get::<Option<String>>("name").unwrap(), None);
        let wrong = row.get::<String>("id").unwrap_err().to_string();
        assert!(
            wrong.contains("`id`") && wrong.contains("expected text"),
            "{wrong}"
        );
        assert!(row.get::<i64>("missing").is_err());
    }

    #[test]
    fn a_none_keeps_the_type_it_stands_for() {
        assert_eq!(None::<i64>.to_sql(), SqlValue::Null(Kind::Int));
        assert_eq!(None::<String>.to_sql(), SqlValue::Null(Kind::Text));
        assert_eq!(Some("x").to_sql(), SqlValue::Text("x"));
    }
}
