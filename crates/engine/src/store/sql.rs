//! What a store operation talks to: one connection of either backend, inside a
//! transaction when the operation writes. Operations are plain synchronous functions
//! over `&mut dyn Sql`, written once for SQLite and PostgreSQL alike; statements number
//! their parameters `$1, $2, …`, which both accept.

use super::Backend;
use super::value::{FromSql, Row, ToSql, Value};
use crate::error::StoreError;

/// Runs statements on one connection.
pub(crate) trait Sql {
    fn backend(&self) -> Backend;

    /// Runs a statement (any rows it returns are read and dropped); returns how many
    /// rows it changed.
    fn execute(&mut self, sql: &str, params: &[&dyn ToSql]) -> Result<u64, StoreError>;

    /// Runs a statement and returns its rows.
    fn query(&mut self, sql: &str, params: &[&dyn ToSql]) -> Result<Vec<Row>, StoreError>;
}

impl dyn Sql + '_ {
    /// The first row, if any.
    pub(crate) fn query_opt(
        &mut self,
        sql: &str,
        params: &[&dyn ToSql],
    ) -> Result<Option<Row>, StoreError> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    /// The first column of the first row, if there is a row.
    pub(crate) fn scalar<T: FromSql>(
        &mut self,
        sql: &str,
        params: &[&dyn ToSql],
    ) -> Result<Option<T>, StoreError> {
        self.query_opt(sql, params)?
            .map(|row| row.get_at(0))
            .transpose()
    }

    /// The first column of every row.
    pub(crate) fn scalars<T: FromSql>(
        &mut self,
        sql: &str,
        params: &[&dyn ToSql],
    ) -> Result<Vec<T>, StoreError> {
        self.query(sql, params)?
            .iter()
            .map(|row| row.get_at(0))
            .collect()
    }

    /// Runs a statement made by [`SqlBuilder`]; returns how many rows it changed.
    pub(crate) fn execute_built(&mut self, built: &Built) -> Result<u64, StoreError> {
        let params: Vec<&dyn ToSql> = built.params.iter().map(|v| v as &dyn ToSql).collect();
        self.execute(&built.sql, &params)
    }

    /// Runs a statement made by [`SqlBuilder`].
    pub(crate) fn query_built(&mut self, built: &Built) -> Result<Vec<Row>, StoreError> {
        let params: Vec<&dyn ToSql> = built.params.iter().map(|v| v as &dyn ToSql).collect();
        self.query(&built.sql, &params)
    }
}

/// Parameters for a statement: `params![tenant, kind, to_micros(now)]`.
macro_rules! params {
    () => {
        &[] as &[&dyn $crate::store::value::ToSql]
    };
    ($($value:expr),+ $(,)?) => {
        &[$(&$value as &dyn $crate::store::value::ToSql),+] as &[&dyn $crate::store::value::ToSql]
    };
}
pub(crate) use params;

/// A statement put together from parts (optional filters), numbering its parameters.
pub(crate) struct SqlBuilder {
    sql: String,
    params: Vec<Value>,
}

/// A statement [`SqlBuilder`] made.
pub(crate) struct Built {
    pub(crate) sql: String,
    pub(crate) params: Vec<Value>,
}

impl SqlBuilder {
    pub(crate) fn new(sql: &str) -> Self {
        SqlBuilder {
            sql: sql.to_owned(),
            params: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, sql: &str) -> &mut Self {
        self.sql.push_str(sql);
        self
    }

    pub(crate) fn push_bind(&mut self, value: impl ToSql) -> &mut Self {
        self.params.push(value.to_sql().to_owned_value());
        self.sql.push('$');
        self.sql.push_str(&self.params.len().to_string());
        self
    }

    pub(crate) fn build(self) -> Built {
        Built {
            sql: self.sql,
            params: self.params,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_numbered_in_order() {
        let mut q = SqlBuilder::new("SELECT id FROM jobs WHERE tenant = ");
        q.push_bind("acme").push(" AND id < ").push_bind(5_i64);
        let built = q.build();
        assert_eq!(
            built.sql,
            "SELECT id FROM jobs WHERE tenant = $1 AND id < $2"
        );
        assert_eq!(
            built.params,
            vec![Value::Text("acme".into()), Value::Int(5)]
        );
    }
}
