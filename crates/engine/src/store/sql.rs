//! A small SQL builder that numbers parameters `$1, $2, …`, which both SQLite and
//! PostgreSQL accept (sqlx's own builder emits `?` for the `Any` driver).

use sqlx::any::AnyArguments;
use sqlx::{Any, Arguments, Encode, Type};

pub(crate) struct SqlBuilder<'a> {
    sql: String,
    args: AnyArguments<'a>,
    count: usize,
}

impl<'a> SqlBuilder<'a> {
    pub(crate) fn new(sql: &str) -> Self {
        SqlBuilder {
            sql: sql.to_owned(),
            args: AnyArguments::default(),
            count: 0,
        }
    }

    pub(crate) fn push(&mut self, sql: &str) -> &mut Self {
        self.sql.push_str(sql);
        self
    }

    pub(crate) fn push_bind<T>(&mut self, value: T) -> &mut Self
    where
        T: 'a + Encode<'a, Any> + Type<Any>,
    {
        self.count += 1;
        // Encoding into AnyArguments only fails for types Any cannot carry; the types
        // used here (i64, String, Option<String>) always encode.
        if self.args.add(value).is_err() {
            tracing::error!(
                message = "SQL argument could not be encoded.",
                index = self.count
            );
        }
        self.sql.push('$');
        self.sql.push_str(&self.count.to_string());
        self
    }

    pub(crate) fn build(self) -> (String, AnyArguments<'a>) {
        (self.sql, self.args)
    }
}
