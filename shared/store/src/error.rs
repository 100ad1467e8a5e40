/// What can go wrong in the store, in words an operator can act on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the database: {0}")]
    Connect(String),
    #[error("no database connection: {0}")]
    Pool(String),
    #[error("database: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("migration failed: {0}")]
    Migration(String),
    #[error("database task failed: {0}")]
    Task(String),
}

impl StoreError {
    pub(crate) fn pool(e: impl std::fmt::Display) -> StoreError {
        StoreError::Pool(e.to_string())
    }
}
